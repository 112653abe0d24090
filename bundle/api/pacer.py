"""Pauses that hand the GIL to the hub thread while the API is busy.

The API's server thread and the hub's main thread share one GIL. In a real hub the main thread runs
C++ without the GIL and takes it on each hook entry (F24, F57). If the server thread is busy, CPython
makes that entry wait for the switch interval (then asks the holder to drop the GIL), and on a
multi-core machine the waiting thread usually loses the race whenever the busy thread releases the GIL
for a moment (a socket write), because the releaser takes it back before the waiter has woken up.

So the server thread hands the GIL over on purpose: after every ``slice`` seconds of its own CPU time
(``time.thread_time``: parsing, handlers and writes all count), it sleeps ``nap`` seconds before the
next request. The sleep is a blocking ``time.sleep`` on the event-loop thread, deliberately: an
``asyncio.sleep`` would let the loop go on with other connections, holding the GIL; a blocking sleep
holds nothing, so a hook that is waiting starts at once. This bounds how long a hook entry waits for a
busy API by about ``slice`` instead of the switch interval plus scheduling, and caps the server thread
at ``slice / (slice + nap)`` of a CPU. Measured in bench/api_bench.py (README, Performance): a coarse
budget (half of every 50 ms) was tried first and made the tail worse; a thread busy for tens of
milliseconds, then idle, is the worst case for a waiting thread's wake-up.
"""

from __future__ import annotations

import time
from typing import Callable

#: Server-thread CPU time between two pauses, seconds.
SLICE = 0.0003
#: Length of a pause, seconds.
NAP = 0.00015


class Pacer:
    """Used from the server's event-loop thread only (its CPU clock is the one that counts)."""

    def __init__(self, slice_s: float = SLICE, nap_s: float = NAP,
                 cpu_clock: Callable[[], float] = time.thread_time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.slice = slice_s
        self.nap = nap_s
        self._cpu_clock = cpu_clock
        self._sleep = sleep
        self._cpu_at_pause = cpu_clock()
        #: Seconds the server thread has paused in all (for /metrics).
        self.paused = 0.0

    def pace(self) -> None:
        """Between requests: pause if the thread has used up its slice since the last pause."""
        if self._cpu_clock() - self._cpu_at_pause < self.slice:
            return
        self._sleep(self.nap)
        self.paused += self.nap
        self._cpu_at_pause = self._cpu_clock()
