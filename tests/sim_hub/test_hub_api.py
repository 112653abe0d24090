"""What the hub offers the plugin: counters (F67, F68), send primitives (F49, A6), robots and topic
(A5), config and OnSetConfig (A3), lookups (A5), the crash path (A13) and the thread model."""

from __future__ import annotations

import threading
from typing import Callable

import pytest

from vhctl.sim.hub import Hub, HubCrashed
from vhctl.sim.hubconf import T_STRING, T_UNKNOWN


def test_F67_users_count_counts_real_connections_including_half_logged_in(hub: Hub) -> None:
    hub.login("alice"), hub.login("bob")
    assert hub.call(lambda: hub.users_count) == 2
    assert hub.call(hub.add_robot, "LabBot", 0, "d", "", "", "12345")
    assert hub.call(lambda: hub.users_count) == 2
    seen = []
    hub.plugin.answers["OnFirstMyINFO"] = lambda *a: seen.append(hub.users_count) or True
    hub.login("carol")
    assert seen == [3]          # counted before the login completed
    assert len(hub.call(hub.state.nick_list)) == 6   # 3 users + Verlihub, OpChat, LabBot


def test_F68_total_share_before_hooks_and_on_close(hub: Hub) -> None:
    seen = []
    hub.plugin.answers["OnParsedMsgMyINFO"] = lambda *a: seen.append(hub.total_share) or True
    alice = hub.login("alice", share=1234567890)
    bob = hub.login("bob", share=9876543210)
    assert seen == [1234567890, 11111111100]
    alice.myinfo(share=10)
    assert hub.call(lambda: hub.total_share) == 9876543220
    bob.logout()
    assert hub.call(lambda: hub.total_share) == 10
    hub.call(hub.add_robot, "Rich", 0, "d", "", "", "999999")
    assert hub.call(lambda: hub.total_share) == 10


def test_A6_send_primitives_bytes(hub: Hub) -> None:
    alice, master = hub.login("alice"), hub.login("Master", user_class=10)
    alice.clear(), master.clear()
    text = "A$B|C\nD \xe9 end"     # hub-internal: already in the hub encoding
    assert hub.call(hub.sender.usermc, text, "alice")
    assert hub.call(hub.sender.usermc, "usermc-ascii", "alice", "CustomBot")
    assert hub.call(hub.sender.pm, "pm-from-x-as-y", "alice", "FromX", "ShownY")
    assert hub.call(hub.sender.send_to_user, "<RawSender> raw-to-alice|$Fake cmd", "alice")
    assert not hub.call(hub.sender.usermc, "x", "nosuchuser")
    assert not hub.call(hub.sender.send_to_user, "x", "Verlihub")
    assert alice.received == (b"<Verlihub> A$B|C\nD \xe9 end|<CustomBot> usermc-ascii|"
                              b"$To: alice From: FromX $<ShownY> pm-from-x-as-y|"
                              b"<RawSender> raw-to-alice|$Fake cmd|")
    alice.clear()
    assert hub.call(hub.sender.send_to_opchat, "ops")
    assert hub.call(hub.sender.send_to_all, "<RawAll> raw to all", 0, 10)
    assert not hub.call(hub.sender.send_to_all, "x", 5, 1)
    assert hub.call(hub.sender.send_pm_to_all, "hi", "LabBot", 0, 10)
    assert alice.received == b"<RawAll> raw to all|$To: alice From: LabBot $<LabBot> hi|"
    assert master.received == (b"$To: Master From: OpChat $<OpChat> ops|<RawAll> raw to all|"
                               b"$To: Master From: LabBot $<LabBot> hi|")


def test_F49_2_delayed_sends_wait_for_the_next_tick(hub: Hub) -> None:
    alice = hub.login("alice")
    alice.clear()
    hub.call(hub.sender.send_to_all, "<x> later", 0, 10, 1)
    hub.call(hub.sender.send_to_user, "<y> later too", "alice", 1)
    assert alice.received == b""
    hub.tick()
    assert sorted(alice.messages()) == ["<x> later", "<y> later too"]


def test_active_and_passive_targets(hub: Hub) -> None:
    act = hub.login("act")
    pas = hub.login("pas", tag="<++ V:0.868,M:P,H:1/0/0,S:3>")
    act.clear(), pas.clear()
    hub.call(hub.sender.send_to_active, "<h> a")
    hub.call(hub.sender.send_to_passive, "<h> p")
    assert act.received == b"<h> a|" and pas.received == b"<h> p|"


def test_A5_robots(hub: Hub) -> None:
    alice = hub.login("alice")
    alice.clear()
    assert hub.call(hub.add_robot, "LabBot", 0, "lab bot desc", "LAN(T1)", "bot@x", "12345")
    assert not hub.call(hub.add_robot, "LabBot", 0, "again", "", "", "0")
    assert hub.call(hub.add_robot, "Bot2", 3, "opbot", "", "", "0")
    assert alice.received == (b"$MyINFO $ALL LabBot lab bot desc$ $LAN(T1)$bot@x$12345$|"
                              b"$MyINFO $ALL Bot2 opbot$ $$$0$|$OpList Bot2$$|")
    assert hub.call(hub.state.bot_list)[-2:] == ["Verlihub", "OpChat"]
    assert "Bot2" in hub.call(hub.op_list)
    assert hub.call(hub.get_myinfo, "LabBot") == ("LabBot", "lab bot desc", "", "LAN(T1)", "bot@x",
                                                  "12345")
    assert [hub.call(hub.state.robot_nick_bad, n) for n in ("Verlihub", "newbot", "bad$bot", "", "Bot2")] \
        == [4, 0, 3, 2, 1]
    alice.clear()
    assert hub.call(hub.del_robot, "Bot2") and not hub.call(hub.del_robot, "nosuchbot")
    assert not hub.call(hub.del_robot, "Verlihub")
    assert alice.received == b"$Quit Bot2|"
    assert hub.call(hub.add_robot, "Odd", 7, "", "", "", "0") and hub.call(hub.state.user_class, "Odd") == 0


def test_A5_topic(hub: Hub) -> None:
    alice = hub.login("alice")
    alice.clear()
    assert hub.call(hub.roster.topic) == ""
    assert hub.call(hub.roster.topic, "Lab topic $x|y") == "Lab topic $x|y"
    assert alice.received == b"$HubName LabHub - Lab topic $x|y|"


def test_A3_set_config_fires_OnSetConfig(hub: Hub) -> None:
    assert hub.call(hub.roster.set_config, "config", "hub_desc", "Lab description")
    assert hub.plugin.of("OnSetConfig")[-1] == ("Verlihub", "config", "hub_desc", "Lab description",
                                               "", T_STRING)
    assert hub.call(hub.state.get_config, "config", "hub_desc") == "Lab description"
    assert not hub.call(hub.roster.set_config, "config", "no_such_var", "1")
    assert hub.plugin.of("OnSetConfig")[-1][-1] == T_UNKNOWN == 4294967295
    hub.plugin.answers["OnSetConfig"] = False
    assert not hub.call(hub.roster.set_config, "config", "hub_desc", "vetoed")
    assert hub.call(hub.state.get_config, "config", "hub_desc") == "Lab description"


def test_A5_config_values_are_strings_and_setup_list_persists(make_hub: Callable[..., Hub]) -> None:
    hub = make_hub()
    assert hub.call(hub.state.get_config, "config", "max_users") == "6000"
    assert hub.call(hub.state.get_config, "config", "hub_encoding") == "CP1252"
    assert hub.call(hub.state.get_config, "config", "hub_topic") == ""
    assert hub.call(hub.state.get_config, "config", "no_such_var") is None
    assert hub.call(hub.state.get_config, "pi_python", "log_level") is None
    hub.call(hub.roster.set_config, "myscript", "token", "abc")
    hub.call(hub.roster.set_config, "config", "max_users", "12")
    hub.stop()
    again = Hub(hub.basedir, plugin_factory=type(hub.plugin), echo_stderr=False)
    assert again.state.get_config("myscript", "token") == "abc"
    assert again.state.get_config("config", "max_users") == "12"


def test_A5_lookups(hub: Hub) -> None:
    hub.login("alice")
    hub.login("hans", ip="203.0.113.7", cc="DE")
    assert hub.call(hub.get_myinfo, "alice") == ("alice", "d", "<++ V:0.868,M:A,H:1/0/0,S:3>",
                                                 "100\x01", "", "1234567890")
    assert hub.call(hub.get_myinfo, "Verlihub") == (
        "Verlihub", "Hub security", "<Verlihub V:1.7.0.0,M:A,H:0/0/1,S:0>", "\x01", "", "0")
    assert hub.call(hub.get_myinfo, "nosuchuser") is None
    assert [hub.call(hub.state.user_class, n) for n in ("alice", "Verlihub", "nosuchuser")] == [0, 10, -2]
    assert hub.call(hub.state.user_ip, "Verlihub") == "127.0.0.1"
    assert hub.call(hub.state.user_ip, "nosuchuser") is None
    assert hub.call(hub.state.user_cc, "alice") == "L1" and hub.call(hub.state.user_cc, "Verlihub") is None
    assert hub.call(hub.state.user_host, "alice", True) == ""
    assert hub.call(hub.state.user_host, "Verlihub", True) is None
    assert (hub.call(hub.state.ip_cc, "127.0.0.1"), hub.call(hub.state.ip_cn, "127.0.0.1"),
            hub.call(hub.state.ip_asn, "127.0.0.1")) == ("L1", "Local Network", "Local Network")
    assert hub.call(hub.state.user_cc, "hans") == "DE" and hub.call(hub.state.ip_cn, "203.0.113.7") == "Germany"
    assert hub.call(hub.state.ip_cc, "198.51.100.1") is None
    assert hub.call(hub.state.geoip, "127.0.0.1")["country_code"] == "L1"


def test_moderation(hub: Hub) -> None:
    alice, bob = hub.login("alice"), hub.login("bob")
    assert hub.call(hub.connections.close_by_nick, "alice", 0, 3)
    assert alice.close_reason == 3
    assert not hub.call(hub.connections.close_by_nick, "Verlihub")
    assert hub.call(hub.moderation.ban, "Verlihub", "bob", "bad", 60, 4)
    assert hub.plugin.of("OnNewBan")[-1] == ("Verlihub", "127.0.0.1", "bob", "bad")
    hub.call(hub.close, bob.conn, 0)
    again = hub.login("bob", check=False)
    assert not again.connected and b"You are banned" in again.received
    assert hub.call(hub.moderation.del_nick_temp_ban, "bob")
    assert hub.login("bob").connected
    assert hub.call(hub.moderation.user_restrictions, "bob", "1h")
    assert not hub.call(hub.moderation.user_restrictions, "bob", "soon")


def test_registration(hub: Hub) -> None:
    assert hub.call(hub.roster.add_reg_user, "newreg", 1, "pw")
    assert hub.plugin.of("OnNewReg")[-1] == ("Verlihub", "newreg", 1)
    assert not hub.call(hub.roster.add_reg_user, "other", 7, "pw")
    assert hub.call(hub.state.set_reg_class, "newreg", 2)
    assert hub.login("newreg", password="pw").user_class == 2
    assert hub.call(hub.state.del_reg_user, "newreg")


def test_set_myinfo_changes_what_others_see_not_the_real_myinfo(hub: Hub) -> None:
    hub.login("alice")
    bob = hub.login("bob")
    bob.clear()
    assert hub.call(hub.roster.set_myinfo, "alice", "fake desc", None, None, None, "42")
    assert bob.received == b"$MyINFO $ALL alice fake desc<++ V:0.868,M:A,H:1/0/0,S:3>$ $100\x01$$42$|"
    assert hub.call(hub.get_myinfo, "alice")[1] == "d"          # F49.10: the real one first
    assert hub.call(hub.roster.set_myinfo_flag, "bob", 2)
    assert hub.call(hub.get_myinfo, "bob")[3] == "100\x01"
    assert not hub.call(hub.roster.set_myinfo_flag, "bob", 0)


def test_F49_38_parse_command_reruns_the_first_command(hub: Hub) -> None:
    alice = hub.login("alice")
    alice.clear()
    assert hub.call(hub.commands.parse_for_script, "alice", "!first", 0)
    assert hub.call(hub.commands.parse_for_script, "alice", "!second", 0)
    assert alice.messages() == ["<Verlihub> Unknown hub command: !first"] * 2


def test_hooks_run_on_the_main_thread(hub: Hub) -> None:
    hub.login("alice").say("x")
    hub.tick()
    assert hub.plugin.threads == {hub.main_thread_id} != {threading.get_ident()}
    assert hub.call(hub.on_main_thread) and not hub.on_main_thread()


def test_A8_OnTimer_gets_epoch_seconds_with_ms_resolution(hub: Hub) -> None:
    hub.tick()
    (now,) = hub.plugin.of("OnTimer")[-1]
    assert isinstance(now, float) and now > 1.7e9 and round(now, 3) == now


def test_A13_crash_disconnects_everyone_and_stops(hub: Hub) -> None:
    alice = hub.login("alice")

    def fatal(*args: object) -> bool:
        hub.crash("free(): invalid pointer")
        return True

    hub.plugin.answers["OnParsedMsgChat"] = fatal
    with pytest.raises(HubCrashed):
        hub.call(hub.proto.on_data, alice.conn, "<alice> boom|")
    assert not alice.connected and hub.crashed == "free(): invalid pointer"
    with pytest.raises(HubCrashed):
        hub.login("bob")
    assert "free(): invalid pointer" in hub.stderr_lines


def test_internal_errors_are_kept_not_fatal(hub: Hub) -> None:
    def broken() -> None:
        raise ValueError("bug")

    hub.call_soon(broken).exception(5)
    assert hub.login("alice").connected
    assert "ValueError: bug" in hub.errors.pop()
    assert "SIM-HUB internal error" in "\n".join(hub.stderr_lines)
