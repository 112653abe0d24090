"""Reload rendezvous: the newest instance of a component takes over from any older one.

The plugin never tells a script it is being unloaded or reloaded (F15-F16): after ``!pyreload`` the
old copy's threads and sockets live on. The new copy must find the old one and make it let go first.

Why files and ``flock`` rather than a Python object: in sub-interpreter mode each copy runs in its own
interpreter with its own ``sys``, ``builtins`` and module objects, and the old interpreter is leaked
rather than ended; no Python-level object is reliably visible to both (the simulator shares ``sys``
between slots, a real hub does not). An open file lock is a property of the process seen by every
interpreter and thread alike, is released by the kernel if the process dies (no stale lock after a
crash), and works the same in single mode. ``flock`` locks belong to the open file description, so two
copies inside one process exclude each other like two processes would.

Protocol, per component name, in the state folder:
- ``<name>.owner`` holds the token of the newest instance (written atomically by each new instance);
- ``<name>.lock`` is held with ``flock`` by the instance that runs.
A new instance writes its token, then waits for the lock. The running one notices the foreign token
(polled every ~0.1 s by its supervisor thread), stops, frees its ports and releases the lock.
"""

from __future__ import annotations

import fcntl
import os
import uuid
from pathlib import Path
from typing import Optional, Tuple

from vhctl_hub.files import atomic_write


class Lease:
    """One instance's claim on a component name."""

    def __init__(self, directory: Path, name: str) -> None:
        self.lock_path = Path(directory) / f"{name}.lock"
        self.owner_path = Path(directory) / f"{name}.owner"
        self.token = f"{os.getpid()}-{uuid.uuid4().hex}"
        self._fd: Optional[int] = None
        self._seen: Optional[Tuple[int, int, int]] = None
        self._superseded = False

    def claim(self) -> None:
        """Announce this instance as the newest (older ones stop when they see it)."""
        atomic_write(self.owner_path, self.token, mode=0o600)

    def try_acquire(self) -> bool:
        """Take the lock if no other instance holds it; never blocks."""
        if self._fd is None:
            self._fd = os.open(str(self.lock_path), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def superseded(self) -> bool:
        """True once a newer instance has written its token (cheap: one ``stat`` per call)."""
        if self._superseded:
            return True
        try:
            st = os.stat(self.owner_path)
        except FileNotFoundError:
            return False
        sig = (st.st_ino, st.st_mtime_ns, st.st_size)
        if sig == self._seen:
            return False
        self._seen = sig
        try:
            owner = self.owner_path.read_text(encoding="utf-8").strip()
        except OSError:
            return False
        self._superseded = owner != self.token
        return self._superseded

    def release(self) -> None:
        """Let go of the lock (the next instance may start)."""
        if self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None
