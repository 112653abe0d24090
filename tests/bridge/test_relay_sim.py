"""Both directions through the rendered matterbridge.py against the Matterbridge stand-in, in both
plugin modes, with zero thread violations (the fixture checks them)."""

from __future__ import annotations

from bridge_helpers import wait_until

TOKEN = "bridge-secret-token"


def test_hub_chat_reaches_matterbridge_and_back_M19_M56(make_bridge_hub, standin, mode):
    mb = standin(token=TOKEN, gateway="gateway1")
    bridge = make_bridge_hub(mode, mb, token=TOKEN)
    bridge.connected()
    alice = bridge.hub.login("alice", share=0)
    alice.say("price &#36;5 &#124; a&amp;b")  # as a DC client escapes them
    got = mb.wait_received(1)
    assert got[0]["text"] == "price $5 | a&b"
    assert got[0]["username"] == "alice" and got[0]["gateway"] == "gateway1"
    mb.inject("hello from irc", "bob", protocol="irc")
    wait_until(lambda: bridge.chat_lines(alice), 10, bridge.hub)
    assert bridge.chat_lines(alice) == ["[irc] <bob> hello from irc"]


def test_commands_and_bots_are_not_relayed(make_bridge_hub, standin, mode):
    mb = standin(gateway="gateway1")
    bridge = make_bridge_hub(mode, mb, ignore_nicks=["quiet"])
    bridge.connected()
    alice = bridge.hub.login("alice", share=0)
    quiet = bridge.hub.login("quiet", share=0)
    for text in ("+help", "!bridge status", "/me waves"):
        alice.say(text)
    quiet.say("not me")
    alice.say("last")
    got = mb.wait_received(1)
    assert [m["text"] for m in got] == ["last"]
