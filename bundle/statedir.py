"""The state folder (status files, leases, spools): private to the hub's user, checked before use.

The old fallback, ``/tmp/vhctl-<uid>``, was a path any local user could predict and create first, and
so write the lease file that stops the API. The fallback is now the hub user's own XDG state folder
(``$XDG_STATE_HOME/vhctl``, else ``~/.local/state/vhctl``: the folder the CLI's ``platformdirs`` names,
so `vhctl status` run as that user reads the same place). Whatever folder is used must be a real
directory (not a symlink), owned by the hub's user and writable by nobody else.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

APP = "vhctl"


class StateDirError(RuntimeError):
    """The folder cannot be trusted or made; ``str()`` is one line with the fix."""


def fallback_state_dir() -> Path:
    """The hub user's own state folder for vhctl (used when the config names none)."""
    base = os.environ.get("XDG_STATE_HOME") or ""
    if not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / APP


def ensure_private(folder: Path) -> Path:
    """Create ``folder`` (0700) if needed, then check it is ours alone; the folder, or StateDirError."""
    try:
        folder.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            pass  # checked below, whatever it is
        info = os.lstat(folder)
    except OSError as exc:
        raise StateDirError(f"cannot create the state folder {folder}: {exc.strerror or exc}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise StateDirError(f"the state folder {folder} is not a directory (a symlink or a file); "
                            "remove it or set another with: vhctl configure hub.state_dir=/path")
    if info.st_uid != os.geteuid():
        raise StateDirError(f"the state folder {folder} belongs to uid {info.st_uid}, not to the hub's user "
                            f"(uid {os.geteuid()}); chown it, or set another with: vhctl configure hub.state_dir")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise StateDirError(f"the state folder {folder} is writable by other users; fix it with: "
                            f"chmod go-w {folder}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StateDirError(f"the state folder {folder} is not writable by the hub's user")
    return folder
