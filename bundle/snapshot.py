"""Immutable pictures of the hub for background threads (the API) to read without any lock.

The hub thread builds a new ``HubSnapshot`` whenever something changed and publishes it with one
attribute assignment; readers just take the current object. Nothing in here touches vh.
"""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Tuple

#: Verlihub class numbers and their names (vh-plugin.md F65).
CLASS_NAMES = {-1: "pinger", 0: "guest", 1: "registered", 2: "vip", 3: "operator", 4: "cheef",
               5: "admin", 10: "master"}

#: Lowest operator class (F65).
OP_CLASS = 3


def class_name(user_class: int) -> str:
    """The name of a Verlihub user class, "unknown" for numbers the hub does not define."""
    return CLASS_NAMES.get(user_class, "unknown")


@dataclass(frozen=True)
class UserInfo:
    """One online user as the hub knows them (robots are not users; see ``HubSnapshot.bots``)."""

    nick: str
    user_class: int
    class_name: str
    ip: Optional[str]
    host: Optional[str]
    country_code: Optional[str]
    country: Optional[str]
    description: str
    tag: str
    speed: str
    email: str
    share: int
    is_op: bool
    login_time: Optional[float]

    def to_dict(self) -> Dict[str, Any]:
        """Plain JSON-ready data (a flat copy: every field is a scalar)."""
        return dict(self.__dict__)


class EventCount:
    """How many hub events (login, logout and MyINFO hooks) the cache has applied so far: one
    mutable counter, written by the hub thread only and shared by every snapshot of one cache, so
    that a reader holding a snapshot can tell whether the hub has moved on since (readiness that a
    client can check, not a guess from time)."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


class Changes:
    """Whether the cache holds something the published snapshot does not show yet: set by the parts
    that keep the hub state (hub thread), taken by the one that publishes, once per OnTimer."""

    __slots__ = ("pending",)

    def __init__(self) -> None:
        self.pending = False

    def mark(self) -> None:
        self.pending = True

    def take(self) -> bool:
        """Whether a snapshot is due; clears the flag."""
        due, self.pending = self.pending, False
        return due


@dataclass(frozen=True)
class HubSnapshot:
    """The hub at ``taken_at`` (Unix seconds): the ``seq``-th snapshot of its cache, reflecting the
    first ``events`` hub events; ``clock.value`` is the number applied by now."""

    taken_at: float = 0.0
    seq: int = 0
    events: int = 0
    clock: EventCount = field(default_factory=EventCount, compare=False, repr=False)
    hub_name: str = ""
    hub_desc: str = ""
    hub_topic: str = ""
    max_users: int = 0
    version: str = ""
    users_online: int = 0
    total_share: int = 0
    users: Mapping[str, UserInfo] = field(default_factory=lambda: types.MappingProxyType({}))
    bots: Tuple[str, ...] = ()
    ops: Tuple[str, ...] = ()
    complete: bool = False

    @property
    def current(self) -> bool:
        """No hub event has been applied since this snapshot was taken."""
        return self.events >= self.clock.value


def parse_share(value: Optional[str]) -> int:
    """A MyINFO share field as the hub reads it: non-numeric or longer than 18 digits is 0 (F63)."""
    if not value or len(value) > 18 or not value.isdigit():
        return 0
    return int(value)


def split_speed(speed: str) -> str:
    """The connection text without the trailing status byte the hub keeps in it (F28, A3)."""
    if speed and ord(speed[-1]) < 32:
        return speed[:-1]
    return speed
