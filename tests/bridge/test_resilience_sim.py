"""The bridge when Matterbridge fails: killed and restarted, black-holed, wrong token; the outbox
across !pyreload and across a hub restart. Both plugin modes, zero thread violations."""

from __future__ import annotations

import json

from testkit.bridge import connected_lab, wait_until

TOKEN = "bridge-secret-token"


def texts(mb):
    return [m["text"] for m in mb.received()]


def test_lines_typed_while_matterbridge_is_down_arrive_in_order_after_restart_M53_M54(
        make_bridge_hub, standin, mode):
    mb = standin(token=TOKEN)
    bridge = make_bridge_hub(mode, mb, token=TOKEN)
    bridge.connected()
    alice = bridge.hub.login("alice", share=0)
    alice.say("before")
    mb.wait_received(1)
    mb.stop()
    for i in range(5):
        alice.say(f"down {i}")
    comp = bridge.component()
    wait_until(lambda: comp.ctx.status.get("out_state") == "retrying" or len(comp.outbox) == 5, 10, bridge.hub)
    mb.restart()
    mb.wait_received(6, timeout=20)
    assert texts(mb) == ["before"] + [f"down {i}" for i in range(5)]
    bridge.connected(timeout=20)  # the reader came back by itself
    mb.inject("after the restart", "bob")
    wait_until(lambda: "[irc] <bob> after the restart" in bridge.chat_lines(alice), 10, bridge.hub)


def test_black_holed_matterbridge_keeps_the_hub_fast_and_loses_nothing_queued(make_bridge_hub, standin, mode):
    mb, bridge, alice = connected_lab(make_bridge_hub, standin, mode)
    mb.blackhole(True)
    alice.say("into the hole")  # in flight when the hole opens: its fate is unknown (M21)
    comp = bridge.component()
    for i in range(50):
        alice.say(f"queued {i}")  # each returns at once: the hook only appends
    wait_until(lambda: len(comp.outbox) >= 50, 10, bridge.hub)
    assert "OnParsedMsgChat" in comp.ctx.health()["hooks"]
    mb.blackhole(False)
    wait_until(lambda: len([t for t in texts(mb) if t.startswith("queued")]) == 50, 60, bridge.hub)
    assert [t for t in texts(mb) if t.startswith("queued")] == [f"queued {i}" for i in range(50)]


def test_wrong_token_is_reported_and_not_hammered_M11_M63(make_bridge_hub, standin, mode):
    mb = standin(token=TOKEN)
    bridge = make_bridge_hub(mode, mb, token="not-the-token", retry_initial=0.1, retry_max=5.0)
    comp = bridge.component()
    wait_until(lambda: comp.ctx.status.get("in_state") == "auth_failed", 10, bridge.hub)
    reply = bridge.command("!bridge status")
    assert "refused the token" in reply and "not-the-token" not in reply
    failures = mb.counters()["auth_failures"]
    bridge.hub.login("alice", share=0).say("waits for a token")
    reply = bridge.command(f"!bridge token {TOKEN}", in_pm=True, wait_for="token saved")
    assert TOKEN not in reply
    mb.wait_received(1, timeout=15)
    assert mb.counters()["auth_failures"] <= failures + 3  # waits the longest delay, not 10 per second
    bridge.connected()
    status = json.loads((bridge.state_dir / "bridge.json").read_text(encoding="utf-8"))
    assert TOKEN not in json.dumps(status)


def test_outbox_is_handed_to_the_new_instance_on_pyreload(make_bridge_hub, standin, mode):
    mb, bridge, alice = connected_lab(make_bridge_hub, standin, mode)
    mb.stop()
    for i in range(3):
        alice.say(f"kept {i}")
    wait_until(lambda: len(bridge.component().outbox) == 3, 10, bridge.hub)
    bridge.reload()
    wait_until(lambda: len(bridge.component().outbox) == 3, 15, bridge.hub)
    alice.say("kept 3")
    mb.restart()
    mb.wait_received(4, timeout=20)
    assert texts(mb) == [f"kept {i}" for i in range(4)]


def test_outbox_survives_a_hub_restart(make_bridge_hub, standin, mode, tmp_path):
    mb = standin()
    first = make_bridge_hub(mode, mb)
    first.connected()
    alice = first.hub.login("alice", share=0)
    mb.stop()
    alice.say("across the restart")
    spool = first.state_dir / "bridge-outbox.json"
    wait_until(lambda: spool.exists() and "across the restart" in spool.read_text(encoding="utf-8"), 10, first.hub)
    first.shutdown()
    mb.restart()
    second = make_bridge_hub(mode, mb, load=False)
    second.config.write_text(first.config.read_text(encoding="utf-8"), encoding="utf-8")
    second.state_dir = first.state_dir
    second.load()
    mb.wait_received(1, timeout=20)
    assert texts(mb) == ["across the restart"]
