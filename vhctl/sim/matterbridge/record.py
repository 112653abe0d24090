"""What tests and the demo read back: counters and the remote side's view, safe across threads.

The server loop writes; any thread reads or waits. Both survive ``restart()``: they are the remote
platforms' memory and the test's tally, not Matterbridge's (whose ring a restart empties, M54).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

COUNTERS = ("posts", "post_errors", "routed_out", "dropped_gateway", "dropped_empty", "injected",
            "delivered", "filtered_events", "ring_overwritten", "ring_resets", "stream_sent",
            "stream_swallowed", "ws_connects", "ws_sent", "ws_dropped", "ws_too_big",
            "ws_undecodable", "ws_timeouts", "ws_zombies", "restarts", "auth_failures")


class Record:
    """Counters plus the messages our account got routed to the remote side, with waits on both."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._counters = dict.fromkeys(COUNTERS, 0)
        self._received: list[dict[str, Any]] = []
        self._handed: list[tuple[str, bytes]] = []

    def count(self, name: str, n: int = 1) -> None:
        with self._cond:
            self._counters[name] += n
            self._cond.notify_all()

    def add_received(self, msg: dict[str, Any]) -> None:
        with self._cond:
            self._received.append(msg)
            self._counters["routed_out"] += 1
            self._cond.notify_all()

    def add_handed(self, via: str, payload: bytes) -> None:
        """A message our account's client now has: a WebSocket frame the kernel took, a stream line or
        an /api/messages element sent (``via``: ws, stream, ring). What was routed to us and is never
        handed over was lost inside Matterbridge (a kill, M38, M54; an overwrite, M31)."""
        with self._cond:
            self._handed.append((via, payload))

    def handed(self) -> list[dict[str, Any]]:
        """Every message handed to a client of our account, oldest first, with its ``via``."""
        with self._cond:
            items = list(self._handed)
        return [{**json.loads(payload), "via": via} for via, payload in items]

    def counters(self) -> dict[str, int]:
        with self._cond:
            return dict(self._counters)

    def received(self) -> list[dict[str, Any]]:
        with self._cond:
            return list(self._received)

    def wait_received(self, count: int, timeout: float) -> list[dict[str, Any]]:
        """At least ``count`` received messages, or TimeoutError saying how many came."""
        self._wait(lambda: len(self._received) >= count, timeout,
                   lambda: f"{len(self._received)} of {count} messages reached the remote side")
        return self.received()

    def wait_counter(self, name: str, value: int, timeout: float) -> int:
        self._wait(lambda: self._counters[name] >= value, timeout,
                   lambda: f"counter {name} is {self._counters[name]}, not >= {value}")
        return self.counters()[name]

    def _wait(self, ready: Any, timeout: float, why: Any) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not ready():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(why())
                self._cond.wait(left)
