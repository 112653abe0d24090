"""Reconciliation: the user store and the hub info checked against vh, in steps across ticks.

It catches what the hooks miss: hook calls whose arguments are not valid UTF-8 are skipped by the
plugin (F23), and the runtime may be loaded while users are already online. Hub thread only.

- A reconciliation (every ``reconcile_seconds``, the hub's clock) runs in steps within a small slice
  of each tick (``runtime.reconcile_slice_ms``). Each step ends with a ``Step``: ``GO_ON`` where the
  tick may run the next one, ``NEXT_IS_LONG`` where the next is one whole-list vh call or set
  operations over all users (O(n) in the hub), which begins the next tick's slice instead of running
  past the end of this one. The very first pass, which fills the store, may use the whole tick
  budget and never waits for a tick.
- Each pass reads again the users whose hooks the plugin skips (F23) and a rotating
  1/``VERIFY_PASSES`` of the others (MyINFO changes the hooks missed, class changes). When the user
  counter disagrees, and at least every ``LIST_PASSES`` passes, it also compares sets: the hub's nick
  list against the store (login or logout hooks we missed; robots, as no hook tells about
  ``AddRobot``/``DelRobot``: the robot list is read only when the nick list shows a stranger or a
  robot gone) and the op list against the classes we know (class changes across ``oplist_class``);
  only the users those point at are read from vh. A pass that outlasts ``reconcile_seconds`` just
  delays the next one.
- The hub's user counter (``GetUsersCount``, F67) is compared with the store every tick to start a
  reconciliation early. Users the hub lists but vh cannot address (F53) are counted as known, and an
  early pass that found nothing to change doubles the wait before the next early one (users still
  logging in are counted by the hub but not listed).
"""

from __future__ import annotations

import bisect
import enum
import time
from itertools import filterfalse
from typing import Callable, Dict, Generator, Iterator, List, Optional, Set

from vhctl_hub.hubinfo import HubInfo
from vhctl_hub.snapshot import Changes
from vhctl_hub.text import HubCodec
from vhctl_hub.userstore import UserStore
from vhctl_hub.vhaccess import VhAccess

#: Ticks the hub's user counter may disagree with the store before we reconcile early.
MISMATCH_TICKS = 3
#: Shortest time between two early reconciliations, seconds (doubled after one that changed nothing).
EARLY_RECONCILE_GAP = 5.0
#: Every user is read from vh again once per this many reconciliations (an hour at the default).
VERIFY_PASSES = 60
#: The hub's nick and op lists (O(n) vh calls) are compared with the store when the user counter
#: disagrees with it, and at least every this many reconciliations (robots, class changes across
#: ``oplist_class``, and what counters cannot show).
LIST_PASSES = 5


class Step(enum.Enum):
    """What a finished reconciliation step tells the tick that runs it."""

    #: The next step is short: run it now if the slice has time left.
    GO_ON = "go on"
    #: The next step is O(n): it begins the next tick's slice.
    NEXT_IS_LONG = "next is long"


Steps = Generator[Step, None, int]


class Reconciler:
    """Decides when a reconciliation is due and runs its steps, tick by tick."""

    def __init__(self, vh: VhAccess, codec: Callable[[], HubCodec], hub: HubInfo, users: UserStore,
                 changes: Changes, period: Callable[[], float]) -> None:
        self._vh = vh
        self._codec = codec
        self._hub = hub
        self._users = users
        self._changes = changes
        self._period = period                 # reconcile_seconds, as the runtime settings say now
        self._job: Optional[Iterator[Step]] = None
        self._last = float("-inf")
        self._early_gap = EARLY_RECONCILE_GAP
        self._mismatch = 0
        self._since_list = 0                  # reconciliations since the last one that read the nick list
        self._verify_from = 0                 # first arrival chunk of the next verification window
        self._came: Set[str] = set()          # logins seen while a reconciliation runs
        self._left: Set[str] = set()          # logouts seen while a reconciliation runs
        self.passes = 0                       # reconciliations started
        self.complete = False                 # the first reconciliation has finished

    @property
    def running(self) -> bool:
        return self._job is not None

    def restart(self) -> None:
        """The next tick starts a reconciliation."""
        self._last = float("-inf")

    def came(self, nick: str) -> None:
        """A login hook stored ``nick``: a running pass must not take them for gone."""
        if self._job is not None:
            self._came.add(nick)

    def left(self, nick: str) -> None:
        """A logout hook dropped ``nick``: a running pass must not add them back."""
        if self._job is not None:
            self._left.add(nick)

    def tick(self, now: float, slice_s: float) -> None:
        """OnTimer (``now``: the hub's clock, F38): watch the hub's user counter, run steps for
        about ``slice_s``."""
        if now < self._last:  # the hub's clock went back: start counting again
            self._last = now
        if self._job is None:
            self._maybe_begin(now)
        if self._job is not None:
            deadline = time.perf_counter() + slice_s
            try:
                while next(self._job) is Step.GO_ON and time.perf_counter() < deadline:
                    pass
            except StopIteration:
                self._job = None

    def _maybe_begin(self, now: float) -> None:
        online = self._hub.refresh_counters()
        known = len(self._users) + len(self._users.unfetchable)
        self._mismatch = self._mismatch + 1 if online != known else 0
        early = self._mismatch >= MISMATCH_TICKS and now >= self._last + self._early_gap
        if now >= self._last + self._period() or early:
            self._last = now
            self._mismatch = 0
            self.passes += 1
            self._since_list += 1
            with_list = online != known or not self.complete or self._since_list >= LIST_PASSES
            if with_list:
                self._since_list = 0
            self._job = self._pass(with_list, early)

    # ---------------------------------------------------------------- the steps
    def _pass(self, with_list: bool, early: bool) -> Steps:
        """One reconciliation; returns how many users it changed."""
        self._came, self._left = set(), set()
        before_long = Step.NEXT_IS_LONG if self.complete else Step.GO_ON
        if self._hub.read_settings():
            self._users.reclass()
        changes = 0
        suspects = set(self._users.blind)
        if with_list:
            yield before_long
            listed = self._vh.call("GetNickList") or []
            if listed or not self._hub.counters[0]:  # [] with users online: a nick vh cannot decode (F54)
                yield before_long
                present = self._read_nick_list(listed)
                changes += yield from self._compare(present, before_long)
            yield before_long
            self._hub.read_ops()
            suspects |= self._users.op_users ^ self._hub.ops.keys()   # class changes across oplist_class
        yield Step.GO_ON
        if self.complete:  # the first pass fetched every user just now
            for nick in suspects & self._users.nicks().keys():
                changes += self._users.verify(nick)
                yield Step.GO_ON
            for nick in self._verify_window():
                changes += self._users.verify(nick)
                yield Step.GO_ON
        if changes or not self.complete:
            self.complete = True
            self._changes.mark()
        self._hub.refresh_counters()
        if changes:
            self._early_gap = EARLY_RECONCILE_GAP
        elif early:  # the counter disagrees for a reason no list shows (users still logging in, F67)
            self._early_gap = min(max(self._period(), EARLY_RECONCILE_GAP), 2 * self._early_gap)
        return changes

    def _compare(self, present: Dict[str, str], before_long: Step) -> Steps:
        """Bring the store in line with the hub's nick list (``present``: displayed -> vh nick,
        robots included); returns how many users changed."""
        yield before_long
        users = self._users
        bots = set(self._hub.bots)
        strangers = present.keys() - users.nicks().keys() - bots
        if strangers - users.unfetchable or not present.keys() >= bots:
            yield before_long   # a robot came or went (no hook tells): read the robot list
            strangers -= set(self._hub.read_bots())
        yield before_long
        gone = users.nicks().keys() - present.keys() - self._came
        changes = 0
        for nick in gone:
            yield Step.GO_ON
            changes += users.logout(nick)   # logouts the hooks missed
        unfetchable: Set[str] = set()
        for nick in strangers:
            yield Step.GO_ON
            changes += self._add(nick, present[nick], unfetchable)  # logins the hooks missed
        users.unfetchable = unfetchable
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
        """A listed user missing from the store; 1 if added, else remembered as unfetchable."""
        if self._users.get(nick) is not None or nick in self._left:  # a hook was quicker
            return 0
        if self._users.login(vh_nick, login_time=None) is None:
            unfetchable.add(nick)
            return 0
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
