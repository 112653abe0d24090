"""The hub venv's keyring: chosen once by `vhctl install`, recorded in the venv, used by the hub.

The hub never runs keyring's discovery (it would import the system's gi/dbus from dist-packages):
the backend is chosen here, once, and recorded in the venv (``vhctl_hub.secrets.RECORD``).
"""

from __future__ import annotations

import json
import os
import pwd
import stat
import subprocess
from pathlib import Path
from typing import Optional

from vhctl_hub import secrets as vault
from vhctl_hub.files import atomic_write

from vhctl.errors import VhctlError
from vhctl.output import Progress

#: The system backends whose modules the hub venv itself holds (keyring's own dependencies).
SYSTEM_BACKENDS = ("keyring.backends.SecretService.Keyring",)
# Each system backend is tried by name, not through keyring's discovery: with keyrings.alt in the
# venv too, discovery answers with its ChainerBackend, which is never one of these.
_KEYRING_PROBE = ("import importlib, json, sys\n"
                  "found = None\n"
                  "for name in sys.argv[1:]:\n"
                  "    module, _, cls = name.rpartition('.')\n"
                  "    try:\n"
                  "        k = getattr(importlib.import_module(module), cls)()\n"
                  "        if k.priority <= 0:\n"
                  "            continue\n"
                  "        k.set_password('vhctl', 'install-probe', 'probe')\n"
                  "        ok = k.get_password('vhctl', 'install-probe') == 'probe'\n"
                  "        k.delete_password('vhctl', 'install-probe')\n"
                  "    except Exception:\n"
                  "        continue\n"
                  "    if ok:\n"
                  "        found = name\n"
                  "        break\n"
                  "print(json.dumps({'backend': found, 'ok': found is not None}))\n")


def choose_keyring(venv: Path, python: Path, hub_uid: int, progress: Progress) -> vault.Choice:
    """Keep the venv's recorded keyring, else choose one and record it: the system's when it works
    for this user (who must be the hub's) and the venv's ``python``, else the file backend in the hub
    user's data folder. A file keyring is made (again) a 0600 file in a 0700 folder, both owned by
    the hub's user."""
    record = venv / vault.RECORD
    try:
        chosen, new = vault.read_record(record), False
    except vault.KeyringUnavailable:
        system = _system_backend(python) if hub_uid == os.geteuid() else None
        chosen = vault.Choice(system) if system else vault.Choice(vault.FILE_BACKEND, str(keyring_file(hub_uid)))
        new = True
    if chosen.file:
        _private_file(Path(chosen.file), hub_uid)
    if new:
        atomic_write(record, chosen.to_json(), mode=0o644)
    progress.note(f"keyring: {_describe(chosen)} ({'recorded' if new else 'as recorded'} in {record})")
    return chosen


def keyring_file(uid: int) -> Path:
    """The file keyring of the user ``uid``: their data folder's vhctl/keyring.cfg."""
    if uid != os.geteuid():
        base = Path(pwd.getpwuid(uid).pw_dir) / ".local" / "share"
    elif os.path.isabs(os.environ.get("XDG_DATA_HOME", "")):
        base = Path(os.environ["XDG_DATA_HOME"])
    else:
        base = Path(os.path.expanduser("~")) / ".local" / "share"
    return base / "vhctl" / vault.FILE_NAME


def _describe(chosen: vault.Choice) -> str:
    return f"{chosen.backend} ({chosen.file})" if chosen.file else f"the system keyring, {chosen.backend}"


def _system_backend(python: Path) -> Optional[str]:
    """The first system keyring backend that the venv's Python can use here: it stores a probe
    secret and reads it back (a locked or absent Secret Service fails that)."""
    try:
        result = subprocess.run([str(python), "-I", "-c", _KEYRING_PROBE, *SYSTEM_BACKENDS],
                                capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        data = json.loads(result.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None
    return data["backend"] if data.get("ok") else None


def _private_file(path: Path, uid: int) -> None:
    """Make ``path`` a regular file of ``uid``, mode 0600, in a 0700 folder of theirs (creating an
    empty file and the missing folders, owned by ``uid`` too, as needed)."""
    gid = pwd.getpwuid(uid).pw_gid
    missing = [folder for folder in [path.parent, *path.parent.parents] if not folder.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=0o700)
        _own(folder, uid, gid)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
    except FileExistsError:
        pass
    if not stat.S_ISREG(os.lstat(path).st_mode):
        raise VhctlError(f"the keyring file {path} is not a regular file; remove it and run "
                         "`vhctl install` again")
    for target, mode in ((path.parent, 0o700), (path, 0o600)):
        _own(target, uid, gid)
        os.chmod(target, mode)


def _own(target: Path, uid: int, gid: int) -> None:
    if os.lstat(target).st_uid != uid:
        os.chown(target, uid, gid, follow_symlinks=False)
