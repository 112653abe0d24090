"""The hub state background threads may read, kept on the hub thread and published as snapshots.

Kept up to date incrementally from hooks (login, logout, MyINFO), with a slower reconciliation
against vh that also catches what hooks miss: hook calls whose arguments are not valid UTF-8 are
skipped by the plugin (F23), and the runtime may be loaded while users are already online.
Reconciliation runs in small steps inside the tick budget, so a big hub never stalls for a full pass.
Every hook stays O(1) in vh calls: a login's operator status comes from the class the login fetches
anyway (the hub lists class >= ``oplist_class`` as operators, F49.14) instead of from a
``GetOpList`` per login; the robot list (small) is re-read every tick, since no hook tells about
``AddRobot``/``DelRobot``. The op list itself is re-read when the robots change and at reconciliation
(which also catches class changes of online users and hidden op keys).

Strings: hook arguments are raw bytes read as UTF-8, vh results are converted from the hub encoding
(F23, F53-F55); ``HubCodec`` maps both to one displayed form, the cache's keys. vh is asked with the
vh-side nick. Share comes from ``GetMyINFO()[5]`` (F49.10), totals from ``GetUsersCount`` and
``GetTotalShareSize`` (a str, F49.47-48, F67-F68). ``vh.GetUserHost`` is never called: it may block
the hub thread on reverse DNS (F49.19).
"""

from __future__ import annotations

import time
import types
from dataclasses import replace
from typing import Callable, Dict, Iterator, Optional, Tuple

from vhctl_hub.events import EventFeed
from vhctl_hub.snapshot import OP_CLASS, HubSnapshot, UserInfo, class_name, parse_share, split_speed
from vhctl_hub.text import HubCodec
from vhctl_hub.vhaccess import VhAccess

#: Ticks the hub's user counter may disagree with the cache before we reconcile early.
MISMATCH_TICKS = 3
#: Shortest time between two early reconciliations, seconds.
EARLY_RECONCILE_GAP = 5.0


class HubCache:
    """Owned by the hub thread; ``snapshot()`` is safe from any thread."""

    def __init__(self, vh: VhAccess, feed: EventFeed, codec: Callable[[], HubCodec],
                 reconcile_seconds: float = 60.0) -> None:
        self._vh = vh
        self._feed = feed
        self._codec = codec
        self.reconcile_seconds = reconcile_seconds
        self._snapshot = HubSnapshot()
        self._users: Dict[str, UserInfo] = {}
        self._vh_nicks: Dict[str, str] = {}
        self._hub: Dict[str, object] = {}
        self._bots: Tuple[str, ...] = ()      # displayed nicks
        self._vh_bots: Tuple[str, ...] = ()   # as vh returned them, to notice a change cheaply
        self._ops: Dict[str, None] = {}       # displayed nicks, in the hub's order (an ordered set)
        self._oplist_class = OP_CLASS
        self._counters = (0, 0)
        self._countries: Dict[str, Optional[str]] = {}
        self._complete = False
        self._dirty = False
        self._job: Optional[Iterator[None]] = None
        self._last_reconcile = float("-inf")
        self._mismatch = 0
        self.active = False

    # ---------------------------------------------------------------- readers (any thread)
    def snapshot(self) -> HubSnapshot:
        """The latest published snapshot."""
        return self._snapshot

    def vh_nick(self, nick: str) -> str:
        """The vh-side name of a displayed nick (any thread; falls back to the hook conversion)."""
        return self._vh_nicks.get(nick) or self._codec().hook_to_vh(nick)

    # ---------------------------------------------------------------- hub thread
    def activate(self) -> None:
        """Start maintaining the cache (a component needs it); the first reconciliation starts now."""
        if not self.active:
            self.active = True
            self._last_reconcile = float("-inf")

    def on_login(self, nick: str) -> None:
        """OnUserLogin: fetch the user from vh (the hook gives only the nick)."""
        vh_nick = self._codec().hook_to_vh(nick)
        info = self._fetch(vh_nick, login_time=time.time())
        if info is None:
            return
        self._store(info, vh_nick)
        if info.user_class >= self._oplist_class:
            self._ops[info.nick] = None
        self._feed.publish("login", info.nick, user=info.to_dict())
        self._refresh_counters()

    def on_logout(self, nick: str) -> None:
        """OnUserLogout: forget the user."""
        if self._users.pop(nick, None) is not None:
            self._vh_nicks.pop(nick, None)
            self._ops.pop(nick, None)
            self._dirty = True
            self._feed.publish("logout", nick)
        self._refresh_counters()

    def on_myinfo(self, nick: str, desc: str, tag: str, speed: str, email: str, share: str) -> None:
        """OnParsedMsgMyINFO: update from the hook's fields (vh may still hold the old MyINFO).

        The first MyINFO comes before OnUserLogin (A3); that user is fetched at login instead.
        """
        old = self._users.get(nick)
        if old is None:
            return
        info = replace(old, description=desc, tag=tag, speed=split_speed(speed), email=email,
                        share=parse_share(share))
        if info != old:
            self._users[nick] = info
            self._dirty = True
            self._feed.publish("myinfo", nick, user=info.to_dict())
        self._refresh_counters()

    def tick(self, now: float, budget_s: float) -> None:
        """OnTimer: watch the hub's counters, run reconciliation steps within ``budget_s``."""
        if self._job is None:
            self._refresh_robots()
            online = self._refresh_counters()
            self._mismatch = self._mismatch + 1 if online != len(self._users) else 0
            early = self._mismatch >= MISMATCH_TICKS and now >= self._last_reconcile + EARLY_RECONCILE_GAP
            if now >= self._last_reconcile + self.reconcile_seconds or early:
                self._last_reconcile = now
                self._mismatch = 0
                self._job = self._reconcile()
        if self._job is not None:
            deadline = time.perf_counter() + budget_s
            try:
                while time.perf_counter() < deadline:
                    next(self._job)
            except StopIteration:
                self._job = None

    def publish(self) -> None:
        """Publish a new snapshot if anything changed (end of each hook)."""
        if not self._dirty:
            return
        self._dirty = False
        hub = self._hub
        self._snapshot = HubSnapshot(
            taken_at=time.time(), hub_name=str(hub.get("hub_name", "")),
            hub_desc=str(hub.get("hub_desc", "")), hub_topic=str(hub.get("hub_topic", "")),
            max_users=int(hub.get("max_users", 0)), version=str(hub.get("version", "")),
            users_online=self._counters[0], total_share=self._counters[1],
            users=types.MappingProxyType(dict(self._users)), bots=self._bots, ops=tuple(self._ops),
            complete=self._complete)

    # ---------------------------------------------------------------- internals
    def _refresh_counters(self) -> int:
        online = int(self._vh.call("GetUsersCount") or 0)
        share = parse_share(self._vh.call("GetTotalShareSize"))
        if (online, share) != self._counters:
            self._counters = (online, share)
            self._dirty = True
            self._feed.publish("stats", None, users_online=online, total_share=share)
        return online

    def _refresh_robots(self) -> None:
        """A robot came or went (``vh.AddRobot``/``DelRobot``, no hook tells): re-read both lists."""
        vh_bots = tuple(self._vh.call("GetBotList") or ())
        if vh_bots != self._vh_bots:
            self._read_lists(vh_bots)

    def _read_lists(self, vh_bots: Tuple[str, ...]) -> None:
        show = self._codec().display
        self._vh_bots = vh_bots
        self._bots = tuple(show(n) for n in vh_bots)
        self._ops = dict.fromkeys(show(n) for n in (self._vh.call("GetOpList") or ()))
        self._dirty = True

    def _store(self, info: UserInfo, vh_nick: str) -> None:
        self._users[info.nick] = info
        self._vh_nicks[info.nick] = vh_nick
        self._dirty = True

    def _fetch(self, vh_nick: str, login_time: Optional[float]) -> Optional[UserInfo]:
        call = self._vh.call
        myinfo = call("GetMyINFO", vh_nick)
        if not myinfo:
            return None
        show = self._codec().display
        _, desc, tag, speed, email, share = (str(x or "") for x in myinfo)
        user_class = call("GetUserClass", vh_nick)
        user_class = int(user_class) if isinstance(user_class, int) else 0
        ip = call("GetUserIP", vh_nick)
        cc = call("GetUserCC", vh_nick)
        return UserInfo(
            nick=show(vh_nick), user_class=user_class, class_name=class_name(user_class), ip=ip,
            host=None, country_code=cc, country=self._country(cc, ip), description=show(desc),
            tag=show(tag), speed=show(split_speed(speed)), email=show(email),
            share=parse_share(share), is_op=user_class >= OP_CLASS, login_time=login_time)

    def _country(self, cc: Optional[str], ip: Optional[str]) -> Optional[str]:
        if not cc or not ip:
            return None
        if cc not in self._countries:
            self._countries[cc] = self._vh.call("GetIPCN", ip)
        return self._countries[cc]

    def _reconcile(self) -> Iterator[None]:
        """Steps of one reconciliation; each ``yield`` is a point where the tick may stop."""
        get = self._vh.get_config
        self._hub = {"hub_name": get("hub_name"), "hub_desc": get("hub_desc"),
                     "hub_topic": self._vh.call("Topic") or get("hub_topic"),
                     "max_users": parse_share(get("max_users")), "version": get("hub_version")}
        oplist_class = get("oplist_class")
        self._oplist_class = int(oplist_class) if oplist_class.lstrip("-").isdigit() else OP_CLASS
        self._dirty = True
        yield
        bots = tuple(self._vh.call("GetBotList") or ())
        self._read_lists(bots)
        online = [n for n in (self._vh.call("GetNickList") or ()) if n not in bots]
        present = {self._codec().display(n) for n in online}
        for gone in [n for n in self._users if n not in present]:
            self.on_logout(gone)
        yield
        for vh_nick in online:
            nick = self._codec().display(vh_nick)
            old = self._users.get(nick)
            info = self._fetch(vh_nick, login_time=old.login_time if old else None)
            if info is None:
                continue
            if old is None:
                self._store(info, vh_nick)
                self._feed.publish("login", info.nick, user=info.to_dict())
            elif info != old:
                self._store(info, vh_nick)
                self._feed.publish("myinfo", info.nick, user=info.to_dict())
            yield
        self._complete = True
        self._dirty = True
        self._refresh_counters()
