"""Which operator notices this hub process has already sent, across scripts, reloads and interpreters.

Some conditions last until the hub restarts (a sub-interpreter hub cannot run FastAPI again after the
first load): telling OpChat at every `!pyreload` says nothing new. Module state does not survive a
reload in sub-interpreter mode, so the memory is a marker file per notice in the state folder, named
by the hub's PID: ``O_EXCL`` makes exactly one caller the first. Markers of hub processes that are
gone are removed when a new one is written.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

FOLDER = "told"


def first_time(state_dir: Path, line: str) -> bool:
    """True exactly once per hub process for ``line`` (and True when the folder cannot be used)."""
    folder = Path(state_dir) / FOLDER
    digest = hashlib.sha256(line.encode("utf-8", "replace")).hexdigest()[:20]
    pid = os.getpid()
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(folder / f"{pid}-{digest}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    except OSError:
        return True  # better said twice than never
    os.close(fd)
    _forget_gone_processes(folder, pid)
    return True


def _forget_gone_processes(folder: Path, current: int) -> None:
    for marker in folder.iterdir():
        owner = marker.name.split("-", 1)[0]
        if not owner.isdigit() or int(owner) == current:
            continue
        try:
            os.kill(int(owner), 0)
        except ProcessLookupError:
            marker.unlink(missing_ok=True)
        except OSError:
            pass  # alive, under another user
