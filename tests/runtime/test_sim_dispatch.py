"""Hook dispatch and lifecycle through the simulator, in both plugin modes (F3, F15-F17, F19-F21, A12)."""

from __future__ import annotations

import itertools
import threading
from types import SimpleNamespace

import pytest
from testkit.runtime import component, connect, free_port, load, runtime_of, ticks, wait_until

from vhctl_hub.status import read_status

THIRD_PARTY = '''
import vh
SEEN = []

def OnParsedMsgAny(nick, raw):
    SEEN.append(("any", nick, raw))
    return 0 if raw.endswith("> hush") else 1

def OnTimer(t):
    SEEN.append(("timer", t))
    return 1

def OnParsedMsgChat(nick, text):
    SEEN.append(("chat", nick, text))
    return 0 if text == "block me" else 1

def OnHubCommand(nick, command, user_class, in_pm, prefix):
    if command.startswith("tp"):
        vh.usermc("tp handled", nick)
        return 0
    return 1
'''


def _port_closed(port):
    try:
        connect(port)
    except OSError:
        return True
    return False


def _ours(hub, sid, hook="OnTimer"):
    fn = getattr(hub.plugin.script_module(sid), hook)
    return runtime_of(hub, sid).guard.is_ours(fn)


def _three_scripts(hub, scripts, order):
    """hub_api.py (Echo), a second vhctl script (Bridge) and a third-party script, loaded in ``order``,
    with the components running and (single mode) our hooks back in place."""
    port = free_port()
    paths = {"api": scripts.hub_api(scripts.config(port=port)),
             "second": scripts.second(scripts.config("second.toml")),
             "tp": scripts.third_party(THIRD_PARTY)}
    ids = {name: load(hub, paths[name]) for name in order}
    if hub.mode == "single":  # a later third-party script replaced our hooks until the guard put them back
        wait_until(lambda: all(_ours(hub, ids["api"], h)
                               for h in ("OnTimer", "OnParsedMsgAny", "OnParsedMsgChat", "OnHubCommand")))
    echo = wait_until(lambda: component(hub, ids["api"], "echo").port and component(hub, ids["api"], "echo"))
    third = hub.plugin.script_module(ids["tp"])
    third.SEEN.clear()
    return SimpleNamespace(port=port, paths=paths, ids=ids, echo=echo, third=third,
                           bridge=component(hub, ids["second"], "fixbridge"))


@pytest.mark.parametrize("order", [("api", "second", "tp"), ("tp", "api", "second"), ("api", "tp", "second")])
def test_F3_A12_each_event_once_per_component_beside_a_third_party_script(make_hub, scripts, order):
    hub = make_hub()
    loaded = _three_scripts(hub, scripts, order)
    port, paths, echo, bridge, third = loaded.port, loaded.paths, loaded.echo, loaded.bridge, loaded.third
    ticks0 = (echo.ticks, bridge.ticks)
    ticks(hub, 4)
    assert (echo.ticks - ticks0[0], bridge.ticks - ticks0[1]) == (4, 4)
    assert len([s for s in third.SEEN if s[0] == "timer"]) == 4

    alice, bob = hub.login("alice"), hub.login("bob")
    hub.login("carol", user_class=3).say("hello all")
    assert echo.chats[-1:] == bridge.chats[-1:] == [("carol", "hello all")]
    assert [s for s in third.SEEN if s[0] == "chat"] == [("chat", "carol", "hello all")]
    assert "<carol> hello all" in bob.messages()

    alice.say("block me")  # the third-party script's 0 still blocks (F20)
    assert "<alice> block me" not in bob.messages()
    assert echo.chats[-1] == ("alice", "block me") and len(echo.chats) == 2

    assert hub.command("!echo status") == f"echo runs on port {port}"
    assert hub.command("!fixbridge status") == "fixbridge runs on port None"
    assert hub.command("!tp x") == "tp handled"
    assert hub.command("!nosuch") == "Unknown hub command: !nosuch"
    assert "Loaded Python scripts" in hub.command("!pylist")  # F7: the console still works
    assert connect(port) == b"echo\n"

    reply = hub.pyreload(paths["api"])  # reloading one leaves the others working, still once each
    new_id = int(reply.rsplit("#", 1)[1].split(" ", 1)[0])
    echo2 = wait_until(lambda: component(hub, new_id, "echo").port and component(hub, new_id, "echo"))
    if hub.mode == "single":
        wait_until(lambda: _ours(hub, new_id))
    third.SEEN.clear()
    counts = (echo2.ticks, bridge.ticks)
    ticks(hub, 3)
    assert (echo2.ticks - counts[0], bridge.ticks - counts[1]) == (3, 3)
    assert len([s for s in third.SEEN if s[0] == "timer"]) == 3
    assert hub.command("!echo status") == f"echo runs on port {port}"


@pytest.mark.parametrize("order", list(itertools.permutations(("api", "second", "tp"))))
def test_A3_F32_the_same_command_or_line_twice_in_one_tick_is_two_events(make_hub, scripts, order):
    hub = make_hub()  # its timer is off: no tick comes between the two lines
    loaded = _three_scripts(hub, scripts, order)
    echo, bridge, third = loaded.echo, loaded.bridge, loaded.third
    op, bob = hub.login("op", user_class=3), hub.login("bob")
    op.clear()

    def twice(text):  # both lines in one read of the socket, handled in one go on the hub thread
        op.send_raw(f"<op> {text}|<op> {text}|")

    for command in ("!echo status", "!fixbridge status", "!tp x"):
        twice(command)
    replies = [f"echo runs on port {loaded.port}", "fixbridge runs on port None", "tp handled"]
    assert [m for m in op.messages() if m.startswith("<Verlihub> ")] == \
        [f"<Verlihub> {reply}" for reply in replies for _ in range(2)]
    assert third.SEEN.count(("any", "op", "<op> !echo status")) == 2  # chained once per message
    op.send_raw("$To: Verlihub From: op $<op> !echo status|" * 2)  # by PM to the hub-security bot
    pm_reply = f"$To: op From: Verlihub $<Verlihub> echo runs on port {loaded.port}"
    assert op.protocol_messages().count(pm_reply) == 2

    twice("same line")
    assert echo.chats == bridge.chats == [("op", "same line")] * 2
    assert [s for s in third.SEEN if s[0] == "chat"] == [("chat", "op", "same line")] * 2
    assert bob.messages().count("<op> same line") == 2

    twice("hush")  # the third-party OnParsedMsgAny's 0 still blocks (F20)
    assert "<op> hush" not in bob.messages() and len(echo.chats) == 2
    # Single mode sees one message here: nothing of ours ran between the two (see dedup's docstring).
    assert third.SEEN.count(("any", "op", "<op> hush")) == (1 if hub.mode == "single" else 2)


def test_F20_F21_hooks_never_block_what_is_not_theirs(make_hub, scripts):
    hub = make_hub()
    load(hub, scripts.hub_api(scripts.config(port=free_port())))
    alice, bob = hub.login("alice", share=5), hub.login("bob")
    alice.say("plain chat")
    alice.myinfo(share=10)
    assert "<alice> plain chat" in bob.messages()  # OnParsedMsgChat returned 1
    assert alice.connected and bob.connected          # OnUserLogin returned 1
    assert hub.call(hub.get_myinfo, "alice")[5] == "10"  # OnParsedMsgMyINFO returned 1
    hub.tick()
    assert not hub.stderr_lines or "unexpected return value" not in "\n".join(hub.stderr_lines)
    assert hub.call(hub.plugin.hook, "OnTimer", 1.0) is True


def test_F15_reload_stops_the_old_instance_and_frees_its_port_first(make_hub, scripts):
    hub = make_hub()
    port = free_port()
    path = scripts.hub_api(scripts.config(port=port))
    first = load(hub, path)
    old = wait_until(lambda: component(hub, first, "echo").port and component(hub, first, "echo"))
    reply = hub.pyreload(path)
    second = int(reply.rsplit("#", 1)[1].split(" ", 1)[0])
    new = wait_until(lambda: component(hub, second, "echo").port and component(hub, second, "echo"))
    assert new is not old and new.port == port == old.port
    assert (old.starts, old.stops, new.starts, new.stops) == (1, 1, 1, 0)
    assert connect(port) == b"echo\n"
    for _ in range(3):
        hub.tick()
    wait_until(lambda: read_status(scripts.state_dir, "echo")["state"] == "running")
    assert read_status(scripts.state_dir, "echo")["port"] == port


def test_F16_unload_of_one_leaves_the_other_working(make_hub, scripts):
    hub = make_hub()
    port = free_port()
    api = load(hub, scripts.hub_api(scripts.config(port=port, extra="[runtime]\nwatchdog_seconds = 2\n")))
    second = load(hub, scripts.second(scripts.config("second.toml")))
    echo = wait_until(lambda: component(hub, api, "echo").port and component(hub, api, "echo"))
    bridge = component(hub, second, "fixbridge")
    hub.pyunload(api)
    wait_until(lambda: _port_closed(port), hub=hub)  # single: slot check; sub: watchdog
    assert echo.stops == 1
    before = bridge.ticks
    ticks(hub, 1)
    assert bridge.ticks == before + 1
    assert hub.command("!fixbridge status") == "fixbridge runs on port None"
    assert hub.command("!echo status") == "Unknown hub command: !echo status"
    # now unload the last loaded script and load nothing: vh's script id is stale in single mode (F3)
    api2 = load(hub, scripts.hub_api(scripts.config(port=port), name="hub_api2.py"))
    echo2 = wait_until(lambda: component(hub, api2, "echo").port and component(hub, api2, "echo"))
    hub.pyunload(second)
    hub.tick()
    hub.login("dave", share=77)
    hub.tick()
    assert "dave" in echo2.ctx.cache.snapshot().users
    assert hub.command("!echo status") == f"echo runs on port {port}"


def test_watchdog_pauses_without_ticks_and_resumes(make_hub, scripts):
    hub = make_hub()
    port = free_port()
    sid = load(hub, scripts.hub_api(scripts.config(port=port, extra="[runtime]\nwatchdog_seconds = 2\n")))
    echo = wait_until(lambda: component(hub, sid, "echo").port and component(hub, sid, "echo"))
    op = hub.login("op", user_class=3)   # below plugin_mod_class: the unload fails (F6), ticks go on
    assert hub.call(op.command_reply, f"!pyunload {sid}") == "You have no rights to do this."
    ticks(hub, 1)
    wait_until(lambda: _port_closed(port), timeout=6)  # nobody ticks: the hub "stopped calling us"
    assert wait_until(lambda: read_status(scripts.state_dir, "echo")["state"] == "paused")
    hub.tick()
    wait_until(lambda: echo.starts == 2 and connect(port) == b"echo\n", hub=hub)


def test_F17_threads_are_daemons_and_OnUnLoad_stops_everything(make_hub, scripts):
    hub = make_hub()
    port = free_port()
    sid = load(hub, scripts.hub_api(scripts.config(port=port)))
    echo = wait_until(lambda: component(hub, sid, "echo").port and component(hub, sid, "echo"))
    ours = [t for t in threading.enumerate() if t.name.startswith("vhctl-")]
    assert ours and all(t.daemon for t in ours)
    assert hub.call(hub.plugin.hook, "OnUnLoad", 0) is True
    assert echo.stops == 1 and _port_closed(port)
    status = read_status(scripts.state_dir, "echo")
    assert status["state"] == "stopped" and "OnUnLoad" in status["stop_reason"]
    assert runtime_of(hub, sid).instances() == []


def test_F15_after_pyunload_of_the_last_script_its_supervisor_ends(make_hub, scripts):
    """No script of ours is left, so nothing calls our hooks: the watchdog stops the component, and
    the supervisor ends instead of waiting for ticks (the hub saw our `!pyunload` first, F7)."""
    hub = make_hub()
    port = free_port()
    sid = load(hub, scripts.hub_api(scripts.config(port=port, extra="[runtime]\nwatchdog_seconds = 2\n")))
    wait_until(lambda: component(hub, sid, "echo").port)
    ticks(hub, 1)
    assert "stopped" in hub.pyunload(sid)
    status = wait_until(lambda: (s := read_status(scripts.state_dir, "echo")) and s["state"] == "stopped" and s,
                        timeout=20)
    assert status["stop_reason"] == "its script was unloaded" and _port_closed(port)
    wait_until(lambda: "vhctl-echo-supervisor" not in [t.name for t in threading.enumerate()])
