"""The account's one message ring, shared by /api/messages and /api/stream (M30), bugs included.

Lives on the server loop's thread only. It is a plain FIFO that overwrites its oldest entry when
full (M31). Draining it through /api/messages swaps in a fresh ring of the default capacity, 10,
whatever ``Buffer`` said (the v1.26.0 and master bug of M32).
"""

from __future__ import annotations

import collections
from typing import Any, Callable

DEFAULT_CAPACITY = 10  # Buffer unset or 0 (M1), and the capacity after the first drain (M32)


class Ring:
    """A bounded FIFO of messages; ``on_overwrite`` counts what M31 silently loses."""

    def __init__(self, capacity: int, on_overwrite: Callable[[], None]) -> None:
        self._items: collections.deque[dict[str, Any]] = collections.deque(
            maxlen=capacity or DEFAULT_CAPACITY)
        self._on_overwrite = on_overwrite

    @property
    def capacity(self) -> int:
        return self._items.maxlen or DEFAULT_CAPACITY

    def push(self, msg: dict[str, Any]) -> None:
        if len(self._items) == self.capacity:
            self._on_overwrite()
        self._items.append(msg)

    def pop(self) -> dict[str, Any] | None:
        """The oldest message, taken out (a stream's poll, M34), or None."""
        return self._items.popleft() if self._items else None

    def drain(self) -> list[dict[str, Any]]:
        """Everything, oldest first, and the capacity falls back to 10 (M25, M32)."""
        items = list(self._items)
        self._items = collections.deque(maxlen=DEFAULT_CAPACITY)
        return items

    def snapshot(self) -> list[dict[str, Any]]:
        return list(self._items)
