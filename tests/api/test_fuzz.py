"""Fuzzing the running API with schemathesis against its own OpenAPI schema, with and without the
token, over a simulated hub (both plugin modes) whose users have hostile nicks and texts.

Every check schemathesis has (server errors, schema conformance, status codes, headers, ...) plus
ours: no ip, host or e-mail value in any answer to a request without the token."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from testkit.api import get
from testkit.runtime import wait_until

from vhctl_hub import secrets as vault

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
HOSTILE = ("[BOT]x", "a&b", "x" * 64, "ümlaut☃", "%2e%2e")


@pytest.mark.parametrize("with_token", [False, True], ids=["anonymous", "token"])
def test_schemathesis_finds_no_server_error_no_schema_violation_no_private_value(make_api_hub, mode,
                                                                                   with_token, tmp_path):
    api = make_api_hub(mode, load=False)
    for n, nick in enumerate(HOSTILE):
        api.hub.login(nick, share=n * 10 ** 9, email=f"user{n}@lab.invalid", ip=f"10.0.0.{n + 2}",
                      desc="line &#124;&#36;To: x From: y &#36;<x> hi")
    api.load()
    url = api.url()
    wait_until(lambda: get(url + "/api/stats").json()["complete"], hub=api.hub)
    command = [str(SCHEMATHESIS), "run", url + "/openapi.json", "--checks", "all", "--max-examples", "15",
               "--seed", "1", "--request-timeout", "10", "--no-color"]
    if with_token:
        token = vault.new_token()
        vault.store_token(token)
        wait_until(lambda: get(url + "/api/auth", token).status_code == 200, hub=api.hub)
        command += ["-H", f"Authorization: Bearer {token}"]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "fuzz_checks", "PYTHONPATH": str(Path(__file__).parent),
           "HOME": str(tmp_path)}
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    counts = re.search(r"(\d+) generated, (\d+) passed\s*$", done.stdout, re.M)
    assert counts and counts[1] == counts[2] and int(counts[1]) > 100, done.stdout[-3000:]
