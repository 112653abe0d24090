"""Hub lines waiting for Matterbridge: a bounded FIFO in memory and its spool on disk.

The hub thread only ``put``s (a deque append; a lock only when full, never across I/O). The poster
thread ``peek``s the oldest line, posts it and ``pop``s it once its fate is known, so a line that
failed stays first and order is kept. When full, the oldest line is dropped and counted.

The spool (``outbox.json`` in the state folder) carries the waiting lines to the next instance of
the component: the old one writes it when it stops (``!pyreload``), the poster writes it while
lines wait (a hub restart or crash then loses at most ``SPOOL_EVERY`` seconds of lines), and the new
instance reads it when it starts, before its own lines.
"""

from __future__ import annotations

import collections
import json
import os
import threading
import time
from pathlib import Path
from typing import Any, Deque, Dict, List, Optional

from vhctl_hub.files import atomic_write

SPOOL_NAME = "bridge-outbox.json"
#: While lines wait, the spool is rewritten at most this often, seconds.
SPOOL_EVERY = 1.0
#: A spool bigger than this is not read (it is not ours, or damaged), bytes.
MAX_SPOOL_BYTES = 64 * 1024 * 1024

Line = Dict[str, Any]  # {"nick": str, "text": str (as the hook gave it), "at": unix seconds}
_wall = time.time   # bound once: ``put`` runs at every relayed line


class Outbox:
    """Thread-safe bounded FIFO of hub lines.

    ``put`` runs on the hub thread at every relayed line, so it takes no lock unless the outbox is
    full, and rings the poster's doorbell only when the poster waits: a deque append is atomic,
    the deque is never replaced (only changed in place), and the hub thread is the only one to
    count puts. Everything that takes lines out, or puts them in front, holds the lock."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: Deque[Line] = collections.deque()
        self._lock = threading.Lock()
        #: The poster's doorbell: held while nobody rang; a ``put`` releases it when the poster waits
        #: (one C call, where a condition variable's notify runs Python code on the hub thread).
        self._bell = threading.Lock()
        self._bell.acquire()
        #: The poster is in ``peek`` (set before it looks, so a ``put`` that sees False happened
        #: before its look and it finds the line).
        self._waiting = False
        self.dropped = 0
        self._puts = 0     # the hub thread's
        self._others = 0   # every other change, under the lock

    @property
    def changed(self) -> int:
        """Grows at every change; the spool writer compares it."""
        return self._puts + self._others

    def put(self, nick: str, text: str) -> None:
        """Hub thread: queue one line (drops the oldest when full)."""
        items = self._items
        if len(items) >= self.capacity:
            with self._lock:
                while len(items) >= self.capacity:
                    items.popleft()
                    self.dropped += 1
        items.append({"nick": nick, "text": text, "at": _wall()})
        self._puts += 1
        if self._waiting:
            self.wake()

    def peek(self, timeout: float) -> Optional[Line]:
        """The poster thread (only one): the oldest line, waiting up to ``timeout`` s for one."""
        if not self._items:
            self._waiting = True
            if not self._items:
                self._bell.acquire(timeout=timeout)
            self._waiting = False
            self._bell.acquire(blocking=False)   # held again, whether it rang or not
        with self._lock:
            return self._items[0] if self._items else None

    def pop(self, line: Line) -> None:
        """Remove ``line`` if it is still the oldest (it may have been dropped meanwhile)."""
        with self._lock:
            if self._items and self._items[0] is line:
                self._items.popleft()
                self._others += 1

    def wake(self) -> None:
        """Any thread: end the poster's wait (a ring nobody waits for ends its next one at once)."""
        try:
            self._bell.release()
        except RuntimeError:   # rung already
            pass

    def __len__(self) -> int:
        return len(self._items)

    def lines(self) -> List[Line]:
        with self._lock:
            return list(self._items)

    def prepend(self, older: List[Line]) -> int:
        """Put lines from a spool in front (they are older); returns how many were dropped."""
        with self._lock:
            items = self._items
            items.extendleft(reversed(older))
            excess = max(0, len(items) - self.capacity)
            for _ in range(excess):
                items.popleft()
            self.dropped += excess
            self._others += 1
        self.wake()
        return excess


class Spool:
    """The outbox's file; only component threads touch it."""

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / SPOOL_NAME
        self._written = -1
        self._at = 0.0

    def take(self) -> List[Line]:
        """The spooled lines. The file stays until the poster rewrites it from the outbox they join."""
        try:
            if not self.path.is_file() or self.path.stat().st_size > MAX_SPOOL_BYTES:
                return []
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        return [d for d in data.get("lines", []) if _valid(d)] if isinstance(data, dict) else []

    def maybe_write(self, outbox: Outbox, force: bool = False) -> None:
        """Write the outbox if it changed since the last write and SPOOL_EVERY passed (or ``force``)."""
        if outbox.changed == self._written:
            return
        now = time.monotonic()
        if not force and now - self._at < SPOOL_EVERY:
            return
        changed = outbox.changed
        self._write(outbox.lines())
        self._written, self._at = changed, now

    def _write(self, lines: List[Line]) -> None:
        if not lines and not self.path.exists():
            return
        if self.path.exists() and not self.path.is_file():
            raise OSError(f"{self.path} is not a regular file")
        atomic_write(self.path, json.dumps({"lines": lines}, ensure_ascii=False), mode=0o600)


def _valid(item: Any) -> bool:
    return isinstance(item, dict) and isinstance(item.get("nick"), str) and isinstance(item.get("text"), str)


def spool_dir(state_dir: str, fallback: Path) -> Path:
    """The configured state folder, else the runtime's fallback (the same rule the status uses)."""
    folder = Path(state_dir) if state_dir else fallback
    os.makedirs(folder, mode=0o700, exist_ok=True)
    return folder
