"""Each component's status as a JSON file that `vhctl status` reads without the hub.

Written atomically (``vhctl_hub.files.atomic_write``) by the component's own supervisor thread,
never by the hub thread (a write includes an fsync), at most once per ``MIN_INTERVAL`` while things
change and at least every ``HEARTBEAT`` so that a stale ``updated_at`` means "the hub stopped calling
us". Keys that look like secrets are dropped on write: no token ever reaches the file.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any, Dict, Optional, Union

from vhctl_hub.files import atomic_write

MIN_INTERVAL = 1.0
HEARTBEAT = 5.0
#: `vhctl status` calls a status older than this stale.
STALE_AFTER = 15.0
_SECRET_WORDS = ("token", "secret", "password", "passwd", "authorization", "api_key")


def status_path(state_dir: Union[str, Path], name: str) -> Path:
    """Where component ``name`` publishes its status."""
    return Path(state_dir) / f"{name}.json"


def read_status(state_dir: Union[str, Path], name: str) -> Optional[Dict[str, Any]]:
    """The last published status of ``name``, None when there is none (or it is unreadable)."""
    try:
        return json.loads(status_path(state_dir, name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def scrub(value: Any) -> Any:
    """A copy of ``value`` without dict entries whose key names a secret."""
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items()
                if not any(word in str(k).lower() for word in _SECRET_WORDS)}
    if isinstance(value, (list, tuple)):
        return [scrub(v) for v in value]
    return value


class StatusBoard:
    """The live status fields of one component; any thread may update, the supervisor writes."""

    def __init__(self, name: str, **identity: Any) -> None:
        self._lock = threading.Lock()
        self._fields: Dict[str, Any] = {
            "component": name, "state": "starting", "running": False, "port": None,
            "pid": os.getpid(), "started_at": time.time(), "updated_at": None,
            "last_error": None, "counters": {}, **identity,
        }
        self._dirty = True
        self._written_at = 0.0

    def set(self, **fields: Any) -> None:
        """Set top-level fields (e.g. ``port=8000``, ``state="running"``)."""
        with self._lock:
            self._fields.update(fields)
            self._dirty = True

    def count(self, counter: str, n: int = 1) -> None:
        """Add ``n`` to a counter shown under ``counters``."""
        with self._lock:
            counters = self._fields["counters"]
            counters[counter] = counters.get(counter, 0) + n
            self._dirty = True

    def error(self, line: str) -> None:
        """Record the latest error (one line)."""
        self.set(last_error=line, last_error_at=time.time())

    def get(self, field: str) -> Any:
        """One field's current value."""
        with self._lock:
            return self._fields.get(field)

    def snapshot(self) -> Dict[str, Any]:
        """A deep-enough copy of the fields."""
        with self._lock:
            data = dict(self._fields)
            data["counters"] = dict(self._fields["counters"])
            return data

    def due(self, now: float) -> bool:
        """Whether a write is due (dirty and not written for MIN_INTERVAL, or heartbeat)."""
        elapsed = now - self._written_at
        return (self._dirty and elapsed >= MIN_INTERVAL) or elapsed >= HEARTBEAT

    def write(self, path: Path, extra: Dict[str, Any]) -> None:
        """Write the status file now; ``extra`` holds runtime-provided sections (lag, hooks...)."""
        with self._lock:
            self._dirty = False
        data = self.snapshot()
        data.update(extra)
        data["updated_at"] = time.time()
        atomic_write(path, json.dumps(scrub(data), indent=1, sort_keys=True, default=str) + "\n")
        self._written_at = time.monotonic()
