"""Violations of the hub's threading rule, fatal script behaviour, and hub-thread timings.

The real plugin detects none of this: a ``vh`` call from a worker thread is an unlocked data race
(F58, A9), a tuple returned from a hook or a short ``vh.KickUser`` kills the hub (A4, A13). The
simulator records each one with the offending stack so a test (or the demo) can fail loudly and say
exactly where, and it measures how long every hook holds the hub thread (F39: the whole hub stalls
meanwhile).
"""

from __future__ import annotations

import bisect
import collections
import threading
import time
import traceback
from dataclasses import dataclass

# Kinds of violation. THREAD and HOOK_THREAD break the engineering rule "hub state only on the hub
# thread"; OUTSIDE_HOOK is a vh call the real hub could never see (the hub thread holds the GIL only
# inside hooks and loads, F57); CRASH and EXIT end the real hub process.
THREAD = "thread"
HOOK_THREAD = "hook_thread"
OUTSIDE_HOOK = "outside_hook"
CRASH = "crash"
EXIT = "exit"


class VhThreadViolation(RuntimeError):
    """Raised by every ``vh`` callable invoked off the hub thread (the real hub would race, F58)."""


@dataclass(frozen=True)
class Violation:
    """One recorded violation; ``stack`` is the offending thread's stack when it happened."""

    kind: str
    fatal: bool
    function: str
    thread: str
    stack: str
    time: float
    detail: str = ""

    def __str__(self) -> str:
        fatal = "FATAL " if self.fatal else ""
        head = f"[{fatal}{self.kind}] {self.function} on thread {self.thread!r}"
        return f"{head}: {self.detail}\n{self.stack}" if self.detail else f"{head}\n{self.stack}"


class Violations(list):
    """The plugin's violation log (a plain list, appended to from any thread)."""

    def record(self, kind: str, function: str, *, fatal: bool = False,
               detail: str = "") -> Violation:
        """Append a violation seen on the calling thread, with that thread's stack."""
        violation = Violation(
            kind=kind,
            fatal=fatal,
            function=function,
            thread=threading.current_thread().name,
            stack="".join(traceback.format_stack()[:-1]),
            time=time.time(),
            detail=detail,
        )
        self.append(violation)
        return violation

    def of_kind(self, kind: str) -> list[Violation]:
        """The violations of one kind, oldest first."""
        return [v for v in self if v.kind == kind]

    def assert_clean(self) -> None:
        """Fail with every recorded violation (and its stack) if there is any."""
        if self:
            listing = "\n".join(str(v) for v in self)
            raise AssertionError(f"{len(self)} hub-rule violation(s):\n{listing}")


# Log-scale buckets: 8 per power of two (about 9 % wide), from 1 ns to about 36 minutes.
_SUB = 8
_BOUNDS = sorted({int(2 ** (e + s / _SUB)) for e in range(42) for s in range(_SUB)})


class Histogram:
    """Durations in ns: exact recent samples for small counts, log buckets beyond that.

    Bounded memory whatever the run length (benchmarks with thousands of users), cheap to feed
    from the hub thread (one bisect and a deque append per sample).
    """

    __slots__ = ("count", "total_ns", "max_ns", "_buckets", "_recent")

    def __init__(self, recent: int = 2048) -> None:
        self.count = 0
        self.total_ns = 0
        self.max_ns = 0
        self._buckets = [0] * (len(_BOUNDS) + 1)
        self._recent: collections.deque[int] = collections.deque(maxlen=recent)

    def add(self, ns: int) -> None:
        """Record one duration."""
        self.count += 1
        self.total_ns += ns
        if ns > self.max_ns:
            self.max_ns = ns
        self._buckets[bisect.bisect_left(_BOUNDS, ns)] += 1
        self._recent.append(ns)

    def quantile_ns(self, q: float) -> float:
        """The q-quantile: exact while all samples are in the recent window, else from buckets."""
        if not self.count:
            return 0.0
        if self.count <= len(self._recent):
            ordered = sorted(self._recent)
            return float(ordered[min(len(ordered) - 1, int(q * len(ordered)))])
        rank = q * self.count
        seen = 0
        for index, n in enumerate(self._buckets):
            seen += n
            if seen > rank:
                return float(min(self.max_ns, _BOUNDS[min(index, len(_BOUNDS) - 1)]))
        return float(self.max_ns)

    def summary(self) -> dict[str, float]:
        """count, median_us, p99_us, max_us, total_ms."""
        return {
            "count": self.count,
            "median_us": self.quantile_ns(0.5) / 1000.0,
            "p99_us": self.quantile_ns(0.99) / 1000.0,
            "max_us": self.max_ns / 1000.0,
            "total_ms": self.total_ns / 1e6,
        }
