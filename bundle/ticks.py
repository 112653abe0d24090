"""When the hub last called OnTimer, and how often it does: the runtime's only sign of life from the
hub (UnLoad is never called, F15), read by the supervisors' watchdog from their own threads."""

from __future__ import annotations

import time

#: Bounds on the measured timer period, seconds (a first tick after a long pause is not a period).
SHORTEST, LONGEST = 0.05, 60.0


class Ticks:
    """The hub's OnTimer beat (written on the hub thread, read from any thread)."""

    def __init__(self) -> None:
        self.last = time.monotonic()
        self.interval = 1.0

    def beat(self, mono: float) -> None:
        """OnTimer ran at monotonic time ``mono``."""
        self.interval = min(LONGEST, max(SHORTEST, mono - self.last))
        self.last = mono

    def restart(self) -> None:
        """A component registered: the hub is alive now (its ticks may not have begun yet)."""
        self.last = time.monotonic()

    def silence(self) -> float:
        """Seconds since the last OnTimer."""
        return time.monotonic() - self.last
