"""Where the system's keyring is usable, `vhctl install` chooses it: a real Secret Service (Debian's
gnome-keyring, unlocked with a password on stdin) on a private D-Bus session bus (dbus-run-session),
no desktop. The CLI stores a token there and the hub venv's own Python reads it back through the
recorded backend, importing no system gi/dbus. Runs only where gnome-keyring and D-Bus are installed
(.ci/run installs them as root)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from testkit.cli import REPO, headless_env
from vhctl_hub import secrets as vault

SYSTEM_BACKEND = "keyring.backends.SecretService.Keyring"

#: Runs inside the private session bus: start and unlock the keyring (the daemon stays in the
#: foreground, so it ends with this script), install, make a token, read it on the hub side.
DRIVER = r"""
import json, subprocess, sys
config, venv, repo = sys.argv[1:4]
daemon = subprocess.Popen(["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
daemon.stdin.write("a test password")
daemon.stdin.close()
ready = daemon.stdout.readline()  # GNOME_KEYRING_CONTROL=...: the daemon is up and unlocked
def vhctl(*args):
    done = subprocess.run([sys.executable, "-m", "vhctl", "--config", config, *args], cwd=repo,
                          capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    return {"rc": done.returncode, "stdout": done.stdout, "stderr": done.stderr}
HUB_SIDE = ("import json, sys\n"
            "from vhctl_hub import secrets\n"
            "token = secrets.read_secret('api')\n"
            "print(json.dumps({'backend': secrets.backend_name(secrets.backend()),\n"
            "  'same': token == sys.argv[1], 'file': secrets.storage_path(secrets.backend()),\n"
            "  'system_modules': sorted(n for n in sys.modules if n.split('.')[0] in ('gi', 'dbus'))}))\n")
try:
    out = {"ready": ready.startswith("GNOME_KEYRING_CONTROL="), "install": vhctl(
        "install", "--python", sys.argv[4], "--venv", venv)}
    made = vhctl("token", "generate")
    token = made["stdout"].strip()
    out["token"] = {"rc": made["rc"], "stderr": made["stderr"], "length": len(token)}
    hub = subprocess.run([venv + "/bin/python", "-I", "-c", HUB_SIDE, token], capture_output=True, text=True,
                         timeout=120, cwd="/")
    out["hub"] = json.loads(hub.stdout) if hub.returncode == 0 else {"error": hub.stderr[-2000:]}
    out["show"] = vhctl("token", "show")
finally:
    daemon.terminate()
    daemon.wait(10)
print(json.dumps(out))
"""


def test_install_chooses_an_unlocked_secret_service_and_both_sides_use_it(hub_venv, tmp_path: Path) -> None:
    missing = [tool for tool in ("gnome-keyring-daemon", "dbus-run-session") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"needs {' and '.join(missing)} (Debian's gnome-keyring and dbus; .ci/run installs them as root)")
    venv = tmp_path / "venv"
    shutil.copytree(hub_venv.venv, venv, symlinks=True)
    (venv / vault.RECORD).unlink()
    config = tmp_path / "config.toml"
    shutil.copy(hub_venv.config, config)
    home = tmp_path / "home"
    home.mkdir()
    done = subprocess.run(["dbus-run-session", "--", sys.executable, "-c", DRIVER, str(config), str(venv), str(REPO),
                           sys.executable], env=headless_env(home), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["ready"], out
    assert out["install"]["rc"] == 0, out["install"]["stderr"]
    assert f"keyring: the system keyring, {SYSTEM_BACKEND}" in out["install"]["stderr"]
    assert json.loads((venv / vault.RECORD).read_text()) == {"backend": SYSTEM_BACKEND, "file": None}
    assert out["token"]["rc"] == 0 and out["token"]["length"] >= 40, out["token"]["stderr"]
    assert out["hub"] == {"backend": SYSTEM_BACKEND, "same": True, "file": None, "system_modules": []}, out["hub"]
    assert out["show"]["rc"] == 0 and SYSTEM_BACKEND in out["show"]["stderr"]
    assert not (home / ".local" / "share" / "vhctl" / vault.FILE_NAME).exists()  # no file keyring made
