"""Commands (F40-F43, A1, A3, A4): trigger chars, OnHubCommand, the operator/user stage, the hub's own
commands, the "Unknown hub command" reply, and that command text is never chat."""

from __future__ import annotations

from typing import Callable

from vhctl.sim.hub import Hub

UNKNOWN = b"<Verlihub> Unknown hub command: !mycmd arg|"


def _names(hub: Hub, *wanted: str) -> list[tuple]:
    return [c for c in hub.call(lambda: list(hub.plugin.calls)) if c[0] in wanted]


CMD_HOOKS = ("OnHubCommand", "OnOperatorCommand", "OnUserCommand", "OnParsedMsgChat", "OnParsedMsgPM")


def test_A3_user_command_flow_and_unknown_reply(hub: Hub) -> None:
    alice, bob = hub.login("alice"), hub.login("bob")
    alice.clear(), bob.clear()
    alice.say("!mycmd arg")
    assert _names(hub, *CMD_HOOKS) == [("OnHubCommand", ("alice", "mycmd arg", 0, 0, "!")),
                                       ("OnUserCommand", ("alice", "!mycmd arg"))]
    assert alice.received == UNKNOWN
    assert bob.received == b""


def test_A3_operator_command_flow(hub: Hub) -> None:
    master = hub.login("Master", user_class=10)
    master.clear()
    master.say("+mycmd arg")
    assert _names(hub, *CMD_HOOKS) == [("OnHubCommand", ("Master", "mycmd arg", 10, 0, "+")),
                                       ("OnOperatorCommand", ("Master", "+mycmd arg"))]
    assert master.received == b"<Verlihub> Unknown hub command: +mycmd arg|"


def test_A3_command_in_pm_to_hub_security_replies_in_main_chat(hub: Hub) -> None:
    master = hub.login("Master", user_class=10)
    master.clear()
    master.pm("Verlihub", "!mycmd pmarg")
    assert _names(hub, *CMD_HOOKS) == [("OnParsedMsgPM", ("Master", "!mycmd pmarg", "Verlihub")),
                                       ("OnHubCommand", ("Master", "mycmd pmarg", 10, 1, "!")),
                                       ("OnOperatorCommand", ("Master", "!mycmd pmarg"))]
    assert master.received == b"<Verlihub> Unknown hub command: !mycmd pmarg|"


def test_A3_pm_to_a_plugin_robot_calls_only_OnParsedMsgPM(hub: Hub) -> None:
    alice = hub.login("alice")
    assert hub.call(hub.add_robot, "LabBot", 0, "lab bot desc", "LAN(T1)", "bot@x", "12345")
    alice.clear()
    alice.pm("LabBot", "!mycmd botarg")
    alice.pm("LabBot", "plain")
    assert _names(hub, *CMD_HOOKS) == [("OnParsedMsgPM", ("alice", "!mycmd botarg", "LabBot")),
                                       ("OnParsedMsgPM", ("alice", "plain", "LabBot"))]
    assert alice.received == b""


def test_A4_OnHubCommand_false_swallows_everything(hub: Hub) -> None:
    master = hub.login("Master", user_class=10)
    hub.plugin.answers["OnHubCommand"] = False
    master.clear()
    master.say("!help")
    master.say("!mycmd arg")
    assert master.received == b""
    assert not _names(hub, "OnOperatorCommand", "OnParsedMsgChat")


def test_A4_operator_stage_false_swallows_silently(hub: Hub) -> None:
    master, alice = hub.login("Master", user_class=10), hub.login("alice")
    hub.plugin.answers["OnOperatorCommand"] = False
    hub.plugin.answers["OnUserCommand"] = False
    master.clear(), alice.clear()
    master.say("!mycmd arg")
    alice.say("!mycmd arg")
    assert master.received == b"" and alice.received == b""


def test_A1_py_commands_of_a_class_0_user_are_unknown(hub: Hub) -> None:
    alice = hub.login("alice")
    alice.clear()
    alice.say("!pylist")
    assert alice.received == b"<Verlihub> Unknown hub command: !pylist|"
    assert not _names(hub, "OnOperatorCommand")


def test_F40_trigger_chars_come_from_the_config(make_hub: Callable[..., Hub]) -> None:
    hub = make_hub(config={"cmd_start_user": "#", "cmd_start_op": "#"}, chat_rules=False)
    alice, bob = hub.login("alice"), hub.login("bob")
    bob.clear()
    alice.say("!not a command")
    alice.say("#mycmd")
    assert bob.messages() == ["<alice> !not a command"]
    assert ("OnHubCommand", ("alice", "mycmd", 0, 0, "#")) in _names(hub, "OnHubCommand")


def test_A16_help_is_one_message_per_class_section(hub: Hub) -> None:
    alice, master = hub.login("alice"), hub.login("Master", user_class=10)
    alice.clear(), master.clear()
    alice.say("+help")
    master.say("!help")
    assert len(alice.messages()) == 1
    assert alice.messages()[0].startswith("<Verlihub> [*] Regular user with class 0:")
    sections = master.messages()
    assert len(sections) == 7
    assert sections[0].startswith(
        "<Verlihub> [*] Master with class 10:\r\n\r\n [*] Update check:\r\n\r\n\t!update")
    assert sections[-1].startswith("<Verlihub> [*] Regular user with class 0:")


def test_operator_topic_and_kick_commands(hub: Hub) -> None:
    alice, bob = hub.login("alice"), hub.login("bob")
    alice.clear()
    assert hub.command("!topic Lab topic") == "Topic is set to: Lab topic"
    assert b"$HubName LabHub - Lab topic|" in alice.received
    assert hub.command("!kick bob flooding") == "User kicked: bob"
    assert b"You are being kicked because: flooding|" in bob.received
    alice.say("!topic mine")
    assert alice.messages()[-1] == "<Verlihub> Unknown hub command: !topic mine"


def test_builtin_master_is_lazy_and_registered(hub: Hub) -> None:
    assert "SimMaster" not in hub.call(hub.state.nick_list)
    hub.command("!help")
    assert hub.call(hub.state.user_class, "SimMaster") == 10
