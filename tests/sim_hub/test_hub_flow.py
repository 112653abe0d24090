"""Event flow and block effects (F21, F25-F28, A1, A4, A7): chat rules, blocked chat/PM/MyINFO,
blocked logins, MyINFO changes."""

from __future__ import annotations

import re
from typing import Callable

from vhctl.sim.hub import CR_PLUGIN, Hub

DELAY_MSG = re.compile(r"<Verlihub> Your message wasn't sent because minimum chat delay is 1000 ms but "
                       r"you waited only (\d+) msecs\.")


def test_A1_chat_delay_for_class_0(hub: Hub) -> None:
    alice, bob = hub.login("alice"), hub.login("bob")
    bob.clear()
    alice.say("one")
    alice.say("two")
    first, refused = alice.messages()[-2:]
    waited = DELAY_MSG.fullmatch(refused)
    assert first == "<alice> one" and waited and int(waited[1]) < 1000, refused  # 0 ms on an idle machine
    assert bob.messages() == ["<alice> one"]


def test_A1_same_message_twice_in_a_row(make_hub: Callable[..., Hub]) -> None:
    hub = make_hub(config={"int_chat_ms": "0"})
    alice = hub.login("alice")
    alice.clear()
    alice.say("same")
    alice.say("same")
    assert alice.messages() == [
        "<alice> same", "<Verlihub> Your message wasn't sent because it equals your previous message."]


def test_A1_operators_and_vips_are_exempt(hub: Hub) -> None:
    vip, op, bob = hub.login("vip", user_class=2), hub.login("op", user_class=3), hub.login("bob")
    bob.clear()
    vip.say("v1")
    vip.say("v2")
    op.say("o")
    op.say("o")
    assert bob.messages() == ["<vip> v1", "<vip> v2", "<op> o", "<op> o"]


def test_chat_rules_can_be_switched_off(make_hub: Callable[..., Hub]) -> None:
    hub = make_hub(chat_rules=False)
    alice = hub.login("alice")
    alice.clear()
    for _ in range(3):
        alice.say("x")
    assert alice.messages() == ["<alice> x"] * 3


def test_A4_blocked_chat_reaches_nobody(make_hub: Callable[..., Hub]) -> None:
    hub = make_hub(chat_rules=False)
    alice, bob = hub.login("alice"), hub.login("bob")
    hub.plugin.answers["OnParsedMsgChat"] = lambda nick, text: text != "secret"
    alice.clear(), bob.clear()
    alice.say("secret")
    alice.say("public")
    assert alice.messages() == bob.messages() == ["<alice> public"]


def test_A4_blocked_pm_not_delivered(hub: Hub) -> None:
    alice, bob = hub.login("alice"), hub.login("bob")
    hub.plugin.answers["OnParsedMsgPM"] = lambda nick, text, to: text != "no"
    bob.clear()
    alice.pm("bob", "no")
    alice.pm("bob", "yes")
    assert bob.received == b"$To: bob From: alice $<alice> yes|"


def test_A4_OnParsedMsgAny_false_drops_the_message(make_hub: Callable[..., Hub]) -> None:
    hub = make_hub(chat_rules=False)
    alice, bob = hub.login("alice"), hub.login("bob")
    hub.plugin.answers["OnParsedMsgAny"] = False
    bob.clear()
    alice.say("dropped")
    assert bob.received == b""
    assert not [c for c in hub.plugin.calls if c[0] == "OnParsedMsgChat"]


def test_F21_blocked_myinfo_change_not_stored_nor_broadcast_but_share_counted(hub: Hub) -> None:
    alice, bob = hub.login("alice"), hub.login("bob")
    hub.plugin.answers["OnParsedMsgMyINFO"] = False
    bob.clear()
    alice.myinfo(share=5, desc="new")
    assert bob.received == b""
    assert hub.call(hub.get_myinfo, "alice")[1] == "d"
    assert hub.call(lambda: hub.total_share) == 1234567890 + 5      # F68: before the hooks


def test_A3_myinfo_change_hooks_and_broadcast(hub: Hub) -> None:
    alice, bob = hub.login("alice"), hub.login("bob")
    hub.plugin.calls.clear()
    bob.clear()
    alice.myinfo(desc="changed", share=77)
    names = hub.plugin.names()
    assert names == ["OnParsedMsgAny", "OnValidateTag", "OnParsedMsgMyINFO"]
    assert bob.received == b"$MyINFO $ALL alice changed<++ V:0.868,M:A,H:1/0/0,S:3>$ $100\x01$$77$|"


def test_A4_OnUserLogin_false_drops_with_reason_21_and_a_late_quit(hub: Hub) -> None:
    watcher = hub.login("watcher")
    hub.plugin.answers["OnUserLogin"] = lambda nick: nick != "dave"
    watcher.clear()
    dave = hub.login("dave", check=False)
    assert not dave.connected and dave.close_reason == CR_PLUGIN
    assert watcher.received.startswith(b"$MyINFO $ALL dave ")
    assert b"$Quit dave|" not in watcher.received
    assert ("OnCloseConnEx", ("127.0.0.1", 21, "dave")) in hub.plugin.calls
    assert b"<Verlihub> Software" not in dave.received           # the user gets no message
    hub.tick()
    assert watcher.received.endswith(b"$Quit dave|")
    assert "dave" not in hub.call(hub.state.nick_list)


def test_A4_OnParsedMsgValidateNick_false_closes_after_hello(hub: Hub) -> None:
    hub.plugin.answers["OnParsedMsgValidateNick"] = False
    erin = hub.login("erin", check=False)
    assert erin.received.endswith(b"$HubName LabHub|$Hello erin|")
    assert erin.close_reason == CR_PLUGIN
    assert hub.call(lambda: hub.users_count) == 0


def test_F21_OnNewConn_false_refuses_before_the_lock(hub: Hub) -> None:
    hub.plugin.answers["OnNewConn"] = False
    refused = hub.login("x", check=False)
    assert refused.received == b"" and not refused.connected


def test_A7_hooks_get_the_raw_bytes_and_relay_is_unchanged(make_hub: Callable[..., Hub]) -> None:
    hub = make_hub(chat_rules=False)
    alice, bob = hub.login("alice", encoding="cp1252"), hub.login("bob")
    bob.clear()
    alice.say("cp1252 bytes é € end")
    assert bob.received == b"<alice> cp1252 bytes \xe9 \x80 end|"
    # the hub hands the plugin the wire bytes (one char per byte); decoding is the plugin's job
    assert ("OnParsedMsgChat", ("alice", "cp1252 bytes \xe9 \x80 end")) in hub.plugin.calls


def test_F62_mcto_goes_to_one_user(hub: Hub) -> None:
    alice, bob, carol = hub.login("alice"), hub.login("bob"), hub.login("carol")
    bob.clear(), carol.clear()
    alice.mcto("bob", "psst")
    assert bob.received == b"<alice> psst|"          # bob did not announce MCTo
    assert carol.received == b""
    assert ("OnParsedMsgMCTo", ("alice", "psst", "bob")) in hub.plugin.calls


def test_opchat_forwards_between_operators(hub: Hub) -> None:
    op1, op2, alice = hub.login("op1", user_class=3), hub.login("op2", user_class=4), hub.login("alice")
    op2.clear(), alice.clear()
    op1.pm("OpChat", "ops only")
    alice.pm("OpChat", "let me in")
    assert op2.received == b"$To: op2 From: OpChat $<op1> ops only|"
    assert alice.received == b""


def test_logout_sends_quit_to_the_others(hub: Hub) -> None:
    alice, bob = hub.login("alice"), hub.login("bob")
    bob.clear()
    alice.logout()
    assert bob.received == b"$Quit alice|"
    assert not alice.connected and alice.close_reason == 0
