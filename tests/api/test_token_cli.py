"""`vhctl token` as a real subprocess against a real file keyring (keyrings.alt in tmp)."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from vhctl_hub import secrets as vault


def run(*args: str, stdout=subprocess.PIPE, env=None, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vhctl", "token", *args], stdout=stdout, input=stdin,
                          stderr=subprocess.PIPE, text=True, env=env, timeout=60)


def test_a_new_token_is_printed_once_on_stdout_also_when_it_is_not_a_terminal(keyring_dir):
    done = run("generate")
    token = done.stdout.strip()
    assert done.returncode == 0 and done.stdout == token + "\n" and vault.read_token() == token
    assert len(token) >= 40 and token not in done.stderr
    assert "printed once" in done.stderr and "not shown again" in done.stderr
    again = run("generate")
    assert again.returncode == 0 and again.stdout == "" and token not in again.stderr
    assert "already set" in again.stderr and "vhctl token rotate api" in again.stderr


def test_rotate_replaces_the_token(keyring_dir):
    first = run("generate").stdout.strip()
    second = run("rotate").stdout.strip()
    assert first != second and vault.read_token() == second


def test_show_is_masked_unless_reveal(keyring_dir):
    assert "No API token is set" in run("show").stderr
    token = run("generate").stdout.strip()
    shown = run("show")
    assert shown.returncode == 0 and token not in shown.stdout + shown.stderr
    assert shown.stdout.strip() == vault.mask(token) and token[-4:] in shown.stdout
    assert run("show", "--reveal").stdout.strip() == token
    data = json.loads(run("show", "--json").stdout)
    assert data["token_set"] and "token" not in data and data["masked"] == vault.mask(token)
    assert json.loads(run("show", "api", "--reveal", "--json").stdout)["token"] == token


def test_the_two_tokens_are_separate(keyring_dir):
    api = run("generate").stdout.strip()
    bridge = run("generate", "matterbridge").stdout.strip()
    assert api != bridge and vault.read_secret("api") == api and vault.read_secret("matterbridge") == bridge
    assert run("delete", "matterbridge").returncode == 0
    assert vault.read_secret("matterbridge") is None and vault.read_secret("api") == api
    absent = run("delete", "matterbridge")
    assert absent.returncode == 0 and "nothing changed" in absent.stderr


def test_set_reads_stdin_and_never_echoes(keyring_dir):
    done = run("set", "matterbridge", stdin="from-matterbridge-toml-123\n")
    assert done.returncode == 0 and done.stdout == "" and "from-matterbridge" not in done.stderr
    assert vault.read_secret("matterbridge") == "from-matterbridge-toml-123"


@pytest.mark.parametrize("value", ["", "has space", "x" * 513])
def test_set_refuses_a_bad_value_in_one_line(keyring_dir, value):
    done = run("set", stdin=value + "\n")
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "nothing was stored" in done.stderr
    assert vault.read_token() is None


def test_a_terminal_gets_the_new_token(keyring_dir):
    controller, terminal = pty.openpty()
    try:
        done = run("generate", stdout=terminal)
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


def test_json_names_where_the_token_is_and_the_file_is_0600(keyring_dir):
    created = json.loads(run("generate", "--json").stdout)
    path = str(keyring_dir / "python_keyring" / "keyring_pass.cfg")
    assert created["backend"] == "keyrings.alt.file.PlaintextKeyring" and created["path"] == path
    assert created["status"] == "created" and created["token"] == vault.read_token()
    assert (created["service"], created["username"]) == ("vhctl", "api-token")
    assert json.loads(run("rotate", "--json").stdout)["status"] == "rotated"
    assert oct(Path(path).stat().st_mode & 0o777) == "0o600"


def test_no_keyring_is_one_line_and_exit_1(keyring_dir):
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    done = run("generate", env=env)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip().count("\n") == 0
    assert done.stderr.startswith("vhctl: error: cannot use the keyring: no keyring backend is available")


def test_help_documents_the_actions_with_examples():
    text = subprocess.run([sys.executable, "-m", "vhctl", "token", "--help"], capture_output=True, text=True,
                          check=True).stdout
    assert "Examples:" in text and "vhctl token rotate matterbridge" in text
    for action in ("generate", "rotate", "set", "show", "delete"):
        assert action in text
