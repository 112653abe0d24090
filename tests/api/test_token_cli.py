"""`vhctl token` as a real subprocess against a real file keyring (keyrings.alt in tmp)."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

from vhctl_hub import secrets as vault


def run(*args: str, stdout=subprocess.PIPE, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vhctl", "token", *args], stdout=stdout,
                          stderr=subprocess.PIPE, text=True, env=env, timeout=60)


def test_new_token_is_not_printed_when_stdout_is_not_a_terminal(keyring_dir):
    done = run()
    assert done.returncode == 0 and done.stdout == ""
    assert "Created an API token" in done.stderr
    assert "not shown because stdout is not a terminal" in done.stderr
    token = vault.read_token()
    assert token and len(token) >= 40 and token not in done.stderr


def test_print_shows_a_new_token_once_alone_on_stdout(keyring_dir):
    created = run("--print")
    token = created.stdout.strip()
    assert created.stdout == token + "\n" and vault.read_token() == token
    again = run("--print")
    assert again.returncode == 0 and again.stdout == "" and token not in again.stderr
    assert "already set" in again.stderr and "--rotate replaces it" in again.stderr


def test_rotate_replaces_the_token(keyring_dir):
    first = run("--print").stdout.strip()
    second = run("--rotate", "--print").stdout.strip()
    assert first != second and vault.read_token() == second


def test_a_terminal_gets_the_new_token(keyring_dir):
    controller, terminal = pty.openpty()
    try:
        done = run(stdout=terminal)
        os.close(terminal)
        terminal = -1
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 1024)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        if terminal >= 0:
            os.close(terminal)
        os.close(controller)
    assert done.returncode == 0 and shown.decode().strip() == vault.read_token()


def test_json_and_show_path(keyring_dir):
    located = json.loads(run("--show-path", "--json").stdout)
    assert located == {"backend": "keyrings.alt.file.PlaintextKeyring",
                       "path": str(keyring_dir / "python_keyring" / "keyring_pass.cfg"),
                       "service": "vhctl", "username": "api-token", "token_set": False}
    assert "no API token is set yet" in run("--show-path").stderr
    created = json.loads(run("--json", "--print").stdout)
    assert created["status"] == "created" and created["token"] == vault.read_token() and created["shown"]
    hidden = json.loads(run("--rotate", "--json").stdout)
    assert hidden["status"] == "rotated" and "token" not in hidden and not hidden["shown"]
    assert run("--show-path").stdout.strip() == located["path"]
    assert oct(Path(located["path"]).stat().st_mode & 0o777) == "0o600"


def test_no_keyring_is_one_line_and_exit_1(keyring_dir):
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    done = run(env=env)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip().count("\n") == 0
    assert done.stderr.startswith("vhctl: error: cannot use the keyring: no keyring backend is available")


def test_help_documents_the_options_with_examples():
    text = subprocess.run([sys.executable, "-m", "vhctl", "token", "--help"], capture_output=True, text=True,
                          check=True).stdout
    assert "Examples:" in text and "vhctl token --rotate" in text
    for option in ("--rotate", "--show-path", "--print", "--json"):
        assert option in text
