"""Reconnect delays: exponential, capped, with jitter, forever.

Jitter ("full jitter" on the upper half) keeps many hubs that lost the same Matterbridge from
coming back in lockstep; the cap keeps a long outage from growing the delay without bound.
"""

from __future__ import annotations

import random


class Backoff:
    """The next delay after each failure; ``reset`` after a success."""

    def __init__(self, initial: float, cap: float, rng: random.Random | None = None) -> None:
        self.initial = initial
        self.cap = max(cap, initial)
        self.failures = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        """Seconds to wait before the next attempt (between half and all of the capped exponential)."""
        ceiling = min(self.cap, self.initial * (2 ** min(self.failures, 30)))
        self.failures += 1
        return ceiling / 2 + self._rng.random() * ceiling / 2

    def reset(self) -> None:
        self.failures = 0
