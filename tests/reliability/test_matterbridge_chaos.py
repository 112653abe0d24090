"""Matterbridge chaos: a two-way flood (hub users in main chat -> Matterbridge; remote users
injected -> hub chat) while the stand-in is killed and restarted every few seconds and sometimes
answers slowly or with 500. Both plugin modes, loopback only; the fixture asserts zero violations.

What the bridge promises (its README section, bundle/bridge/poster.py) and so what is asserted:
- hub -> Matterbridge: every line is delivered at most once and in order; a refused or 5xx POST is
  sent again; a POST sent but never answered (Matterbridge killed or too slow) is of unknown fate
  and not sent again (M21), so only those may be missing, and their number is the bridge's
  ``out_unknown`` counter at most.
- Matterbridge -> hub: every line is shown at most once and in order. Lines routed while our
  WebSocket was not connected wait in the ring (M82, M86) and are read back after the reconnect.
  What is lost is split by who lost it: Matterbridge itself (routed to our account but never
  handed to any client of it: in its ring or queues at a kill, M38, M54) and the bridge (handed
  to us, by WebSocket frame or ring read, and not shown), which must be none.
Each loss is named and counted separately in the printed summary."""

from __future__ import annotations

import random
import time
from typing import Dict, List

from testkit.bridge import wait_until

#: Length of the chaos phase, seconds; a kill every KILL_EVERY seconds, down for up to DOWN.
CHAOS = 20.0
KILL_EVERY = 3.0
DOWN = 0.6
#: Pause between flood rounds (one hub line and one remote line each), seconds.
PACE = 0.04


def in_order_once(got: List[str], sent: List[str]) -> List[str]:
    """``got`` is a duplicate-free subsequence of ``sent``; returns what ``sent`` lost."""
    assert len(set(got)) == len(got), "a line was delivered twice"
    position = {text: i for i, text in enumerate(sent)}
    assert all(text in position for text in got), "a line nobody sent was delivered"
    indexes = [position[text] for text in got]
    assert indexes == sorted(indexes), "lines were delivered out of order"
    seen = set(got)
    return [text for text in sent if text not in seen]


def test_M21_M38_M54_M86_two_way_flood_while_matterbridge_is_killed_slow_and_failing(make_lab, mode):
    rng = random.Random(10)
    lab = make_lab(mode)   # fastest retries the config allows (0.1 s to 1 s)
    lab.bridge.load()
    lab.bridge.connected(timeout=20)
    mb, hub = lab.mb, lab.hub
    alice, carol = hub.login("alice", share=0), hub.login("carol", share=0)
    out: List[str] = []                               # hub lines, as typed
    inbound: Dict[str, str] = {}                      # remote line -> "ws" | "ring" | "racing"
    kills = slow = failing = 0
    started = time.monotonic()
    next_kill = started + KILL_EVERY
    n = 0
    while time.monotonic() - started < CHAOS:
        n += 1
        (alice if n % 2 else carol).say(f"out {n}")
        out.append(f"out {n}")
        if mb.running:
            before = mb.ws_clients
            try:
                mb.inject(f"in {n}", "bob")
            except RuntimeError:   # killed meanwhile: Matterbridge did not accept it
                pass
            else:
                after = mb.ws_clients
                inbound[f"in {n}"] = "ws" if before and after else "ring" if not (before or after) else "racing"
        now = time.monotonic()
        if now >= next_kill:
            mb.stop()                                  # like SIGKILL: ring and queues gone (M38, M54)
            kills += 1
            next_kill = now + KILL_EVERY
            fault = rng.random()
            down_until = now + rng.uniform(0.1, DOWN)
        elif not mb.running and now >= down_until:
            mb.restart()
            if fault < 0.3:
                mb.set_delay(rng.uniform(0.3, 1.5))
                slow += 1
            elif fault < 0.6:
                mb.fail_posts(rng.randint(1, 5))
                failing += 1
            else:
                mb.set_delay(0.0)
        time.sleep(PACE)
    if not mb.running:
        mb.restart()
    mb.set_delay(0.0)
    lab.bridge.connected(timeout=30)
    alice.say("out end")                               # in order: once it is there, every earlier one settled
    out.append("out end")
    mb.wait_until(lambda m: any(r["text"] == "out end" for r in m.received()), timeout=60)
    mb.inject("in end", "bob")
    inbound["in end"] = "ws"
    wait_until(lambda: "[irc] <bob> in end" in lab.bridge.chat_lines(alice), 30, hub)

    lost_out = in_order_once([r["text"] for r in mb.received()], out)
    counters = lab.bridge.component().ctx.status.get("counters") or {}
    unknown = counters.get("out_unknown", 0)
    assert len(lost_out) <= unknown, f"{lost_out} lost, only {unknown} of unknown fate"
    shown = [line.split("> ", 1)[1] for line in lab.bridge.chat_lines(alice) if line.startswith("[irc] <bob> ")]
    lost_in = in_order_once(shown, list(inbound))
    handed = {m["text"] for m in mb.handed()}
    by_matterbridge = [t for t in lost_in if t not in handed]   # never left its memory (M38, M54)
    by_us = [t for t in lost_in if t in handed]
    recovered = sum(1 for t in shown if inbound[t] != "ws")
    print(f"\nchaos ({mode}): {time.monotonic() - started:.1f} s, {kills} kills ({slow} slow, {failing} "
          f"failing after restart); hub->MB {len(out)} typed, {len(out) - len(lost_out)} delivered once in "
          f"order, {len(lost_out)} lost of {unknown} of unknown fate; MB->hub {len(inbound)} accepted, "
          f"{len(shown)} shown once in order ({recovered} routed while not or not yet connected; "
          f"{counters.get('in_recovered', 0)} read back from the ring in {counters.get('in_ring_reads', 0)} "
          f"reads), lost: {len(by_matterbridge)} by Matterbridge (in its memory at a kill: "
          f"{sum(1 for t in by_matterbridge if inbound[t] == 'ws')} routed while connected, "
          f"{sum(1 for t in by_matterbridge if inbound[t] != 'ws')} waiting in its ring), {len(by_us)} by the bridge")
    assert kills >= CHAOS / KILL_EVERY - 1
    assert "end" not in " ".join(lost_out + lost_in)
    assert by_us == [], f"handed to the bridge and not shown: {by_us}"
