"""One `vhctl install` per hub venv at a time.

Two installs of one venv at once (two terminals, a config-management run beside a person) would
clear, fill and verify the same folder under each other. The lock is an ``flock`` on a file beside
the venv (the venv itself may not exist yet, or be recreated): the kernel drops it when its process
ends, so a crashed install never leaves a stale lock. A second install waits, saying whom it waits
for, then finds the venv complete and changes nothing.
"""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from vhctl import paths
from vhctl.errors import VhctlError
from vhctl.hubvenv import os_error
from vhctl.output import Progress

#: How long a second install waits for the first, seconds (a first install takes ~30 s).
WAIT = 900.0
POLL = 0.2


@contextmanager
def install_lock(venv: Path, progress: Progress, wait: float = WAIT) -> Iterator[None]:
    """Hold the install lock of ``venv`` for the ``with`` block."""
    lock_path = paths.install_lock_file(venv)
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(str(lock_path), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise os_error(exc, venv) from None
    try:
        _acquire(fd, lock_path, progress, wait)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)  # releases the lock


def _acquire(fd: int, lock_path: Path, progress: Progress, wait: float) -> None:
    deadline = time.monotonic() + wait
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        holder = _holder(lock_path)
        if not told:
            progress.note(f"waiting for another vhctl install of this venv to finish{holder}")
            told = True
        if time.monotonic() > deadline:
            raise VhctlError(f"another vhctl install of this venv is still running{holder} after "
                             f"{wait:g} s; try again when it has finished (lock: {lock_path})")
        time.sleep(POLL)


def _holder(lock_path: Path) -> str:
    """`` (pid N)`` of the install holding the lock, if it wrote it."""
    try:
        pid = lock_path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""
