"""The login handshake over a real socket: exact bytes (A1) and hook order (A3)."""

from __future__ import annotations

from typing import Callable

from vhctl.sim.hub import Hub

SUPPORTS_REPLY = b"$Supports NoGetINFO NoHello UserIP2 TTHSearch ZPipe0 HubTopic |"
HS_MYINFO = b"$MyINFO $ALL Verlihub Hub security<Verlihub V:1.7.0.0,M:A,H:0/0/1,S:0>$ $\x01$$0$|"
CAROL_MYINFO = ("$MyINFO $ALL carol lab desc<++ V:0.868,M:A,H:1/0/0,S:3>$ $100\x01$"
                "lab@example.invalid$5555$")


def _login(client, nick: str = "carol", myinfo: str = CAROL_MYINFO) -> bytes:
    client.handshake(nick)
    got = client.read_until(f"$Hello {nick}|".encode())
    client.send(f"$Version 1,0091|$GetNickList|{myinfo}|")
    return got + client.read_login()


def test_A1_handshake_bytes_for_an_unregistered_nick(make_hub: Callable[..., Hub], raw_client) -> None:
    hub = make_hub(listen_port=0)
    client = raw_client(hub.port)
    got = _login(client)
    assert got.startswith(SUPPORTS_REPLY + b"$HubName LabHub|$Hello carol|")
    assert HS_MYINFO in got
    assert b"$OpList Verlihub$$OpChat$$|" in got
    echo = (CAROL_MYINFO + "|").encode("latin-1")
    banner = got[got.index(echo) + len(echo):]
    assert banner.startswith(b"<Verlihub> Software: Verlihub 1.7.0.0|<Verlihub> Uptime: ")
    assert b"|<Verlihub> Users: 1|<Verlihub> Share: 5.42 KB|<Verlihub> Status: Normal|" in banner
    assert hub.call(lambda: hub.state.conns.copy().pop().key_ok) is True


def test_A3_hook_order_of_a_login_and_a_close(make_hub: Callable[..., Hub], raw_client) -> None:
    hub = make_hub(listen_port=0)
    client = raw_client(hub.port)
    _login(client)
    client.close()
    watcher = hub.login("watcher")
    assert watcher.connected
    hub.call(lambda: None)
    calls = hub.plugin.calls
    carol = calls[:calls.index(("OnUserLogin", ("carol",))) + 1]
    parts = ("carol", "lab desc", "<++ V:0.868,M:A,H:1/0/0,S:3>", "100\x01", "lab@example.invalid",
             "5555")
    supports = "NoGetINFO NoHello UserIP2 TTHSearch ZPipe0 HubTopic "
    assert carol == [
        ("OnNewConn", ("127.0.0.1",)),
        ("OnParsedMsgSupports", ("127.0.0.1", "$Supports " + supports, supports)),
        ("OnParsedMsgValidateNick", ("$ValidateNick carol",)),
        ("OnParsedMsgAny", ("carol", "$Version 1,0091")),
        ("OnParsedMsgVersion", ("127.0.0.1", "$Version 1,0091")),
        ("OnParsedMsgAny", ("carol", "$GetNickList")),
        ("OnParsedMsgAny", ("carol", CAROL_MYINFO)),
        ("OnValidateTag", ("carol", "<++ V:0.868,M:A,H:1/0/0,S:3>")),
        ("OnFirstMyINFO", parts),
        ("OnParsedMsgMyINFO", parts),
        ("OnUserInList", ("carol",)),
        ("OnUserLogin", ("carol",)),
    ]
    closes = [c for c in calls if c[0] in ("OnCloseConn", "OnCloseConnEx", "OnUserLogout")]
    assert closes == [("OnCloseConn", ("127.0.0.1",)), ("OnCloseConnEx", ("127.0.0.1", 0, "carol")),
                      ("OnUserLogout", ("carol",))]


def test_A1_registered_operator_gets_getpass_hello_logedin(master_asked_for_password) -> None:
    hub, client, asked = master_asked_for_password
    assert asked == SUPPORTS_REPLY + b"$HubName LabHub|$GetPass|"
    client.send("$MyPass secret|")
    assert client.read_until(b"$LogedIn Master|") == b"$Hello Master|$LogedIn Master|"
    client.send("$Version 1,0091|$GetNickList|$MyINFO $ALL Master $ $\x01$$0$|")
    got = client.read_until(b"<Verlihub> Status: Normal|")
    assert b"$MyINFO $ALL Master $ $\x01$$0$|$OpList Master$$|<Verlihub> Software:" in got
    assert hub.call(hub.state.user_class, "Master") == 10
    assert "Master" in hub.call(hub.op_list)


def test_wrong_password_gets_badpass_and_close(master_asked_for_password) -> None:
    hub, client, _ = master_asked_for_password
    client.send("$MyPass wrong|")
    assert client.read_to_eof() == b"$BadPass|"
    assert ("OnCloseConnEx", ("127.0.0.1", 12, "Master")) in hub.call(lambda: list(hub.plugin.calls))
    assert hub.call(lambda: hub.users_count) == 0


def test_client_without_nogetinfo_gets_nicklist_and_getinfo(make_hub: Callable[..., Hub],
                                                             raw_client) -> None:
    hub = make_hub(listen_port=0)
    hub.login("alice")
    client = raw_client(hub.port)
    client.handshake("old", supports="NoHello ")
    client.read_until(b"$Hello old|")
    client.send("$Version 1,0091|$GetNickList|$MyINFO $ALL old $ $\x01$$0$|")
    assert client.read_login().endswith(
        b"|$NickList Verlihub$$OpChat$$alice$$old$$|$OpList Verlihub$$OpChat$$|")
    client.send("$GetINFO alice old|")
    assert client.read_until(b"$|") == \
        b"$MyINFO $ALL alice d<++ V:0.868,M:A,H:1/0/0,S:3>$ $100\x01$$1234567890$|"


def test_A1_chat_and_pm_relay_over_sockets_unescaped(make_hub: Callable[..., Hub], raw_client) -> None:
    hub = make_hub(listen_port=0, chat_rules=False)
    bob = hub.login("bob")
    client = raw_client(hub.port)
    _login(client)
    client.send("<carol> raw $ dollar &#36; kept|")
    assert client.read_until(b"kept|") == b"<carol> raw $ dollar &#36; kept|"
    assert bob.wait_for("<carol> raw $ dollar &#36; kept")
    client.send("$To: bob From: carol $<carol> psst|")
    assert bob.wait_for("$To: bob From: carol $<carol> psst")
    bob.pm("carol", "back")
    assert client.read_until(b"back|") == b"$To: carol From: bob $<bob> back|"
