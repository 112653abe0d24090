"""The users of a snapshot: a read-only mapping that the hub thread republishes in O(changes).

Why not a copy of one dict per snapshot: at 5,000 users ``dict(users)`` costs 60-400 µs of hub-thread
time (more once logouts left holes), every time anything changed. Here the hub thread's ``UserTable``
keeps the users in many small dicts and, when it publishes, copies only those that changed since the
last publish; unchanged ones are shared by consecutive ``UserMap`` objects. Nothing published is
ever mutated, so readers on any thread need no lock.

Two groupings of the same users:
- by ``hash(nick)`` into ``BUCKETS`` dicts: ``get``/``in``/``[]`` look in one bucket;
- by arrival into chunks of ``CHUNK`` users: iteration is in arrival order (login order; the users
  a reconciliation found come last), like the one dict this replaces, so API pages stay stable when
  users log in. A chunk that empties is dropped, so there are never more chunks than users.
"""

from __future__ import annotations

import types
from collections.abc import ItemsView, ValuesView
from itertools import chain
from typing import Dict, Iterator, List, Mapping, Optional, Set, Tuple

from vhctl_hub.snapshot import UserInfo

#: Hash buckets (a power of two): ~20 users each at 5,000 users, so a changed bucket copies fast.
BUCKETS = 256
_MASK = BUCKETS - 1
#: Users per arrival chunk.
CHUNK = 64
_NONE: Mapping[str, UserInfo] = types.MappingProxyType({})


class UserMap(Mapping[str, UserInfo]):
    """Read-only ``nick -> UserInfo`` (any thread); iterates in arrival order."""

    __slots__ = ("_buckets", "_chunks", "_len")

    def __init__(self, buckets: Tuple[Mapping[str, UserInfo], ...] = (_NONE,) * BUCKETS,
                 chunks: Tuple[Mapping[str, UserInfo], ...] = (), length: int = 0) -> None:
        self._buckets = buckets
        self._chunks = chunks
        self._len = length

    def __getitem__(self, nick: str) -> UserInfo:
        return self._buckets[hash(nick) & _MASK][nick]

    def get(self, nick: str, default: Optional[UserInfo] = None) -> Optional[UserInfo]:  # type: ignore
        return self._buckets[hash(nick) & _MASK].get(nick, default)

    def __contains__(self, nick: object) -> bool:
        return nick in self._buckets[hash(nick) & _MASK]

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[str]:
        return chain.from_iterable(self._chunks)

    def values(self) -> "_Values":  # type: ignore[override]
        return _Values(self)

    def items(self) -> "_Items":  # type: ignore[override]
        return _Items(self)

    def __repr__(self) -> str:
        return f"UserMap({len(self)} users)"


class _Values(ValuesView):  # type: ignore[type-arg]
    """Iterates the chunks' values directly (the generic view would look up every key)."""

    def __init__(self, users: UserMap) -> None:
        super().__init__(users)
        self._chunks = users._chunks

    def __iter__(self) -> Iterator[UserInfo]:
        return chain.from_iterable(chunk.values() for chunk in self._chunks)


class _Items(ItemsView):  # type: ignore[type-arg]
    def __init__(self, users: UserMap) -> None:
        super().__init__(users)
        self._chunks = users._chunks

    def __iter__(self) -> Iterator[Tuple[str, UserInfo]]:
        return chain.from_iterable(chunk.items() for chunk in self._chunks)


class UserTable:
    """The hub thread's users; ``publish()`` hands out an immutable ``UserMap`` of them."""

    def __init__(self) -> None:
        self._buckets: List[Dict[str, UserInfo]] = [{} for _ in range(BUCKETS)]
        self._chunks: Dict[int, Dict[str, UserInfo]] = {}
        self._chunk_of: Dict[str, int] = {}
        self._arrivals = 0
        self._changed_buckets: Set[int] = set()
        self._changed_chunks: Set[int] = set()
        self._out_buckets: List[Mapping[str, UserInfo]] = [_NONE] * BUCKETS
        self._out_chunks: Dict[int, Mapping[str, UserInfo]] = {}   # chunk id -> copy, in arrival order
        self._published = UserMap()

    def get(self, nick: str) -> Optional[UserInfo]:
        return self._buckets[hash(nick) & _MASK].get(nick)

    def __len__(self) -> int:
        return len(self._chunk_of)

    def nicks(self) -> Mapping[str, int]:
        """The nicks now in the table, as a mapping whose keys support set operations (no copy)."""
        return self._chunk_of

    def values(self) -> Iterator[UserInfo]:
        """The users now in the table (do not change the table while iterating)."""
        return chain.from_iterable(chunk.values() for chunk in self._chunks.values())

    def chunk_ids(self) -> List[int]:
        """The arrival chunks in use, ascending."""
        return list(self._chunks)

    def chunk_nicks(self, chunk_id: int) -> List[str]:
        """The nicks of one arrival chunk (a copy; empty when it is gone)."""
        return list(self._chunks.get(chunk_id, ()))

    def put(self, info: UserInfo) -> None:
        """Add a user at the end of the order, or replace one in place."""
        nick = info.nick
        bucket = hash(nick) & _MASK
        self._buckets[bucket][nick] = info
        self._changed_buckets.add(bucket)
        chunk_id = self._chunk_of.get(nick)
        if chunk_id is None:
            chunk_id = self._chunk_of[nick] = self._arrivals // CHUNK
            self._arrivals += 1
            if chunk_id not in self._chunks:
                self._chunks[chunk_id] = {}
                self._out_chunks.setdefault(chunk_id, _NONE)  # its place in the order
        self._chunks[chunk_id][nick] = info
        self._changed_chunks.add(chunk_id)

    def pop(self, nick: str) -> Optional[UserInfo]:
        """Remove a user; the removed entry, None if absent."""
        bucket = hash(nick) & _MASK
        info = self._buckets[bucket].pop(nick, None)
        if info is None:
            return None
        self._changed_buckets.add(bucket)
        chunk_id = self._chunk_of.pop(nick)
        chunk = self._chunks[chunk_id]
        del chunk[nick]
        if not chunk:
            del self._chunks[chunk_id]
        self._changed_chunks.add(chunk_id)
        return info

    def publish(self) -> UserMap:
        """The users as of now; the same object as last time when nothing changed.

        Costs the copies of the changed buckets and chunks plus two tuples (BUCKETS entries and one
        per chunk), whatever the number of users."""
        if not (self._changed_buckets or self._changed_chunks):
            return self._published
        for bucket in self._changed_buckets:
            live = self._buckets[bucket]
            self._out_buckets[bucket] = dict(live) if live else _NONE
        for chunk_id in self._changed_chunks:
            chunk = self._chunks.get(chunk_id)
            if chunk:
                self._out_chunks[chunk_id] = dict(chunk)
            else:
                self._out_chunks.pop(chunk_id, None)
        self._changed_buckets.clear()
        self._changed_chunks.clear()
        self._published = UserMap(tuple(self._out_buckets), tuple(self._out_chunks.values()), len(self))
        return self._published
