"""The hub state background threads may read, kept on the hub thread and published as snapshots.

Four parts, each with one job:
- ``HubCache`` (here): the hooks' updates and publishing;
- ``userstore.UserStore``: the online users and the vh reads that fill them in;
- ``hubinfo.HubInfo``: the hub's settings, counters, robots and operators;
- ``reconcile.Reconciler``: the slower check against vh that catches what hooks miss, in named steps
  across ticks.
``build_cache`` puts them together.

Cost on the hub thread, whatever the number of users:
- hooks are O(1) in vh calls and in work. A login's operator status comes from the class the login
  fetches anyway (the hub lists class >= ``oplist_class`` as operators, F49.14) instead of from a
  ``GetOpList`` per login.
- a snapshot is published at most once per OnTimer, only when something changed, and costs
  O(changes) (``usermap.UserTable``). Readers see data up to one timer period old (``taken_at``).
  Each snapshot is numbered (``seq``) and records how many hub events (login, logout and MyINFO
  hooks) it reflects; every event makes the next OnTimer publish, so a reader can tell the moment
  the API shows what a client just did (``HubSnapshot.current``).
- reconciliation takes a small slice of each tick (see ``reconcile``).

Strings: hook arguments are raw bytes read as UTF-8, vh results are converted from the hub encoding
(F23, F53-F55); ``HubCodec`` maps both to one displayed form, the cache's keys.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict

from vhctl_hub.events import EventFeed
from vhctl_hub.hubinfo import HubInfo
from vhctl_hub.reconcile import Reconciler
from vhctl_hub.snapshot import Changes, EventCount, HubSnapshot
from vhctl_hub.text import HubCodec
from vhctl_hub.userstore import UserStore
from vhctl_hub.vhaccess import VhAccess


class HubCache:
    """Owned by the hub thread; ``snapshot()``, ``vh_nick()`` and ``summary()`` are safe from any thread."""

    def __init__(self, hub: HubInfo, users: UserStore, reconciler: Reconciler, changes: Changes,
                 codec: Callable[[], HubCodec]) -> None:
        self._hub = hub
        self._users = users
        self._reconciler = reconciler
        self._changes = changes
        self._codec = codec
        self._clock = EventCount()
        self._snapshot = HubSnapshot(clock=self._clock)
        self.active = False

    # ---------------------------------------------------------------- readers (any thread)
    def snapshot(self) -> HubSnapshot:
        """The latest published snapshot."""
        return self._snapshot

    def vh_nick(self, nick: str) -> str:
        """The vh-side name of a displayed nick (any thread; falls back to the hook conversion)."""
        return self._users.vh_nick(nick)

    @property
    def complete(self) -> bool:
        """The first reconciliation has finished."""
        return self._reconciler.complete

    @property
    def reconciling(self) -> bool:
        return self._reconciler.running

    @property
    def passes(self) -> int:
        """Reconciliations started."""
        return self._reconciler.passes

    def summary(self) -> Dict[str, Any]:
        """For the status file: size, reconciliation activity, users vh cannot address."""
        return {"users": len(self._users), "complete": self.complete, "reconciling": self.reconciling,
                "passes": self.passes, "unfetchable": len(self._users.unfetchable)}

    # ---------------------------------------------------------------- hub thread
    def activate(self) -> None:
        """Start maintaining the cache (a component needs it); the first reconciliation starts now."""
        if not self.active:
            self.active = True
            self._reconciler.restart()

    def reconcile_now(self) -> None:
        """Hub thread: the next tick starts a reconciliation, whatever the period (the benchmark
        forces passes back to back this way)."""
        self._reconciler.restart()

    def on_login(self, nick: str) -> None:
        """OnUserLogin: fetch the user from vh (the hook gives only the nick)."""
        self._event()
        info = self._users.login(self._codec().hook_to_vh(nick), login_time=time.time())
        if info is None:
            self._users.unfetchable.add(nick)
        else:
            if info.user_class >= self._hub.oplist_class:
                self._hub.ops[info.nick] = None
            self._reconciler.came(info.nick)
        self._hub.refresh_counters()

    def on_logout(self, nick: str) -> None:
        """OnUserLogout: forget the user."""
        self._event()
        if not self._users.logout(nick):
            self._users.unfetchable.discard(nick)
        self._reconciler.left(nick)
        self._hub.refresh_counters()

    def on_myinfo(self, nick: str, desc: str, tag: str, speed: str, email: str, share: str) -> None:
        """OnParsedMsgMyINFO: update from the hook's fields (vh may still hold the old MyINFO).

        The first MyINFO comes before OnUserLogin (A3); that user is fetched at login instead.
        """
        self._event()
        if self._users.myinfo(nick, desc, tag, speed, email, share):
            self._hub.refresh_counters()

    def tick(self, now: float, slice_s: float) -> None:
        """OnTimer (``now``: the hub's clock, F38): reconciliation steps for about ``slice_s``."""
        self._reconciler.tick(now, slice_s)

    def publish(self) -> None:
        """Publish a new snapshot if anything changed (once per OnTimer)."""
        if not self._changes.take():
            return
        self._snapshot = HubSnapshot(
            taken_at=time.time(), seq=self._snapshot.seq + 1, events=self._clock.value, clock=self._clock,
            users=self._users.publish(), complete=self.complete, **self._hub.snapshot_fields())

    def _event(self) -> None:
        """A hook brought news: count it and publish at the next OnTimer, even if nothing the
        snapshot shows changed, so that its ``events`` catches up with the hub."""
        self._clock.value += 1
        self._changes.mark()


def build_cache(vh: VhAccess, feed: EventFeed, codec: Callable[[], HubCodec],
                reconcile_seconds: Callable[[], float]) -> HubCache:
    """The cache and its parts, sharing one ``Changes`` flag."""
    changes = Changes()
    hub = HubInfo(vh, feed, codec, changes)
    users = UserStore(vh, feed, codec, hub, changes)
    return HubCache(hub, users, Reconciler(vh, codec, hub, users, changes, reconcile_seconds), changes, codec)
