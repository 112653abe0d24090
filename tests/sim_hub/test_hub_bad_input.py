"""Bad client input gets the hub's treatment (a close, a denial), never a crash: the hub keeps
serving everyone else and its own code raises nothing (the fixture checks ``hub.errors``)."""

from __future__ import annotations

from typing import Callable

import pytest
from testkit.runtime import wait_until

from vhctl.sim.hub import CR_INVALID_KEY, Hub, MAX_MESSAGE


def _alive(hub: Hub, nick: str = "probe") -> None:
    user = hub.login(nick)
    assert user.connected
    user.logout()


@pytest.mark.parametrize("garbage", [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n|", b"\x00\xff\xfe|||",
                                     b"<nobody> chat before login|", b"$MyINFO $ALL x y$ $$$0$|"])
def test_garbage_before_login_is_closed(make_hub: Callable[..., Hub], raw_client,
                                        garbage: bytes) -> None:
    hub = make_hub(listen_port=0)
    client = raw_client(hub.port)
    client.read_until(b"|")
    client.send(garbage)
    client.read_to_eof()
    _alive(hub)
    assert hub.call(lambda: hub.users_count) == 0


def test_huge_line_is_closed(make_hub: Callable[..., Hub], raw_client) -> None:
    hub = make_hub(listen_port=0)
    client = raw_client(hub.port)
    client.read_until(b"|")
    try:
        client.send(b"x" * (MAX_MESSAGE + 10))
    except OSError:
        pass
    client.read_to_eof()
    _alive(hub)


def test_huge_chat_line_from_a_user_is_closed(hub: Hub) -> None:
    alice = hub.login("alice")
    alice.send_raw("<alice> " + "y" * (MAX_MESSAGE + 1) + "|")
    assert not alice.connected
    _alive(hub)


def test_wrong_key_is_accepted_by_default_like_verlihub(make_hub: Callable[..., Hub],
                                                        raw_client) -> None:
    hub = make_hub(listen_port=0)
    client = raw_client(hub.port)
    client.read_until(b"|")
    client.send("$Supports NoHello |$Key wrong|$ValidateNick keyless|")
    client.read_until(b"$Hello keyless|")
    assert hub.call(lambda: next(iter(hub.state.conns)).key_ok) is False


def test_wrong_key_dropped_when_configured(make_hub: Callable[..., Hub], raw_client) -> None:
    hub = make_hub(listen_port=0, config={"drop_invalid_key": "1"})
    client = raw_client(hub.port)
    client.read_until(b"|")
    client.send("$Supports NoHello |$Key wrong|$ValidateNick keyless|")
    client.read_to_eof()
    assert ("OnCloseConnEx", ("127.0.0.1", CR_INVALID_KEY, "")) in hub.plugin.calls


def test_nick_taken_gets_validatedenide(hub: Hub) -> None:
    hub.login("alice")
    twin = hub.login("alice", check=False)
    assert twin.received.endswith(b"$ValidateDenide alice|")
    assert not twin.connected
    assert hub.call(lambda: hub.users_count) == 1


@pytest.mark.parametrize("nick", ["bad$nick", "with space", "Verlihub", "OpChat"])
def test_bad_or_reserved_nicks_are_denied(hub: Hub, nick: str) -> None:
    user = hub.login(nick, check=False)
    assert user.received.endswith(f"$ValidateDenide {nick}|".encode())
    assert not user.connected


def test_abrupt_disconnects_at_every_stage(make_hub: Callable[..., Hub], raw_client) -> None:
    hub = make_hub(listen_port=0)
    steps = ["", "$Supports NoHello |", "$Supports NoHello |$Key x|$ValidateNick half|",
             "$Supports NoHello |$Key x|$ValidateNick half|$Version 1|$GetNickList|"]
    for data in steps:
        client = raw_client(hub.port)
        client.read_until(b"|")
        if data:
            client.send(data)
        client.close()
    _alive(hub)
    wait_until(lambda: hub.call(lambda: (hub.users_count, hub.total_share, len(hub.state.conns))) == (0, 0, 0), 15)


def test_myinfo_for_another_nick_and_chat_as_another_nick(hub: Hub) -> None:
    alice = hub.login("alice")
    alice.send_raw("$MyINFO $ALL bob d$ $\x01$$0$|")
    assert not alice.connected
    mallory = hub.login("mallory")
    mallory.send_raw("<alice> i am alice|")
    assert mallory.messages()[-1] == "<Verlihub> Your nick is not alice but mallory."


def test_pm_with_forged_sender_closes(hub: Hub) -> None:
    alice, bob = hub.login("alice"), hub.login("bob")
    bob.clear()
    alice.send_raw("$To: bob From: carol $<carol> forged|")
    assert bob.received == b"$Quit alice|" and not alice.connected


def test_unknown_command_after_login_calls_OnUnknownMsg(hub: Hub) -> None:
    alice = hub.login("alice")
    alice.send_raw("$Whatever 1 2 3|")
    assert ("OnUnknownMsg", ("alice", "$Whatever 1 2 3")) in hub.plugin.calls
    assert alice.connected


def test_messages_to_offline_users_and_bots_are_ignored(hub: Hub) -> None:
    alice = hub.login("alice")
    alice.pm("ghost", "hello?")
    alice.send_raw("$ConnectToMe ghost 127.0.0.1:4000|$RevConnectToMe alice ghost|$GetINFO ghost alice|")
    alice.send_raw("$SR alice file\x0510 1/1\x05TTH:x (127.0.0.1:411)\x05ghost|")
    assert alice.connected
