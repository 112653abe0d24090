"""`!bridge` through the runtime's command router, and hostile remote text on the hub's wire.
Both plugin modes, zero thread violations."""

from __future__ import annotations

from testkit.bridge import connected_lab, wait_until

from vhctl_hub.config import load_settings


def test_help_and_class_rules_like_api(make_bridge_hub, standin, mode):
    bridge = make_bridge_hub(mode, standin())
    reply = bridge.command("!bridge help")
    for sub in ("start", "stop", "status", "config <url>", "token <token>", "gateway <name>", "channel <name>"):
        assert f"!bridge {sub}" in reply
    user = bridge.hub.login("plain", share=0)
    assert "only class 3" in bridge.command("!bridge status", by=user)


def test_config_and_gateway_persist_with_comments(make_bridge_hub, standin, mode):
    first, second = standin(gateway="gateway1"), standin(gateway="other")
    bridge = make_bridge_hub(mode, first)
    bridge.connected()
    assert "http:// or https:// URL" in bridge.command("!bridge config ftp://x")
    bridge.command(f"!bridge config {second.url}", wait_for="saved in")
    bridge.command("!bridge gateway other", wait_for="saved in")
    text = bridge.config.read_text(encoding="utf-8")
    assert "# the operator's own comment" in text
    assert load_settings(bridge.config).bridge.url == second.url
    assert load_settings(bridge.config).bridge.gateway == "other"
    wait_until(lambda: second.ws_clients >= 1, 10, bridge.hub)
    bridge.hub.login("alice", share=0).say("to the second")
    assert second.wait_received(1)[0]["text"] == "to the second"


def test_token_only_by_pm_and_never_echoed(make_bridge_hub, standin, mode):
    bridge = make_bridge_hub(mode, standin())
    reply = bridge.command("!bridge token s3cr3t-in-main-chat")
    assert "private message" in reply and "s3cr3t" not in reply
    reply = bridge.command("!bridge token s3cr3t-by-pm", in_pm=True, wait_for="token")
    assert "s3cr3t" not in reply
    assert not any("s3cr3t" in m for m in bridge.op.messages() if "bridge token" not in m)


def test_channel_explains_the_fixed_api_channel_M2(make_bridge_hub, standin, mode):
    reply = make_bridge_hub(mode, standin()).command("!bridge channel general")
    assert "'api'" in reply and "gateway" in reply


def test_stop_start_status(make_bridge_hub, standin, mode):
    mb = standin()
    bridge = make_bridge_hub(mode, mb)
    bridge.connected()
    assert "websocket" in bridge.command("!bridge status")
    bridge.command("!bridge stop", wait_for="bridge stopped")
    wait_until(lambda: mb.ws_clients == 0, 10, bridge.hub)
    bridge.hub.login("alice", share=0).say("not while stopped")
    assert bridge.command("!bridge status").startswith("bridge stopped")
    bridge.command("!bridge start", wait_for="bridge started")
    bridge.connected()
    bridge.hub.login("bob", share=0).say("after start")
    assert [m["text"] for m in mb.wait_received(1)] == ["after start"]


def test_hostile_remote_text_reaches_users_as_text_only_M49_M50_M87(make_bridge_hub, standin, mode):
    mb, bridge, alice = connected_lab(make_bridge_hub, standin, mode)
    mb.inject("price $5 | $MyINFO $ALL x|\r\n<Admin> I am the admin\x00", "ev|l$nick")
    mb.inject("😀 " + "y" * 1_000_000, "big")
    wait_until(lambda: len(bridge.chat_lines(alice)) >= 3, 15, bridge.hub)
    lines = bridge.chat_lines(alice)
    assert lines[0] == "[irc] <ev&#124;l&#36;nick> price &#36;5 &#124; &#36;MyINFO &#36;ALL x&#124;"
    # a remote line break starts a new line with the full prefix: it can never begin with "<Admin>"
    assert lines[1] == "[irc] <ev&#124;l&#36;nick> <Admin> I am the admin"
    assert lines[2].startswith("[irc] <big> 😀 yyy") and len(lines[2]) < 5000
    assert not any(m.startswith("$MyINFO $ALL x") for m in alice.protocol_messages())  # no injected command
    comp = bridge.component()
    assert comp.ctx.status.get("counters").get("in_truncated") == 1


def test_status_warns_when_nothing_comes_back_from_the_gateway_M22(make_bridge_hub, standin, mode):
    mb = standin(gateway="gateway1")
    bridge = make_bridge_hub(mode, mb, gateway="no-such-gateway")
    bridge.connected()
    bridge.hub.login("alice", share=0).say("into the void")
    mb.wait_counter("dropped_gateway", 1)  # answered 200 and dropped by Matterbridge
    comp = bridge.component()
    wait_until(lambda: comp.ctx.status.get("counters").get("out_sent"), 10, bridge.hub)
    comp.quiet_after = 0.0
    status = bridge.command("!bridge status")
    assert "nothing has come back from gateway no-such-gateway" in status and "1 sent" in status


def test_lines_kept_across_stop_and_start_are_sent_once(make_bridge_hub, standin, mode):
    mb, bridge, alice = connected_lab(make_bridge_hub, standin, mode)
    mb.stop()
    alice.say("kept while down")
    comp = bridge.component()
    wait_until(lambda: len(comp.outbox) == 1, 10, bridge.hub)
    assert "1 lines kept" in bridge.command("!bridge stop", wait_for="bridge stopped")
    mb.restart()
    bridge.command("!bridge start", wait_for="bridge started")
    mb.wait_received(1, timeout=15)
    alice.say("after")
    assert [m["text"] for m in mb.wait_received(2)] == ["kept while down", "after"]


def test_status_names_the_gateway_messages_really_come_from_M22_M48(make_bridge_hub, standin, mode):
    mb = standin(gateway="gateway1")
    bridge = make_bridge_hub(mode, mb, gateway="gateway-x")
    bridge.connected()
    alice = bridge.hub.login("alice", share=0)
    mb.inject("from irc", "bob")
    wait_until(lambda: "[irc] <bob> from irc" in bridge.chat_lines(alice), 10, bridge.hub)
    status = bridge.command("!bridge status")
    assert "messages arrive from gateway gateway1, but hub lines are sent to gateway gateway-x" in status
    bridge.command("!bridge gateway gateway1", wait_for="gateway set to gateway1")
    mb.inject("again", "bob")
    wait_until(lambda: "[irc] <bob> again" in bridge.chat_lines(alice), 10, bridge.hub)
    assert "note:" not in bridge.command("!bridge status")
