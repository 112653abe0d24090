"""vhctl beside a plain third-party script, in every load and unload order (A12, A23, A3): once the
other script is unloaded vhctl stops calling what it left in ``__main__`` and says so in the hub
log; a script loaded in single mode does not take vhctl's commands away, not even for the messages
in the same TCP write as its ``!pyload``. The simulator's own A12/A23 behaviour is checked first,
with two plain scripts and no vhctl."""

from __future__ import annotations

import pytest
from testkit.runtime import component, load, ticks, wait_until

PLAIN = '''
import vh
SEEN = []

def OnParsedMsgChat(nick, text):
    SEEN.append(("chat", nick, text))
    return {verdict}

def OnTimer(t):
    SEEN.append(("timer", t))
    return {verdict}

def OnUserLogin(nick):
    SEEN.append(("login", nick))
    return 1

def OnHubCommand(nick, command, user_class, in_pm, prefix):
    if command == "hello":
        SEEN.append(("hello", nick))
        vh.usermc("hello from the other script", nick)
        return 0
    return 1   # a 0 here would keep the plugin's own !py* commands from running (F7)
'''

#: A plain script with one hook; every script sharing ``__main__`` appends to the one CALLS list.
PROBE = '''
CALLS = globals().setdefault("CALLS", [])

def OnParsedMsgChat(nick, text):
    CALLS.append(("{name}", text))
    return 1
'''


def _third(verdict: int) -> str:
    return PLAIN.replace("{verdict}", str(verdict))


def _hellos(module) -> int:
    return sum(1 for s in module.SEEN if s[0] == "hello")


# ------------------------------------------------------------------ the simulator itself (A12, A23)
def test_A12_A23_single_mode_unloaded_functions_stay_reachable(hub_factory, scripts):
    hub = hub_factory(mode="single", timer_period=3600.0, chat_rules=False)
    first = load(hub, scripts.third_party(PROBE.replace("{name}", "a"), "a.py"))
    second = load(hub, scripts.third_party(PROBE.replace("{name}", "b"), "b.py"))
    main = hub.plugin.script_module(first)
    assert main is hub.plugin.script_module(second)          # one __main__ (F3)
    alice = hub.login("alice")
    alice.say("one")
    assert main.CALLS == [("b", "one")] * 2                   # b replaced a's function; two slots
    main.CALLS.clear()
    assert hub.pyunload(second).startswith(f"Script #{second} stopped: ")
    alice.say("two")
    assert main.CALLS == [("b", "two")]                       # a's slot still runs b's function


def test_A23_a_new_script_takes_over_within_the_same_tcp_write(hub_factory, scripts):
    hub = hub_factory(mode="single", timer_period=3600.0, chat_rules=False)
    first = load(hub, scripts.third_party(PROBE.replace("{name}", "a"), "a.py"))
    b_path = scripts.third_party(PROBE.replace("{name}", "b"), "b.py")
    master = hub.master()
    master.send_raw(f"<{master.nick}> before|<{master.nick}> !pyload {b_path}|<{master.nick}> after|")
    main = hub.plugin.script_module(first)
    assert main.CALLS == [("a", "before"), ("b", "after"), ("b", "after")]


# ------------------------------------------------------------------ vhctl beside it
@pytest.mark.parametrize("verdict", [1, 0])
@pytest.mark.parametrize("order", [("tp", "api"), ("api", "tp")])
def test_A12_A23_unloading_the_other_script_stops_its_hooks(make_hub, scripts, capfd, order, verdict):
    hub = make_hub()
    paths = {"api": scripts.hub_api(scripts.config()), "tp": scripts.third_party(_third(verdict))}
    ids = {name: load(hub, paths[name]) for name in order}
    wait_until(lambda: component(hub, ids["api"], "echo"))
    third = hub.plugin.script_module(ids["tp"])
    hub.tick()
    alice = hub.login("alice")
    alice.say("hi")
    assert hub.command("!hello") == "hello from the other script"
    assert hub.command("!echo status").startswith("echo runs on port")
    assert _hellos(third) == 1 and [s for s in third.SEEN if s[0] == "chat"] == [("chat", "alice", "hi")]

    assert hub.pyunload(ids["tp"]).startswith(f"Script #{ids['tp']} stopped: ")
    third.SEEN.clear()
    ticks(hub, 2)
    bob = hub.login("bob")
    alice.say("still here")
    assert "<alice> still here" in bob.messages()           # its 0 blocks nothing any more
    assert hub.command("!hello") == "Unknown hub command: !hello"
    assert hub.command("!echo status").startswith("echo runs on port")
    assert third.SEEN == []                                   # nothing of it runs any more
    if hub.mode == "single":
        err = capfd.readouterr().err
        assert "vhctl: the other script thirdparty.py was unloaded: vhctl no longer calls its" in err, err

    ids["tp"] = load(hub, paths["tp"])                        # loading it again brings it back
    third = hub.plugin.script_module(ids["tp"])
    hub.tick()
    assert hub.command("!hello") == "hello from the other script"
    assert _hellos(third) == 1
    assert hub.command("!echo status").startswith("echo runs on port")


@pytest.mark.parametrize("order", [("tp", "api"), ("api", "tp")])
def test_A12_unloading_vhctl_leaves_the_other_script_working(make_hub, scripts, order):
    hub = make_hub()
    paths = {"api": scripts.hub_api(scripts.config()), "tp": scripts.third_party(_third(1))}
    ids = {name: load(hub, paths[name]) for name in order}
    wait_until(lambda: component(hub, ids["api"], "echo"))
    third = hub.plugin.script_module(ids["tp"])
    hub.tick()
    hub.pyunload(ids["api"])
    ticks(hub, 2)
    third.SEEN.clear()
    # the last loaded script gone, vh raises in the others until a script loads again (F3)
    stale = hub.mode == "single" and order[-1] == "api"
    reply = hub.command("!hello")
    assert reply == ("Unknown hub command: !hello" if stale else "hello from the other script")
    hub.login("carol").say("hey")
    assert _hellos(third) == 1                                # once per command, not per slot
    assert [s for s in third.SEEN if s[0] == "chat"] == [("chat", "carol", "hey")]
    assert hub.command("!echo status") == "Unknown hub command: !echo status"


@pytest.mark.parametrize("verdict", [1, 0])
def test_A23_vhctl_commands_work_in_the_same_tcp_write_as_the_other_scripts_load(make_hub, scripts, verdict):
    hub = make_hub()
    api = load(hub, scripts.hub_api(scripts.config()))
    wait_until(lambda: component(hub, api, "echo"))
    hub.tick()
    path = scripts.third_party(_third(verdict))
    master = hub.master()
    seen = len(master.messages())
    master.send_raw(f"<{master.nick}> !pyload {path}|<{master.nick}> !echo status|"
                    f"<{master.nick}> !hello|")
    replies = [m for m in master.messages()[seen:] if m.startswith("<Verlihub> ")]
    assert replies[0].startswith("<Verlihub> Script #") and "is now loaded" in replies[0]
    assert [r for r in replies[1:] if "Unknown hub command" in r] == []
    assert replies[1].startswith("<Verlihub> echo runs on port")
    assert replies[2:] == ["<Verlihub> hello from the other script"]   # once, not once per slot
