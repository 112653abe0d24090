"""Matterbridge's messages on their way into main chat: deduplicated, in order, sent in batches.

Why a component-side queue in front of the runtime's work queue:
- throughput: a hub main-chat send is one ``SendDataToAll`` per protocol message, and its fixed
  cost per call dominates. The hub adds the closing ``|`` itself (F49.7), so one call may carry
  several ``<bot> line`` messages joined by ``|``; every line was escaped first (``$``/``|`` become
  ``&#36;``/``&#124;``, F64), so a remote text can never add a separator of its own. One work item
  sends up to ``BATCH`` lines and queues itself again while more wait, so the runtime's drain still
  stops at its time budget between items;
- deduplication: the same message can reach us twice (the WebSocket and the ring read after a gap,
  or two instances across ``!pyreload``). A message is known by its router timestamp and content
  (M14; ids are always empty, M14), and each is shown once;
- hand-over: at ``!pyreload`` the old instance ``hand_over``s what it showed and what still waits,
  and the new one, connected meanwhile (``held`` until then), shows exactly the rest (see
  ``handover``).

Threads: ``offer`` from the reader thread, ``_drain`` on the hub thread (a work item), the rest from
component threads. The lock is held for list and set updates only, never across I/O or a vh call.
"""

from __future__ import annotations

import collections
import hashlib
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Deque, Dict, List, Mapping, Optional, Sequence, Set

#: Most lines one ``SendDataToAll`` carries.
BATCH = 64
#: Messages waiting for the hub thread beyond which new ones are dropped (and counted).
CAPACITY = 20000
#: How many keys of messages already offered are remembered for deduplication.
SEEN = 20000

Send = Callable[[List[str]], None]          # hub thread: one batch of ready protocol lines
Submit = Callable[[Callable[[], None]], Any]  # queue a callable for the hub thread
Count = Callable[[str, int], None]


def message_key(msg: Mapping[str, Any]) -> str:
    """Router timestamp plus content (M14): the same for every copy of one routed message."""
    parts = [str(msg.get(k) or "") for k in ("timestamp", "account", "username", "event", "text")]
    return hashlib.blake2b("\x00".join(parts).encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


@dataclass
class Entry:
    """One message ready for the hub: its key and its protocol lines (escaped, hub-encoded)."""

    key: str
    lines: List[str] = field(default_factory=list)

    def dump(self) -> Dict[str, Any]:
        return {"k": self.key, "lines": self.lines}

    @staticmethod
    def load(data: Any) -> Optional["Entry"]:
        if isinstance(data, dict) and isinstance(data.get("k"), str) and isinstance(data.get("lines"), list):
            return Entry(data["k"], [str(x) for x in data["lines"]])
        return None


@dataclass
class Baton:
    """What an instance hands to its successor: keys it showed, messages it did not show yet."""

    shown: List[str]
    waiting: List[Entry]


class Inlet:
    """The bounded, deduplicating FIFO between the reader thread and the hub thread."""

    def __init__(self, send: Send, submit: Submit, count: Count, held: bool = False) -> None:
        self._send = send
        self._submit = submit
        self._count = count
        self._lock = threading.Lock()
        self._waiting: Deque[Entry] = collections.deque()
        self._seen: Set[str] = set()
        self._seen_order: Deque[str] = collections.deque()
        self._shown: Deque[str] = collections.deque(maxlen=SEEN)
        self._held = held
        self._scheduled = False
        self._handed = False

    # ---------------------------------------------------------------- reader thread
    def known(self, key: str) -> bool:
        """Whether a message with this key was offered already (cheap: checked before formatting)."""
        return key in self._seen

    def offer(self, entry: Entry) -> bool:
        """Queue one message for main chat; False if it was a duplicate, dropped, or handed over."""
        with self._lock:
            if self._handed or entry.key in self._seen:
                return False
            self._remember(entry.key)
            if len(self._waiting) >= CAPACITY:
                dropped = True
            else:
                dropped = False
                self._waiting.append(entry)
            schedule = not dropped and self._want_drain()
        if dropped:
            self._count("in_dropped", 1)
            return False
        if schedule:
            self._schedule()
        return True

    def _remember(self, key: str) -> None:
        self._seen.add(key)
        self._seen_order.append(key)
        if len(self._seen_order) > SEEN:
            self._seen.discard(self._seen_order.popleft())

    def _want_drain(self) -> bool:
        """Under the lock: whether a drain item must be queued now (one at a time)."""
        if self._held or self._scheduled or not self._waiting:
            return False
        self._scheduled = True
        return True

    def _schedule(self) -> None:
        try:
            self._submit(self._drain)
        except Exception:  # noqa: BLE001 - the hub is far behind (QueueFull): retried by ``kick``
            with self._lock:
                self._scheduled = False

    def kick(self) -> None:
        """Any thread (the hub's tick): queue a drain if lines wait and none is queued."""
        with self._lock:
            schedule = self._want_drain()
        if schedule:
            self._schedule()

    # ---------------------------------------------------------------- hub thread
    def _drain(self) -> None:
        """One work item: up to BATCH lines in one send, in order; queues itself again if more wait."""
        lines: List[str] = []
        shown = 0
        with self._lock:
            if self._handed:
                self._scheduled = False
                return
            while self._waiting:
                entry = self._waiting[0]
                if lines and len(lines) + len(entry.lines) > BATCH:
                    break
                self._waiting.popleft()
                lines.extend(entry.lines)
                self._shown.append(entry.key)
                shown += 1
            again = bool(self._waiting)
            if not again:
                self._scheduled = False
        try:
            if lines:
                self._send(lines)
                self._count("in_relayed", shown)
        finally:  # a failed send (reported by the work queue) must not stop the ones after it
            if again:
                self._schedule()

    # ---------------------------------------------------------------- hand-over (component threads)
    def release(self, baton: Optional[Baton], read_back: Sequence[Entry] = ()) -> int:
        """Start showing, in order: the predecessor's waiting messages, then what was read back from
        the ring after its gap, then ours; each once, nothing it showed. Returns how many of ours
        it had shown."""
        with self._lock:
            mine = list(self._waiting)
            shown = set(baton.shown) if baton is not None else set()
            order: List[Entry] = []
            placed: Set[str] = set(shown)
            for entry in [*(baton.waiting if baton is not None else ()), *read_back, *mine]:
                if entry.key not in placed:
                    placed.add(entry.key)
                    order.append(entry)
            skipped = sum(1 for e in mine if e.key in shown)
            self._waiting = collections.deque(order)
            for key in placed:
                if key not in self._seen:
                    self._remember(key)
            self._held = False
            schedule = self._want_drain()
        if schedule:
            self._schedule()
        return skipped

    def hand_over(self, final: bool) -> Baton:
        """What was shown and what still waits, for the successor; ``final``: and stop showing for
        good (a successor takes over; otherwise this instance may start again after a pause)."""
        with self._lock:
            baton = Baton(list(self._shown), list(self._waiting))
            if final:
                self._handed = True
                self._waiting.clear()
            return baton

    def __len__(self) -> int:
        return len(self._waiting)
