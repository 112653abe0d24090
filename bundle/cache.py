"""The hub state background threads may read, kept on the hub thread and published as snapshots.

Kept up to date incrementally from hooks (login, logout, MyINFO), with a slower reconciliation
against vh that also catches what hooks miss: hook calls whose arguments are not valid UTF-8 are
skipped by the plugin (F23), and the runtime may be loaded while users are already online.

Cost on the hub thread, whatever the number of users:
- hooks are O(1) in vh calls and in work. A login's operator status comes from the class the login
  fetches anyway (the hub lists class >= ``oplist_class`` as operators, F49.14) instead of from a
  ``GetOpList`` per login.
- a snapshot is published at most once per OnTimer, only when something changed, and costs
  O(changes) (``usermap.UserTable``). Readers see data up to one timer period old (``taken_at``).
  Each snapshot is numbered (``seq``) and records how many hub events (login, logout and MyINFO
  hooks) it reflects; every event makes the next OnTimer publish, so a reader can tell the moment
  the API shows what a client just did (``HubSnapshot.current``).
- a reconciliation (every ``reconcile_seconds``, the hub's clock) runs in steps within a small slice
  of each tick (``runtime.reconcile_slice_ms``); a step that is one whole-list vh call, O(n) in the
  hub, begins a tick of its own. Each pass reads again the users whose hooks the plugin skips (F23)
  and a rotating 1/``VERIFY_PASSES`` of the others (MyINFO changes the hooks missed, class changes).
  When the user counter disagrees, and at least every ``LIST_PASSES`` passes, it also compares sets:
  the hub's nick list against the cache (login or logout hooks we missed; robots, as no hook tells
  about ``AddRobot``/``DelRobot``: the robot list is read only when the nick list shows a stranger
  or a robot gone) and the op list against the classes we know (class changes across
  ``oplist_class``); only the users those point at are read from vh. The very first pass, which
  fills the cache, may use the whole tick budget. A pass that outlasts ``reconcile_seconds`` just
  delays the next one.
- the hub's user counter (``GetUsersCount``, F67) is compared with the cache every tick to start a
  reconciliation early. Users the hub lists but vh cannot address (a UTF-8 nick a CP1252 hub cannot
  represent, F53) are counted as known, and an early pass that found nothing to change doubles the
  wait before the next early one (users still logging in are counted by the hub but not listed).

Strings: hook arguments are raw bytes read as UTF-8, vh results are converted from the hub encoding
(F23, F53-F55); ``HubCodec`` maps both to one displayed form, the cache's keys. vh is asked with the
vh-side nick. Share comes from ``GetMyINFO()[5]`` (F49.10), totals from ``GetUsersCount`` and
``GetTotalShareSize`` (a str, F49.47-48, F67-F68). ``vh.GetUserHost`` is called only when the hub's
``dns_lookup`` is on: then the hub resolved each host when the user connected and the call returns it;
with it off (the default) the call would block the hub thread on a reverse DNS lookup, every time
(F49.19, script_api.cpp), so ``host`` stays null. The setting is read with the hub's other settings
(every reconciliation); users already cached keep what they had.
"""

from __future__ import annotations

import bisect
import time
from dataclasses import replace
from itertools import filterfalse
from typing import Any, Callable, Dict, Generator, Iterator, List, Optional, Set, Tuple

from vhctl_hub.events import EventFeed
from vhctl_hub.snapshot import OP_CLASS, EventCount, HubSnapshot, UserInfo, class_name, parse_share, split_speed
from vhctl_hub.text import HubCodec
from vhctl_hub.usermap import UserTable
from vhctl_hub.vhaccess import VhAccess

#: Ticks the hub's user counter may disagree with the cache before we reconcile early.
MISMATCH_TICKS = 3
#: Shortest time between two early reconciliations, seconds (doubled after one that changed nothing).
EARLY_RECONCILE_GAP = 5.0
#: Every user is read from vh again once per this many reconciliations (an hour at the default).
VERIFY_PASSES = 60
#: The hub's nick and op lists (O(n) vh calls) are compared with the cache when the user counter
#: disagrees with it, and at least every this many reconciliations (robots, class changes across
#: ``oplist_class``, and what counters cannot show).
LIST_PASSES = 5

Fields = Dict[str, Any]


class HubCache:
    """Owned by the hub thread; ``snapshot()`` and ``summary()`` are safe from any thread."""

    def __init__(self, vh: VhAccess, feed: EventFeed, codec: Callable[[], HubCodec],
                 reconcile_seconds: float = 60.0) -> None:
        self._vh = vh
        self._feed = feed
        self._codec = codec
        self.reconcile_seconds = reconcile_seconds
        self._clock = EventCount()
        self._snapshot = HubSnapshot(clock=self._clock)
        self._users = UserTable()
        self._vh_nicks: Dict[str, str] = {}
        self._blind: Set[str] = set()         # users whose hooks the plugin skips (F23)
        self._op_users: Set[str] = set()      # users of class >= oplist_class as last read
        self._unfetchable: Set[str] = set()   # users the hub lists but vh cannot address (F53)
        self._came: Set[str] = set()          # logins seen while a reconciliation runs
        self._left: Set[str] = set()          # logouts seen while a reconciliation runs
        self._hub: Dict[str, object] = {}
        self._bots: Tuple[str, ...] = ()      # displayed nicks
        self._ops: Dict[str, None] = {}       # displayed nicks, in the hub's order (an ordered set)
        self._oplist_class = OP_CLASS
        #: The hub's dns_lookup: hosts were resolved at connect and vh.GetUserHost does not block.
        self._hub_resolves = False
        self._counters = (0, 0)
        self._countries: Dict[str, Optional[str]] = {}
        self._complete = False
        self._dirty = False
        self._job: Optional[Iterator[bool]] = None
        self._last_reconcile = float("-inf")
        self._early_gap = EARLY_RECONCILE_GAP
        self._mismatch = 0
        self._since_list = 0                  # reconciliations since the last one that read the nick list
        self._verify_from = 0                 # first arrival chunk of the next verification window
        self.passes = 0                       # reconciliations started
        self.active = False

    # ---------------------------------------------------------------- readers (any thread)
    def snapshot(self) -> HubSnapshot:
        """The latest published snapshot."""
        return self._snapshot

    def vh_nick(self, nick: str) -> str:
        """The vh-side name of a displayed nick (any thread; falls back to the hook conversion)."""
        return self._vh_nicks.get(nick) or self._codec().hook_to_vh(nick)

    @property
    def complete(self) -> bool:
        """The first reconciliation has finished."""
        return self._complete

    @property
    def reconciling(self) -> bool:
        return self._job is not None

    def summary(self) -> Dict[str, Any]:
        """For the status file: size, reconciliation activity, users vh cannot address."""
        return {"users": len(self._users), "complete": self._complete, "reconciling": self.reconciling,
                "passes": self.passes, "unfetchable": len(self._unfetchable)}

    # ---------------------------------------------------------------- hub thread
    def activate(self) -> None:
        """Start maintaining the cache (a component needs it); the first reconciliation starts now."""
        if not self.active:
            self.active = True
            self._last_reconcile = float("-inf")

    def on_login(self, nick: str) -> None:
        """OnUserLogin: fetch the user from vh (the hook gives only the nick)."""
        self._event()
        vh_nick = self._codec().hook_to_vh(nick)
        fetched = self._fetch(vh_nick, login_time=time.time())
        if fetched is None:
            self._unfetchable.add(nick)
        else:
            info, blind = fetched
            self._store(info, vh_nick, blind)
            if info.user_class >= self._oplist_class:
                self._ops[info.nick] = None
            if self._job is not None:
                self._came.add(info.nick)
            self._feed.publish("login", info.nick, user=info.to_dict())
        self._refresh_counters()

    def on_logout(self, nick: str) -> None:
        """OnUserLogout: forget the user."""
        self._event()
        if not self._drop(nick):
            self._unfetchable.discard(nick)
        if self._job is not None:
            self._left.add(nick)
        self._refresh_counters()

    def on_myinfo(self, nick: str, desc: str, tag: str, speed: str, email: str, share: str) -> None:
        """OnParsedMsgMyINFO: update from the hook's fields (vh may still hold the old MyINFO).

        The first MyINFO comes before OnUserLogin (A3); that user is fetched at login instead.
        """
        self._event()
        old = self._users.get(nick)
        if old is None:
            return
        info = replace(old, description=desc, tag=tag, speed=split_speed(speed), email=email,
                       share=parse_share(share))
        if info != old:
            self._users.put(info)
            self._dirty = True
            self._feed.publish("myinfo", nick, user=info.to_dict())
        self._refresh_counters()

    def tick(self, now: float, slice_s: float) -> None:
        """OnTimer (``now``: the hub's clock, F38): watch the hub's user counter, run reconciliation
        steps for about ``slice_s``."""
        if now < self._last_reconcile:  # the hub's clock went back: start counting again
            self._last_reconcile = now
        if self._job is None:
            online = self._refresh_counters()
            known = len(self._users) + len(self._unfetchable)
            self._mismatch = self._mismatch + 1 if online != known else 0
            early = self._mismatch >= MISMATCH_TICKS and now >= self._last_reconcile + self._early_gap
            if now >= self._last_reconcile + self.reconcile_seconds or early:
                self._last_reconcile = now
                self._mismatch = 0
                self.passes += 1
                self._since_list += 1
                with_list = online != known or not self._complete or self._since_list >= LIST_PASSES
                if with_list:
                    self._since_list = 0
                self._job = self._reconcile(with_list, early)
        if self._job is not None:
            deadline = time.perf_counter() + slice_s
            try:
                while not next(self._job) and time.perf_counter() < deadline:
                    pass
            except StopIteration:
                self._job = None

    def publish(self) -> None:
        """Publish a new snapshot if anything changed (once per OnTimer)."""
        if not self._dirty:
            return
        self._dirty = False
        hub = self._hub
        self._snapshot = HubSnapshot(
            taken_at=time.time(), seq=self._snapshot.seq + 1, events=self._clock.value, clock=self._clock,
            hub_name=str(hub.get("hub_name", "")),
            hub_desc=str(hub.get("hub_desc", "")), hub_topic=str(hub.get("hub_topic", "")),
            max_users=int(hub.get("max_users", 0)), version=str(hub.get("version", "")),
            users_online=self._counters[0], total_share=self._counters[1],
            users=self._users.publish(), bots=self._bots, ops=tuple(self._ops), complete=self._complete)

    def _event(self) -> None:
        """A hook brought news: count it and publish at the next OnTimer, even if nothing the
        snapshot shows changed, so that its ``events`` catches up with the hub."""
        self._clock.value += 1
        self._dirty = True

    # ---------------------------------------------------------------- internals: counters and lists
    def _refresh_counters(self) -> int:
        online = int(self._vh.call("GetUsersCount") or 0)
        share = parse_share(self._vh.call("GetTotalShareSize"))
        if (online, share) != self._counters:
            self._counters = (online, share)
            self._dirty = True
            self._feed.publish("stats", None, users_online=online, total_share=share)
        return online

    def _set_ops(self, vh_ops: Any) -> None:
        """The operators (displayed nicks) as the hub lists them, in its order."""
        show = self._codec().display
        ops = dict.fromkeys(show(n) for n in vh_ops)
        if list(ops) != list(self._ops):
            self._ops = ops
            self._dirty = True

    def _read_hub(self) -> None:
        get = self._vh.get_config
        hub = {"hub_name": get("hub_name"), "hub_desc": get("hub_desc"),
               "hub_topic": self._vh.call("Topic") or get("hub_topic"),
               "max_users": parse_share(get("max_users")), "version": get("hub_version")}
        if hub != self._hub:
            self._hub = hub
            self._dirty = True
        self._hub_resolves = get("dns_lookup") == "1"
        text = get("oplist_class")
        oplist_class = int(text) if text.lstrip("-").isdigit() else OP_CLASS
        if oplist_class != self._oplist_class:  # rare (a hub setting): one O(n) pass over the users
            self._oplist_class = oplist_class
            self._op_users = {u.nick for u in self._users.values() if u.user_class >= oplist_class}

    # ---------------------------------------------------------------- internals: users
    def _store(self, info: UserInfo, vh_nick: str, blind: bool) -> None:
        self._users.put(info)
        self._vh_nicks[info.nick] = vh_nick
        self._flag(info, blind)
        self._dirty = True

    def _flag(self, info: UserInfo, blind: bool) -> None:
        """Keep the sets a reconciliation checks: hook-blind users, users of operator class."""
        (self._blind.add if blind else self._blind.discard)(info.nick)
        (self._op_users.add if info.user_class >= self._oplist_class else self._op_users.discard)(info.nick)

    def _drop(self, nick: str) -> bool:
        if self._users.pop(nick) is None:
            return False
        self._vh_nicks.pop(nick, None)
        self._ops.pop(nick, None)
        self._blind.discard(nick)
        self._op_users.discard(nick)
        self._dirty = True
        self._feed.publish("logout", nick)
        return True

    def _read(self, vh_nick: str) -> Optional[Tuple[Fields, bool]]:
        """A user's MyINFO fields and class as ``UserInfo`` fields, and whether the plugin skips
        their hooks (some of their text is not UTF-8, F23). None when vh cannot fetch them."""
        call = self._vh.call
        try:
            myinfo = call("GetMyINFO", vh_nick)
            if not myinfo:
                return None
            user_class = call("GetUserClass", vh_nick)
        except UnicodeError:  # text the hub encoding cannot carry either way (F53, F54)
            return None
        codec = self._codec()
        show = codec.display
        _, desc, tag, speed, email, share = (str(x or "") for x in myinfo)
        user_class = int(user_class) if isinstance(user_class, int) else 0
        texts = (vh_nick, desc, tag, speed, email)
        blind = not codec.identity and any(not t.isascii() and show(t) == t for t in texts)
        return {"description": show(desc), "tag": show(tag), "speed": show(split_speed(speed)),
                "email": show(email), "share": parse_share(share), "user_class": user_class,
                "class_name": class_name(user_class), "is_op": user_class >= OP_CLASS}, blind

    def _fetch(self, vh_nick: str, login_time: Optional[float]) -> Optional[Tuple[UserInfo, bool]]:
        """A whole user from vh (and the ``blind`` flag of ``_read``); None when vh cannot."""
        read = self._read(vh_nick)
        if read is None:
            return None
        fields, blind = read
        try:
            ip = self._vh.call("GetUserIP", vh_nick)
            cc = self._vh.call("GetUserCC", vh_nick)
            host = self._vh.call("GetUserHost", vh_nick) if self._hub_resolves else None
        except UnicodeError:
            return None
        return UserInfo(nick=self._codec().display(vh_nick), ip=ip, host=host or None, country_code=cc,
                        country=self._country(cc, ip), login_time=login_time, **fields), blind

    def _verify(self, nick: str) -> int:
        """Read a cached user's MyINFO and class from vh again; 1 if that changed the cache."""
        old = self._users.get(nick)
        if old is None:
            return 0
        vh_nick = self._vh_nicks.get(nick, nick)
        read = self._read(vh_nick)
        if read is None:
            return 0
        fields, blind = read
        info = replace(old, **fields)
        if info == old:
            self._flag(old, blind)
            return 0
        self._store(info, vh_nick, blind)
        self._feed.publish("myinfo", nick, user=info.to_dict())
        return 1

    def _country(self, cc: Optional[str], ip: Optional[str]) -> Optional[str]:
        if not cc or not ip:
            return None
        if cc not in self._countries:
            self._countries[cc] = self._vh.call("GetIPCN", ip)
        return self._countries[cc]

    # ---------------------------------------------------------------- internals: reconciliation
    def _reconcile(self, with_list: bool, early: bool) -> Iterator[bool]:
        """Steps of one reconciliation; each ``yield`` is a point where the tick may stop. It yields
        True where the tick must stop: the next step is O(n) (one whole-list vh call, or set
        operations over all users), so it begins the next tick's slice instead of running past the
        end of this one. The first pass, which has the whole tick budget, runs on instead."""
        self._came, self._left = set(), set()
        long_next = self._complete
        self._read_hub()
        changes = 0
        suspects = set(self._blind)
        if with_list:
            yield long_next
            listed = self._vh.call("GetNickList") or []
            if listed or not self._counters[0]:  # [] with users online: a nick vh cannot decode (F54)
                yield long_next
                present = self._read_nick_list(listed)
                changes += yield from self._compare(present)
            yield long_next
            self._set_ops(self._vh.call("GetOpList") or ())
            suspects |= self._op_users ^ self._ops.keys()   # class changes across oplist_class
        yield False
        if self._complete:  # the first pass fetched every user just now
            for nick in suspects & self._users.nicks().keys():
                changes += self._verify(nick)
                yield False
            for nick in self._verify_window():
                changes += self._verify(nick)
                yield False
        if changes or not self._complete:
            self._complete = True
            self._dirty = True
        self._refresh_counters()
        if changes:
            self._early_gap = EARLY_RECONCILE_GAP
        elif early:  # the counter disagrees for a reason no list shows (users still logging in, F67)
            self._early_gap = min(max(self.reconcile_seconds, EARLY_RECONCILE_GAP), 2 * self._early_gap)

    def _compare(self, present: Dict[str, str]) -> Generator[bool, None, int]:
        """Steps that bring the cache in line with the hub's nick list (``present``: displayed ->
        vh nick, robots included); returns how many users changed."""
        long_next = self._complete
        yield long_next
        strangers = present.keys() - self._users.nicks().keys() - set(self._bots)
        if strangers - self._unfetchable or not present.keys() >= set(self._bots):
            yield long_next   # a robot came or went (no hook tells): read the robot list
            show = self._codec().display
            bots = tuple(show(n) for n in (self._vh.call("GetBotList") or ()))
            strangers -= set(bots)
            if bots != self._bots:
                self._bots = bots
                self._dirty = True
        yield long_next
        gone = self._users.nicks().keys() - present.keys() - self._came
        changes = 0
        for nick in gone:
            yield False
            changes += self._drop(nick)   # logouts the hooks missed
        unfetchable: Set[str] = set()
        for nick in strangers:
            yield False
            changes += self._add(nick, present[nick], unfetchable)  # logins the hooks missed
        self._unfetchable = unfetchable
        return changes

    def _read_nick_list(self, listed: List[str]) -> Dict[str, str]:
        """Displayed -> vh nick for the hub's nick list (robots included). Mostly C-level work:
        only the non-ASCII nicks of a converting hub encoding need Python."""
        present = dict(zip(listed, listed))
        codec = self._codec()
        if not codec.identity:
            for vh_nick in list(filterfalse(str.isascii, listed)):
                del present[vh_nick]
                present[codec.display(vh_nick)] = vh_nick
        return present

    def _add(self, nick: str, vh_nick: str, unfetchable: Set[str]) -> int:
        """A listed user missing from the cache; 1 if added, else remembered as unfetchable."""
        if self._users.get(nick) is not None or nick in self._left:  # a hook was quicker
            return 0
        fetched = self._fetch(vh_nick, login_time=None)
        if fetched is None:
            unfetchable.add(nick)
            return 0
        info, blind = fetched
        self._store(info, vh_nick, blind)
        self._feed.publish("login", info.nick, user=info.to_dict())
        return 1

    def _verify_window(self) -> Iterator[str]:
        """The users of the next 1/VERIFY_PASSES of the arrival chunks, in turn."""
        ids = self._users.chunk_ids()
        take = -(-len(ids) // VERIFY_PASSES)
        start = bisect.bisect_left(ids, self._verify_from)
        chosen = (ids[start:] + ids[:start])[:take]
        if chosen:
            self._verify_from = chosen[-1] + 1
        for chunk_id in chosen:
            yield from self._users.chunk_nicks(chunk_id)
