"""The keyring on a headless server: a real `vhctl install` in a fresh HOME with no desktop session
chooses the file keyring and records it; the CLI and the hub venv then use the same file, and the
hub's user (a real second Unix user) owns it. Each CLI run is a real subprocess."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest
import tomlkit
from testkit.keyring import HUB_PYTHON

from vhctl_hub import secrets as vault

READ_IN_HUB_VENV = ("import json, sys\n"
                    "from vhctl_hub import secrets\n"
                    "if len(sys.argv) > 1: secrets.store_secret('api', sys.argv[1])\n"
                    "print(json.dumps({'api': secrets.read_secret('api'),\n"
                    "  'file': secrets.storage_path(secrets.backend()),\n"
                    "  'bad': sorted(n for n in sys.modules\n"
                    "                if n.split('.')[0] in ('gi', 'dbus', 'secretstorage'))}))\n")


pytestmark = pytest.mark.slow  # a real `vhctl install`: downloads the hub's packages


def hub_side(venv: Path, env: dict, *args: str, user: str | None = None) -> dict:
    """What the hub venv's own interpreter (as the hub would run vhctl_hub) reads from the keyring."""
    prefix = ["runuser", "-u", user, "--"] if user else []
    done = subprocess.run([*prefix, str(venv / "bin" / "python"), "-I", "-c", READ_IN_HUB_VENV, *args],
                          env=env, capture_output=True, text=True, timeout=120, cwd="/")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_install_on_a_headless_server_records_the_file_keyring_0600(installed):
    record = json.loads((installed.venv / vault.RECORD).read_text())
    keyring_file = installed.headless.home / ".local" / "share" / "vhctl" / "keyring.cfg"
    assert record == {"backend": "keyrings.alt.file.PlaintextKeyring", "file": str(keyring_file)}
    assert mode_of(keyring_file) == 0o600 and mode_of(keyring_file.parent) == 0o700
    assert keyring_file.stat().st_uid == os.geteuid()
    assert f"keyring: keyrings.alt.file.PlaintextKeyring ({keyring_file})" in installed.output.stderr


def test_the_cli_and_the_hub_venv_use_the_same_token_without_any_manual_step(installed):
    cli = installed.headless
    token = cli.run("--config", str(installed.config), "token", "rotate").stdout.strip()
    assert len(token) >= 40
    # the hub side finds the record beside its package: no HOME, no environment variable needed
    elsewhere = {**cli.env, "HOME": "/nonexistent"}
    seen = hub_side(installed.venv, elsewhere)
    assert seen["api"] == token and seen["bad"] == []
    shown = cli.run("--config", str(installed.config), "token", "show")
    assert token not in shown.stdout + shown.stderr and str(seen["file"]) in shown.stderr


def test_a_second_install_keeps_the_recorded_keyring(installed):
    before = (installed.venv / vault.RECORD).read_text()
    again = installed.headless.run("--config", str(installed.config), "install", "--python", HUB_PYTHON,
                                   "--venv", str(installed.venv))
    assert again.returncode == 0, again.stderr
    assert "(as recorded in" in again.stderr and (installed.venv / vault.RECORD).read_text() == before


def _config_with_state_dir(source: Path, target: Path, venv: Path, state_dir: Path) -> Path:
    document = tomlkit.parse(source.read_text())
    document["hub"]["venv"] = str(venv)
    document["hub"]["state_dir"] = str(state_dir)
    target.write_text(tomlkit.dumps(document))
    return target


def test_the_hub_user_owns_its_keyring_and_another_user_is_told(installed, hub_user):
    root = Path(tempfile.mkdtemp(prefix="vhctl-hubvenv-"))
    root.chmod(0o755)
    try:
        venv = root / "venv"
        shutil.copytree(installed.venv, venv, symlinks=True)
        (venv / vault.RECORD).unlink()
        state_dir = Path(hub_user.pw_dir) / ".local" / "state" / "vhctl"
        subprocess.run(["runuser", "-u", hub_user.pw_name, "--", "mkdir", "-p", "-m", "0700", str(state_dir)],
                       check=True)
        config = _config_with_state_dir(installed.config, root / "config.toml", venv, state_dir)
        done = installed.headless.run("--config", str(config), "install", "--python", HUB_PYTHON, "--venv", str(venv))
        assert done.returncode == 0, done.stderr

        keyring_file = Path(json.loads((venv / vault.RECORD).read_text())["file"])
        assert keyring_file == Path(hub_user.pw_dir) / ".local" / "share" / "vhctl" / "keyring.cfg"
        for path in (keyring_file, keyring_file.parent, keyring_file.parent.parent):
            assert path.stat().st_uid == hub_user.pw_uid, path
        assert mode_of(keyring_file) == 0o600 and mode_of(keyring_file.parent) == 0o700

        refused = installed.headless.run("--config", str(config), "token", "generate")
        assert refused.returncode == 1 and refused.stdout == ""
        assert refused.stderr.count("\n") == 1
        assert f"the hub runs as {hub_user.pw_name}" in refused.stderr
        assert f"sudo -u {hub_user.pw_name} vhctl token" in refused.stderr

        env = {"PATH": os.environ["PATH"], "HOME": hub_user.pw_dir}
        token = vault.new_token()
        assert hub_side(venv, env, token, user=hub_user.pw_name)["api"] == token
        assert keyring_file.stat().st_uid == hub_user.pw_uid and mode_of(keyring_file) == 0o600
    finally:
        shutil.rmtree(root, ignore_errors=True)
