"""A cap on how much of the interpreter the API's request handling may take.

The API thread and the hub thread share one GIL (and, on small hub machines, one or two CPUs). Under a
request flood the API thread would hold the GIL nearly all the time and every hook would queue behind
it. With this budget, request handling (routing and handlers, up to the start of the response) takes
at most ``share`` of each ``window``; beyond that, requests wait for the next window: a flood gets
slower answers, the hub keeps its pace. Measured effect: bench/api_bench.py.
"""

from __future__ import annotations

import time
from typing import Callable

#: Share of each window that request handling may use.
SHARE = 0.5
#: Window length, seconds.
WINDOW = 0.05


class HandlingBudget:
    """Used from the event-loop thread only."""

    def __init__(self, share: float = SHARE, window: float = WINDOW,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.share = share
        self.window = window
        self._clock = clock
        self._window_start = clock()
        self._spent = 0.0
        #: Seconds requests were held back in all (for /metrics).
        self.waited = 0.0

    def delay(self) -> float:
        """How long the next request should wait, seconds (0.0 within the budget)."""
        now = self._clock()
        if now - self._window_start >= self.window:
            self._window_start, self._spent = now, 0.0
            return 0.0
        if self._spent < self.share * self.window:
            return 0.0
        wait = self._window_start + self.window - now
        self.waited += wait
        return wait

    def spend(self, seconds: float) -> None:
        """Count ``seconds`` of request handling."""
        self._spent += seconds
