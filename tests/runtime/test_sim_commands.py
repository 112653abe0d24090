"""Chat commands, safe sends, the work queue and the status file through the simulator
(F42, F46, F49.7, F49.49-50, F50, F64, A1, A3)."""

from __future__ import annotations

import threading

import pytest
from testkit.runtime import component, free_port, load, ticks, wait_until

from vhctl_hub.status import read_status


def _echo(hub, scripts, **config):
    sid = load(hub, scripts.hub_api(scripts.config(port=free_port(), **config)))
    return wait_until(lambda: component(hub, sid, "echo").port and component(hub, sid, "echo"))


@pytest.mark.parametrize("trigger", ["!", "+", "/"])
def test_F42_any_trigger_and_reply_to_the_caller_only(make_hub, scripts, trigger):
    hub = make_hub()
    echo = _echo(hub, scripts)
    op, bob = hub.login("op", user_class=3), hub.login("bob")
    bob.clear()
    op.say(f"{trigger}echo status")
    assert f"<Verlihub> echo runs on port {echo.port}" in op.messages()
    assert not bob.messages()  # usermc: nobody else sees the reply, nor the command
    assert "Unknown hub command" not in "\n".join(op.messages())


def test_F49_50_command_by_pm_is_answered_by_pm(make_hub, scripts):
    hub = make_hub()
    echo = _echo(hub, scripts)
    op = hub.login("op", user_class=3)
    op.pm("Verlihub", "!echo status")
    assert f"$To: op From: Verlihub $<Verlihub> echo runs on port {echo.port}" in op.protocol_messages()


def test_class_is_checked_and_configurable(make_hub, scripts):
    hub = make_hub()
    _echo(hub, scripts)
    guest = hub.login("guest")
    guest.say("!echo status")
    assert any("only class 3 (operator) or higher" in m for m in guest.messages())


def test_class_zero_may_use_commands_when_configured(make_hub, scripts):
    hub = make_hub()
    echo = _echo(hub, scripts, command_class=0)
    guest = hub.login("guest")
    guest.say("!echo status")
    assert f"<Verlihub> echo runs on port {echo.port}" in guest.messages()


def test_unknown_subcommand_gets_help_and_foreign_commands_pass(make_hub, scripts):
    hub = make_hub()
    _echo(hub, scripts)
    reply = hub.command("!echo frobnicate")
    assert "unknown subcommand 'frobnicate'" in reply and "!echo status" in reply
    assert hub.command("!help").strip()  # the hub's own commands still answer
    assert hub.command("!echox") == "Unknown hub command: !echox"


def test_reply_from_a_background_thread_goes_through_the_hub_thread(make_hub, scripts):
    hub = make_hub()
    _echo(hub, scripts)
    op = hub.login("op", user_class=3)
    op.say("!echo later")
    wait_until(lambda: "<Verlihub> late reply" in op.messages(), hub=hub)


def test_F50_F64_main_chat_posts_are_escaped_framed_and_split(make_hub, scripts):
    hub = make_hub()
    echo = _echo(hub, scripts, extra="[runtime]\nmax_line = 64\n")
    bob = hub.login("bob")
    bob.clear()
    hostile = "one|$Quit bob\r\ntwo `~` \x05\n" + "x" * 100
    thread = threading.Thread(target=echo.ctx.hub.main_chat, args=("EchoBot", hostile))
    thread.start()
    thread.join()
    ticks(hub, 1)
    first, second, third = bob.protocol_messages()[-3:]
    assert (first, second) == ("<EchoBot> one&#124;&#36;Quit bob", "<EchoBot> two `~`  ")
    assert third.startswith("<EchoBot> " + "x" * 63) and len(third) == len("<EchoBot> ") + 64  # cut + "…"
    assert bob.connected


def test_work_queue_flood_is_drained_within_budget(make_hub, scripts):
    hub = make_hub()
    echo = _echo(hub, scripts)
    done = []

    def flood():
        for i in range(3000):
            echo.ctx.submit(done.append, i)

    thread = threading.Thread(target=flood)
    thread.start()
    thread.join()
    ticks(hub, 1)
    assert 0 < len(done) <= 3000
    wait_until(lambda: len(done) == 3000, hub=hub, timeout=30)
    assert done == list(range(3000))


def test_status_file_has_the_fields_and_no_secret(make_hub, scripts):
    hub = make_hub()
    echo = _echo(hub, scripts)
    ticks(hub, 2)
    status = wait_until(lambda: (s := read_status(scripts.state_dir, "echo")) and s["running"] and s)
    assert status["port"] == echo.port and status["state"] == "running"
    assert status["mode"] == hub.mode and status["script"].endswith("hub_api.py")
    assert {"queue_len", "oldest_age_s", "last_tick_age_s"} <= set(status["lag"])
    assert "OnTimer" in wait_until(lambda: read_status(scripts.state_dir, "echo")["hooks"], hub=hub)
    assert status["extra"] == {"ticks": status["extra"]["ticks"]}  # the fixture's "token" is dropped
    raw = (scripts.state_dir / "echo.json").read_text()
    assert "must-not-appear" not in raw
