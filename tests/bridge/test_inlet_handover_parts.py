"""The inbound queue (dedup, batches, hand-over order), router times and the hand-over files."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, List

from vhctl_hub.bridge.handover import CONNECTED, Handover
from vhctl_hub.bridge.inlet import BATCH, Baton, Entry, Inlet, message_key
from vhctl_hub.bridge.ringread import router_time


class Hub:
    """Stands in for the work queue and the send: items run when ``run`` is called."""

    def __init__(self) -> None:
        self.items: List[Callable[[], None]] = []
        self.sends: List[List[str]] = []
        self.counts: dict = {}

    def inlet(self, held: bool = False) -> Inlet:
        return Inlet(self.sends.append, self.items.append, self.count, held=held)

    def count(self, name: str, n: int) -> None:
        self.counts[name] = self.counts.get(name, 0) + n

    def run(self) -> List[str]:
        while self.items:
            self.items.pop(0)()
        return [line for send in self.sends for line in send]


def entry(n: int, lines: int = 1) -> Entry:
    return Entry(f"k{n}", [f"<b> m{n}.{i}" for i in range(lines)])


def test_M14_a_message_is_known_by_router_timestamp_and_content():
    one = {"timestamp": "2026-12-02T07:42:25.579858485Z", "text": "hi", "username": "bob", "account": "irc.x"}
    assert message_key(one) == message_key(dict(one))
    assert message_key(one) != message_key({**one, "timestamp": "2026-12-02T07:42:25.579858486Z"})
    assert message_key(one) != message_key({**one, "text": "hi!"})


def test_duplicates_are_dropped_and_batches_stay_within_BATCH_lines_in_order():
    hub = Hub()
    inlet = hub.inlet()
    for n in range(150):
        assert inlet.offer(entry(n))
    assert not inlet.offer(entry(3)) and inlet.known("k3")
    assert len(hub.items) == 1                     # one drain item queued at a time
    assert hub.run() == [f"<b> m{n}.0" for n in range(150)]
    assert all(len(s) <= BATCH for s in hub.sends) and len(hub.sends) == 3
    assert hub.counts["in_relayed"] == 150


def test_a_message_longer_than_a_batch_is_sent_whole():
    hub = Hub()
    inlet = hub.inlet()
    inlet.offer(entry(1, BATCH + 5))
    assert len(hub.run()) == BATCH + 5


def test_held_until_released_then_predecessor_waiting_read_back_then_ours_each_once():
    hub = Hub()
    inlet = hub.inlet(held=True)
    for n in (4, 9, 6, 7):                         # ours, connected while the old one still showed
        inlet.offer(entry(n))
    assert hub.items == []
    baton = Baton(shown=["k4"], waiting=[entry(2), entry(3)])  # it showed 4; 2 and 3 waited
    skipped = inlet.release(baton, [entry(3), entry(9)])       # the ring had 3 and 9
    assert skipped == 1
    assert hub.run() == ["<b> m2.0", "<b> m3.0", "<b> m9.0", "<b> m6.0", "<b> m7.0"]
    assert not inlet.offer(entry(2)) and not inlet.offer(entry(4))


def test_final_hand_over_stops_showing_and_takes_what_waits():
    hub = Hub()
    inlet = hub.inlet()
    inlet.offer(entry(1))
    hub.run()
    inlet.offer(entry(2))                          # queued, not yet run on the hub thread
    baton = inlet.hand_over(final=True)
    assert baton.shown == ["k1"] and [e.key for e in baton.waiting] == ["k2"]
    assert hub.run() == ["<b> m1.0"]               # the queued item sends nothing any more
    assert not inlet.offer(entry(3))


def test_M15_router_times_with_any_fraction_and_zone():
    assert router_time("2026-11-24T21:11:55Z") == router_time("2026-11-24T22:11:55+01:00")
    assert abs(router_time("2026-11-24T21:11:55.1655503Z") - router_time("2026-11-24T21:11:55Z") - 0.1655503) < 1e-6
    assert router_time("2026-11-24T22:13:24.876233859+01:00") is not None
    assert router_time("yesterday") is None and router_time(None) is None


def test_hand_over_files_successor_announced_connected_and_baton_meant_for_it(tmp_path: Path):
    old = Handover(tmp_path, "old", time.time())
    assert old.successor() is None
    new = Handover(tmp_path, "new", time.time())
    new.announce()
    assert old.successor() == "new" and not old.wait_connected("new", timeout=0.05)
    new.mark(CONNECTED)
    assert old.wait_connected("new", timeout=1)
    old.write_baton("new", Baton(["k1"], [entry(2)]), 12.5, True)
    third = Handover(tmp_path, "third", time.time())
    assert third.take_baton() == (None, None, True)  # not meant for it
    baton, since, gapless = new.take_baton()
    assert baton is not None and baton.shown == ["k1"] and baton.waiting[0].lines == ["<b> m2.0"]
    assert since == 12.5 and gapless
    assert new.take_baton() == (None, None, True)    # taken once


def test_a_hub_shutdown_baton_goes_to_the_next_process_and_is_never_gapless(tmp_path: Path):
    Handover(tmp_path, "old", time.time()).write_baton(None, Baton([], [entry(1)]), 99.0, True)
    baton, since, gapless = Handover(tmp_path, "next", time.time()).take_baton()
    assert baton is not None and [e.key for e in baton.waiting] == ["k1"] and since == 99.0 and not gapless


def test_a_failing_send_does_not_stop_the_messages_after_it():
    hub = Hub()
    failures = [RuntimeError("vh said no")]

    def send(lines: List[str]) -> None:
        if failures:
            raise failures.pop()
        hub.sends.append(lines)

    inlet = Inlet(send, hub.items.append, hub.count)
    for n in range(BATCH + 1):
        inlet.offer(entry(n))
    first = hub.items.pop(0)
    try:
        first()
    except RuntimeError:
        pass                                       # the work queue records it
    assert hub.run() == [f"<b> m{BATCH}.0"]
