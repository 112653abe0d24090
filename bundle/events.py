"""A feed of hub events (logins, logouts, MyINFO and counter changes, optionally chat) for SSE.

The hub thread appends; any number of background readers follow with a cursor. The lock is held
only for the append or the slice copy, never across I/O or vh calls.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Deque, List, Mapping, Optional, Tuple

#: Events kept for readers that fell behind.
CAPACITY = 1000


@dataclass(frozen=True)
class Event:
    """One hub event. ``kind``: login, logout, myinfo, stats, chat, or gap (reader missed events)."""

    seq: int
    kind: str
    at: float
    nick: Optional[str] = None
    data: Mapping[str, Any] = field(default_factory=dict)


class EventFeed:
    """A bounded ring of events with sequence numbers starting at 1."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self._events: Deque[Event] = collections.deque(maxlen=capacity)
        self._cond = threading.Condition(threading.Lock())
        self._seq = 0
        self.chat_enabled = False

    def enable_chat(self) -> None:
        """A component asks for main-chat lines in the feed (the API's ``chat_events`` option)."""
        self.chat_enabled = True

    def publish(self, kind: str, nick: Optional[str] = None, **data: Any) -> None:
        """Append an event (hub thread) and wake the waiting readers."""
        with self._cond:
            self._seq += 1
            self._events.append(Event(self._seq, kind, time.time(), nick, data))
            self._cond.notify_all()

    def latest_seq(self) -> int:
        """The sequence number of the newest event (0 when none yet)."""
        return self._seq

    def since(self, seq: int) -> Tuple[List[Event], int]:
        """Events newer than ``seq`` and the cursor to pass next time; never blocks."""
        with self._cond:
            return self._collect(seq)

    def wait(self, seq: int, timeout: float) -> Tuple[List[Event], int]:
        """Like ``since`` but waits up to ``timeout`` seconds for something new."""
        with self._cond:
            if self._seq <= seq:
                self._cond.wait(timeout)
            return self._collect(seq)

    def _collect(self, seq: int) -> Tuple[List[Event], int]:
        if self._seq <= seq:
            return [], self._seq
        events = [e for e in self._events if e.seq > seq]
        if events and events[0].seq > seq + 1:
            gap = Event(seq + 1, "gap", time.time(), None, {"missed": events[0].seq - seq - 1})
            events.insert(0, gap)
        return events, self._seq
