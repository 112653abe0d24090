"""Work that background threads hand to the hub thread (the only thread allowed to call vh, F58).

Threads ``submit`` callables; the hub thread ``drain``s them inside hooks under a time budget (not a
fixed count: one slow item must not be followed by a hundred more, and many cheap ones should not
wait for the next tick). ``lag`` tells how far behind the hub thread is.
"""

from __future__ import annotations

import collections
import time
from concurrent.futures import Future
from typing import Any, Callable, Deque, Optional, Tuple

#: Pending items beyond which ``submit`` refuses work (a stuck hub must not eat all memory).
MAX_PENDING = 10000

_Item = Tuple[float, Callable[..., Any], tuple, dict, Future]


class QueueFull(RuntimeError):
    """The hub thread is too far behind; the caller should drop or retry later."""


class WorkQueue:
    """A thread-safe FIFO of callables for the hub thread (deque append/popleft are atomic)."""

    def __init__(self, max_pending: int = MAX_PENDING) -> None:
        self._items: Deque[_Item] = collections.deque()
        #: Truthy while work waits: the hub thread checks it at every hook without a call (read it,
        #: never change it).
        self.waiting: Deque[_Item] = self._items
        self._max_pending = max_pending
        self.done = 0
        self.failed = 0
        self.last_error: Optional[str] = None

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
        """Queue ``fn(*args, **kwargs)`` for the hub thread; the Future gets its result."""
        if len(self._items) >= self._max_pending:
            raise QueueFull(f"{len(self._items)} items wait for the hub thread")
        future: Future = Future()
        self._items.append((time.monotonic(), fn, args, kwargs, future))
        return future

    def drain(self, budget_s: float) -> int:
        """Run queued items until the queue is empty or ``budget_s`` is used up; returns how many ran.

        At least one item runs per call, so progress never stops however small the budget.
        """
        items = self._items
        if not items:
            return 0
        deadline = time.perf_counter() + budget_s
        ran = 0
        while items:
            try:
                _, fn, args, kwargs, future = items.popleft()
            except IndexError:
                break
            ran += 1
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args, **kwargs))
                    self.done += 1
                except BaseException as exc:  # noqa: BLE001 - reported through the Future
                    self.failed += 1
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    future.set_exception(exc)
            if time.perf_counter() >= deadline:
                break
        return ran

    def lag(self) -> Tuple[int, float]:
        """(pending items, age in seconds of the oldest one)."""
        try:
            oldest = self._items[0][0]
        except IndexError:
            return 0, 0.0
        return len(self._items), max(0.0, time.monotonic() - oldest)

    def cancel_all(self) -> None:
        """Drop pending items (their Futures are cancelled), e.g. when the hub unloads us."""
        while self._items:
            try:
                self._items.popleft()[4].cancel()
            except IndexError:
                break
