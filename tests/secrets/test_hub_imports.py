"""Inside the hub, reading the tokens imports nothing but the hub venv's packages and the standard
library, in both plugin build modes, even with Debian's dist-packages on ``sys.path`` as in a real hub
(A19): the backend named in the record is instantiated directly, keyring's discovery never runs.
Each case is a fresh process running the simulated hub, so ``sys.modules`` holds only what the hub
and the script imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from hashlib import sha256
from pathlib import Path

import pytest
from testkit.cli import REPO
from testkit.keyring import headless_env

from vhctl_hub import secrets as vault

DIST_PACKAGES = "/usr/lib/python3/dist-packages"
FORBIDDEN_TOPS = {"gi", "dbus", "_dbus_bindings", "_dbus_glib_bindings", "secretstorage", "jeepney"}

LAUNCHER = r'''
import json, sys
from pathlib import Path
sys.path.append(sys.argv[3])  # the hub's sys.path ends with Debian's dist-packages
from vhctl.sim.hub import Hub

base = Path(sys.argv[2])
hub = Hub(base / "hub", mode=sys.argv[1], echo_stderr=False, timer_period=3600.0).start()
hub.dns_delay = 0.0
reply = hub.pyload(base / "probe_keyring.py")
hub.shutdown(0)
hub.plugin.violations.assert_clean()
print(json.dumps({"reply": reply, "errors": [str(e) for e in hub.errors]}))
'''

API_LAUNCHER = r'''
import json, os, sys, threading
from pathlib import Path
sys.path.append(sys.argv[3])  # the hub's sys.path ends with Debian's dist-packages
sys.path.insert(0, sys.argv[4])
from testkit.api import ApiHub, wait_until
from vhctl.sim.hub import Hub

base = Path(sys.argv[2])
hub = Hub(base / "hub", mode="single", echo_stderr=False, timer_period=3600.0).start()
hub.dns_delay = 0.0
api = ApiHub(hub, base / "api", {})
api.load()
wait_until(lambda: api.component().keeper.state == "set", 30, hub)
found = {"modules": {name: getattr(module, "__file__", None) for name, module in list(sys.modules.items())},
         "threads": [thread.name for thread in threading.enumerate()]}
api.command("!api stop", wait_for="stopped")
hub.shutdown(0)
hub.plugin.violations.assert_clean()
with open(os.environ["PROBE_OUT"], "w") as handle:
    json.dump(found, handle)
print(json.dumps({"errors": [str(e) for e in hub.errors]}))
'''

PROBE_READS = r'''
import hashlib
from vhctl_hub import secrets
from vhctl_hub.api.auth import TokenKeeper

keeper = TokenKeeper(lambda line: None)
keeper.refresh()
digest = lambda name: hashlib.sha256(secrets.read_secret(name).encode()).hexdigest()  # never the token itself
found = {"api": digest("api"), "matterbridge": digest("matterbridge"), "state": keeper.state, "stamp": secrets.stamp()}
'''

PROBE_DISCOVERS = r'''
import keyring
found = {"backend": type(keyring.get_keyring()).__name__}
'''

PROBE_REPORT = r'''
found["modules"] = {name: getattr(module, "__file__", None) for name, module in list(sys.modules.items())}
found["threads"] = [thread.name for thread in threading.enumerate()]
with open(os.environ["PROBE_OUT"], "w") as handle:
    json.dump(found, handle)
'''


def allowed_roots(scripts: Path) -> list[str]:
    """The standard library, this venv's site-packages, the checkout (vhctl_hub, the simulator) and
    the probe script's folder."""
    paths = sysconfig.get_paths()
    return [os.path.realpath(paths[key]) for key in ("stdlib", "platstdlib", "purelib", "platlib")] + [
        str(REPO), os.path.realpath(scripts)]


def outsiders(modules: dict, scripts: Path) -> dict:
    """Modules that come from outside the hub venv and the standard library."""
    roots = allowed_roots(scripts)
    bad = {}
    for name, file in modules.items():
        real = os.path.realpath(file) if file else ""
        if name.partition(".")[0] in FORBIDDEN_TOPS or (real and not any(real.startswith(r + os.sep) for r in roots)):
            bad[name] = file
    return bad


def run_probe(tmp_path: Path, mode: str, body: str, launcher: str = LAUNCHER) -> dict:
    (tmp_path / "probe_keyring.py").write_text("import json, os, sys, threading\n" + body + PROBE_REPORT)
    out = tmp_path / "found.json"
    env = {**headless_env(tmp_path), "PROBE_OUT": str(out), vault.RECORD_ENV: str(tmp_path / "keyring" / vault.RECORD)}
    done = subprocess.run([sys.executable, "-c", launcher, mode, str(tmp_path), DIST_PACKAGES,
                           str(REPO / "tests")], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1])["errors"] == []
    return json.loads(out.read_text())


@pytest.fixture
def keyring_with_tokens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """A temporary file keyring holding both tokens (written by this process, read by the hub's)."""
    monkeypatch.setenv(vault.RECORD_ENV, "")  # restored afterwards: use_temporary_keyring sets it
    vault.use_temporary_keyring(tmp_path / "keyring")
    tokens = {"api": vault.new_token(), "matterbridge": vault.new_token()}
    for name, value in tokens.items():
        vault.store_secret(name, value)
    return tokens


def test_A19_reading_both_tokens_in_the_hub_imports_only_the_venv_and_stdlib(tmp_path, mode, keyring_with_tokens):
    found = run_probe(tmp_path, mode, PROBE_READS)
    assert found["api"] == sha256(keyring_with_tokens["api"].encode()).hexdigest()
    assert found["matterbridge"] == sha256(keyring_with_tokens["matterbridge"].encode()).hexdigest()
    assert found["state"] == "set" and found["stamp"]
    assert "keyrings.alt.file" in found["modules"], "the probe did not use the file keyring"
    assert "keyring.backends.SecretService" not in found["modules"]
    assert outsiders(found["modules"], tmp_path) == {}
    assert "gmain" not in found["threads"]


def test_A19_the_running_api_with_its_token_imports_only_the_venv_and_stdlib(tmp_path, keyring_with_tokens):
    """Single mode shares one interpreter, so the process's modules are everything the API imported."""
    found = run_probe(tmp_path, "single", "found = {}\n", launcher=API_LAUNCHER)
    assert {"fastapi", "uvicorn", "keyrings.alt.file"} <= set(found["modules"])
    assert outsiders(found["modules"], tmp_path) == {}
    assert "gmain" not in found["threads"]


def test_A19_keyring_discovery_would_import_the_system_packages(tmp_path, keyring_with_tokens):
    """The control: the same hub and path, with discovery, do load dist-packages' gi and dbus."""
    if not (Path(DIST_PACKAGES) / "gi").is_dir():
        pytest.skip("python3-gi is not installed: discovery has nothing to import here")
    found = run_probe(tmp_path, "single", PROBE_DISCOVERS)
    assert {"gi", "dbus"} & set(outsiders(found["modules"], tmp_path))
