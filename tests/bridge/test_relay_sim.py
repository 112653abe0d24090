"""Both directions through the rendered matterbridge.py against the Matterbridge stand-in, in both
plugin modes, with zero thread violations (the fixture checks them)."""

from __future__ import annotations

from testkit.bridge import wait_until

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


def test_bridge_runs_as_the_second_script_beside_the_api_A24(make_bridge_hub, standin, mode):
    """In sub mode each script is its own interpreter: the bridge's libraries load in the second one."""
    import sys
    import sysconfig
    from pathlib import Path

    from vhctl.render import render

    mb = standin()
    bridge = make_bridge_hub(mode, mb, load=False)
    with bridge.config.open("a", encoding="utf-8") as handle:
        handle.write("[api]\nport = 0\n")
    site = sysconfig.get_paths()["purelib"]
    api_script = bridge.script.with_name("hub_api.py")
    api_script.write_text(render("hub_api.py", {
        "venv": str(Path(site).parents[2]), "site_packages": site, "python": "%d.%d" % sys.version_info[:2],
        "config_file": str(bridge.config), "component": "api"}), encoding="utf-8")
    assert " is now loaded: " in bridge.command(f"!pyload {api_script}")
    bridge.load()
    bridge.connected()
    alice = bridge.hub.login("alice", share=0)
    alice.say("second script")
    assert mb.wait_received(1)[0]["text"] == "second script"
    mb.inject("back", "bob")
    wait_until(lambda: "[irc] <bob> back" in bridge.chat_lines(alice), 10, bridge.hub)


def test_min_class_and_the_configured_formats(make_bridge_hub, standin, mode):
    mb = standin()
    bridge = make_bridge_hub(mode, mb, min_class_to_send=1, bot_nick="Relay",
                             hub_to_bridge_format="{nick} says: {message}",
                             bridge_to_hub_format="{gateway}/{channel} {username}@{protocol}: {text}")
    bridge.connected()
    guest = bridge.hub.login("guest", share=0)
    member = bridge.hub.login("member", user_class=1, share=0)
    guest.say("not relayed: class 0")
    member.say("relayed")
    got = mb.wait_received(1)
    assert [(m["username"], m["text"]) for m in got] == [("member", "member says: relayed")]
    mb.inject("hi", "bob", protocol="matrix", channel="#room")
    wait_until(lambda: bridge.chat_lines(guest, bot="Relay"), 10, bridge.hub)
    assert bridge.chat_lines(guest, bot="Relay") == ["gateway1/#room bob@matrix: hi"]
