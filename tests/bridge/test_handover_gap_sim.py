"""No gap in Matterbridge -> hub: the WebSocket handed over on !pyreload (the new instance connected
before the old one lets go, nothing shown twice), and what was routed while our WebSocket was cut
(Matterbridge up) read back from its ring. Both plugin modes, zero thread violations (fixture)."""

from __future__ import annotations

import threading
import time
from typing import Any, List, Tuple

from testkit.bridge import connected_lab, wait_until

PREFIX = "[irc] <bob> "


def shown(bridge: Any, user: Any, word: str) -> List[str]:
    return [line[len(PREFIX):] for line in bridge.chat_lines(user) if line.startswith(PREFIX + word)]


class Flood:
    """Remote lines at a steady pace on a thread; notes the most WebSocket clients seen at once."""

    def __init__(self, mb: Any, word: str, pace: float = 0.004) -> None:
        self.mb, self.word, self.pace = mb, word, pace
        self.sent: List[str] = []
        self.most_clients = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            text = f"{self.word} {n}"
            self.mb.inject(text, "bob")
            self.sent.append(text)
            self.most_clients = max(self.most_clients, self.mb.ws_clients)
            n += 1
            time.sleep(self.pace)

    def __enter__(self) -> "Flood":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


def lab_after_a_first_line(make_bridge_hub: Any, standin: Any, mode: str) -> Tuple[Any, Any, Any]:
    """``connected_lab`` once the remote line "before 0" was shown to the user."""
    mb, bridge, alice = connected_lab(make_bridge_hub, standin, mode)
    mb.inject("before 0", "bob")
    wait_until(lambda: shown(bridge, alice, "before") == ["before 0"], 10, bridge.hub)
    return mb, bridge, alice


def cut(mb: Any) -> None:
    """Our WebSocket is cut, and the reconnect's upgrade waits 1.5 s: a gap with Matterbridge up."""
    mb.set_delay(1.5)
    assert mb.drop_websockets() == 1
    mb.wait_until(lambda m: m.ws_clients == 0)


def test_M14_M56_M83_pyreload_hands_the_websocket_over_without_a_gap_or_a_duplicate(
        make_bridge_hub, standin, mode):
    mb, bridge, alice = connected_lab(make_bridge_hub, standin, mode)
    with Flood(mb, "flow") as flood:
        wait_until(lambda: len(shown(bridge, alice, "flow")) >= 20, 20, bridge.hub)
        bridge.reload()
        comp = bridge.component()
        wait_until(lambda: (comp.ctx.status.get("counters") or {}).get("in_relayed", 0) >= 20, 20, bridge.hub)
    last = flood.sent[-1]
    wait_until(lambda: last in shown(bridge, alice, "flow"), 20, bridge.hub)
    assert shown(bridge, alice, "flow") == flood.sent   # every one, once, in order
    assert flood.most_clients == 2                       # the new one joined before the old one left
    counters = comp.ctx.status.get("counters") or {}
    assert counters.get("in_ring_reads", 0) == 0         # nothing had to be read back: no gap
    assert mb.counters()["ring_resets"] == 0


def test_M82_M86_lines_routed_while_our_websocket_was_cut_are_read_back_from_the_ring_once(
        make_bridge_hub, standin, mode):
    mb, bridge, alice = lab_after_a_first_line(make_bridge_hub, standin, mode)
    cut(mb)
    gap = [f"gap {i}" for i in range(5)]
    for text in gap:
        mb.inject(text, "bob")   # routed with no WebSocket connected: only the ring has them (M82)
    mb.set_delay(0.0)
    bridge.connected()
    mb.inject("after 0", "bob")  # reaches us twice if routed before the read: the WebSocket and the ring
    wait_until(lambda: "after 0" in shown(bridge, alice, "after"), 20, bridge.hub)
    wait_until(lambda: len(shown(bridge, alice, "gap")) >= 5, 20, bridge.hub)
    lines = [line[len(PREFIX):] for line in bridge.chat_lines(alice) if line.startswith(PREFIX)]
    assert lines == ["before 0", *gap, "after 0"]       # once each, in order
    counters = bridge.component().ctx.status.get("counters") or {}
    assert counters.get("in_recovered") in (5, 6) and counters.get("in_ring_reads") == 1
    assert not counters.get("in_ring_overflow")


def test_M32_after_the_first_read_a_gap_keeps_only_10_and_the_overflow_is_counted(
        make_bridge_hub, standin, mode):
    mb, bridge, alice = connected_lab(make_bridge_hub, standin, mode)
    comp_counters = lambda: bridge.component().ctx.status.get("counters") or {}  # noqa: E731
    for round_ in (1, 2):
        bridge.connected()
        cut(mb)
        for i in range(15):
            mb.inject(f"r{round_} {i}", "bob")
        mb.set_delay(0.0)
        wait_until(lambda reads=round_: comp_counters().get("in_ring_reads", 0) >= reads, 20, bridge.hub)
    bridge.connected()
    first = [f"r1 {i}" for i in range(15)]            # Buffer=1000 held them all
    second = [f"r2 {i}" for i in range(5, 15)]        # capacity 10 since the first read (M32)
    wait_until(lambda: len(shown(bridge, alice, "r")) >= 25, 20, bridge.hub)
    assert shown(bridge, alice, "r") == first + second
    assert comp_counters().get("in_ring_overflow") == 1
    status = bridge.command("!bridge status")
    assert "25 read back from Matterbridge's buffer in 2 reads" in status and "1 gaps were longer" in status
    assert mb.counters()["ring_overwritten"] >= 5


def test_M82_M86_a_clean_hub_restart_reads_back_what_was_routed_while_the_hub_was_down(
        make_bridge_hub, standin, mode):
    mb, first, alice = lab_after_a_first_line(make_bridge_hub, standin, mode)
    first.shutdown()                  # OnUnLoad: the bridge leaves its hand-over in the state folder
    mb.wait_until(lambda m: m.ws_clients == 0)
    for i in range(3):
        mb.inject(f"down {i}", "bob")
    second = make_bridge_hub(mode, mb, load=False)
    second.config.write_text(first.config.read_text(encoding="utf-8"), encoding="utf-8")
    second.state_dir = first.state_dir
    carol = second.hub.login("carol", share=0)
    second.load()
    wait_until(lambda: len(shown(second, carol, "down")) >= 3, 20, second.hub)
    mb.inject("after 0", "bob")
    wait_until(lambda: shown(second, carol, "after") == ["after 0"], 20, second.hub)
    lines = [line[len(PREFIX):] for line in second.chat_lines(carol) if line.startswith(PREFIX)]
    assert lines == ["down 0", "down 1", "down 2", "after 0"]   # "before 0" was shown by the first hub


def test_M82_pyreload_during_a_gap_hands_the_gap_over_and_the_new_instance_reads_it_back(
        make_bridge_hub, standin, mode):
    mb, bridge, alice = lab_after_a_first_line(make_bridge_hub, standin, mode)
    cut(mb)
    for i in range(3):
        mb.inject(f"gap {i}", "bob")
    bridge.reload()               # the old instance is not connected: it hands over where its gap began
    mb.set_delay(0.0)
    wait_until(lambda: len(shown(bridge, alice, "gap")) >= 3, 20, bridge.hub)
    mb.inject("after 0", "bob")
    wait_until(lambda: shown(bridge, alice, "after") == ["after 0"], 20, bridge.hub)
    lines = [line[len(PREFIX):] for line in bridge.chat_lines(alice) if line.startswith(PREFIX)]
    assert lines == ["before 0", "gap 0", "gap 1", "gap 2", "after 0"]
