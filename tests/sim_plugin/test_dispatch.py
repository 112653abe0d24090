"""Hook dispatch (F19-F24, A3, A4, A7, A12): order, return values, encoding, unload, build modes."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from testkit.plugin import load, stderr, write_script
from testkit.runtime import wait_until

from vhctl.sim.guard import CRASH, HOOK_THREAD
from vhctl.sim.hub import Hub, HubCrashed
from vhctl.sim.users import SimUser

CHAT_RETURNING = """
def OnParsedMsgChat(nick, message):
    return {value}
"""


def _chat(hub: Hub, text: str) -> tuple[SimUser, SimUser]:
    """alice says ``text`` in main chat; returns (alice, bob) with what they got since."""
    alice = hub.login("alice")
    bob = hub.login("bob")
    alice.clear()
    bob.clear()
    alice.say(text)
    return alice, bob


def _chat_delivered(hub: Hub, text: str) -> bool:
    return f"<alice> {text}".encode() in _chat(hub, text)[1].received


@pytest.mark.parametrize("value", ["1", "True", "2", "-1"])
def test_F20_A4_nonzero_int_allows(hub: Hub, tmp_path: Path, value: str) -> None:
    load(hub, write_script(tmp_path, "ret.py", CHAT_RETURNING.format(value=value)))
    assert _chat_delivered(hub, "hello")


@pytest.mark.parametrize("value", ["0", "False", "None"])
def test_F20_A4_zero_false_none_block(hub: Hub, tmp_path: Path, value: str) -> None:
    load(hub, write_script(tmp_path, "ret.py", CHAT_RETURNING.format(value=value)))
    assert not _chat_delivered(hub, "hello")


def test_F20_A4_no_return_statement_blocks(hub: Hub, tmp_path: Path) -> None:
    load(hub, write_script(tmp_path, "ret.py", "def OnParsedMsgChat(nick, message):\n    pass\n"))
    assert not _chat_delivered(hub, "hello")


@pytest.mark.parametrize("value, logged", [("1.5", "d [ 1.500000 ]"),
                                           ("'<Verlihub> string-return'",
                                            "s [ '<Verlihub> string-return' ]")])
def test_F20_A4_float_and_str_are_logged_and_allow(hub: Hub, tmp_path: Path, value: str,
                                                   logged: str) -> None:
    load(hub, write_script(tmp_path, "ret.py", CHAT_RETURNING.format(value=value)))
    alice, bob = _chat(hub, "hello")
    assert b"<alice> hello|" in bob.received
    assert f"PY: Call OnParsedMsgChat: unexpected return value: {logged}" in stderr(hub)
    assert b"string-return" not in alice.received


@pytest.mark.parametrize("value", ["[0]", "{}", "object()"])
def test_F20_list_dict_object_count_as_hook_missing(hub: Hub, tmp_path: Path, value: str) -> None:
    load(hub, write_script(tmp_path, "ret.py", CHAT_RETURNING.format(value=value)))
    assert _chat_delivered(hub, "hello")
    assert "unexpected return value" not in stderr(hub)


def test_A4_A13_tuple_return_crashes_the_hub(hub: Hub, tmp_path: Path) -> None:
    load(hub, write_script(tmp_path, "ret.py", CHAT_RETURNING.format(value="('alice', 'x')")))
    alice = hub.login("alice")
    bob = hub.login("bob")
    with pytest.raises(HubCrashed):
        alice.say("modify me")
    hub.expected_violations = True
    [violation] = hub.plugin.violations
    assert violation.kind == CRASH and violation.fatal
    assert "OnParsedMsgChat" in violation.function and "tuple" in violation.detail
    assert hub.crashed == "free(): invalid pointer"
    assert not bob.connected and not alice.connected
    err = stderr(hub)
    assert ("PY: unpack: format strings don't match: 'tab' vs. 'l'\n"
            "PY: unpack: format strings don't match: 'tab' vs. 'ss'\n"
            "PY: unpack: format strings don't match: 'tab' vs. 'sl'\n"
            "PY: Call OnParsedMsgChat: unexpected return value: tab [ ]") in err


def test_A4_a_script_cannot_swallow_the_crash(hub: Hub, tmp_path: Path) -> None:
    load(hub, write_script(tmp_path, "kick.py", """
        import vh
        def OnParsedMsgChat(nick, message):
            try:
                vh.KickUser("SimMaster", nick, "bye")
            except BaseException:
                pass
            return 1
    """))
    hub.master()
    with pytest.raises(HubCrashed):
        hub.login("alice").say("hi")
    hub.expected_violations = True
    assert [v.kind for v in hub.plugin.violations] == [CRASH]


def test_A3_exception_in_hook_prints_traceback_and_allows(hub: Hub, tmp_path: Path) -> None:
    load(hub, write_script(tmp_path, "raiser.py", """
        def OnParsedMsgChat(nick, message):
            raise KeyError("from the hook")
    """))
    assert _chat_delivered(hub, "still delivered")
    err = stderr(hub)
    assert "Traceback (most recent call last):" in err and "KeyError: 'from the hook'" in err
    assert 'raiser.py", line 3, in OnParsedMsgChat' in err


def test_F38_A8_ontimer_gets_float_unix_seconds(hub: Hub, tmp_path: Path) -> None:
    sid = load(hub, write_script(tmp_path, "timer.py", """
        GOT = []
        def OnTimer(t):
            GOT.append(t)
            return 1
    """))
    hub.tick()
    [stamp] = hub.plugin.script_module(sid).GOT
    assert isinstance(stamp, float) and abs(stamp - time.time()) < 5


SPEAKER = """
import vh
CALLS = globals().setdefault("CALLS", [])
def OnParsedMsgChat(nick, message):
    CALLS.append(("{me}", vh.myid))
    return {ret}
"""


def test_F19_A4_every_script_called_in_list_order_any_block_blocks(hub: Hub, tmp_path: Path,
                                                                   mode: str) -> None:
    first = load(hub, write_script(tmp_path, "blocker.py", SPEAKER.format(me="blocker", ret=0)))
    second = load(hub, write_script(tmp_path, "passer.py", SPEAKER.format(me="passer", ret=1)))
    # sub: the blocker still blocks although the passer allows; single: the blocker's function
    # was replaced by the passer's (F3), so nothing blocks any more.
    assert _chat_delivered(hub, "x") is (mode == "single")
    if mode == "sub":
        assert hub.plugin.script_module(first).CALLS == [("blocker", first)]
        assert hub.plugin.script_module(second).CALLS == [("passer", second)]
    else:  # F3/A12: the later definition replaced the earlier one, called once per slot
        assert hub.plugin.script_module(first).CALLS == [("passer", second), ("passer", second)]


def test_F3_A12_single_mode_hook_flags_come_from_the_shared_namespace(hub: Hub, tmp_path: Path,
                                                                      mode: str) -> None:
    with_hook = load(hub, write_script(tmp_path, "with_hook.py", SPEAKER.format(me="a", ret=1)))
    load(hub, write_script(tmp_path, "without.py", "X = 1\n"))
    hub.login("alice").say("x")
    calls = hub.plugin.script_module(with_hook).CALLS
    assert len(calls) == (2 if mode == "single" else 1)


def test_F3_A12_single_mode_unloaded_code_keeps_running(hub: Hub, tmp_path: Path,
                                                        mode: str) -> None:
    first = load(hub, write_script(tmp_path, "first.py", SPEAKER.format(me="first", ret=1)))
    second = load(hub, write_script(tmp_path, "second.py", SPEAKER.format(me="second", ret=1)))
    hub.pyunload(str(second))
    hub.login("alice").say("x")
    calls = hub.plugin.script_module(first).CALLS
    if mode == "single":  # first's slot calls second's function; vh resolves to the dead slot
        assert calls[-1] == ("second", second)
    else:
        assert calls == [("first", first)]


def test_F15_A2_unload_calls_no_python_at_all(hub: Hub, tmp_path: Path) -> None:
    marker = tmp_path / "called.txt"
    sid = load(hub, write_script(tmp_path, "bye.py", f"""
        def _mark(what):
            with open({str(marker)!r}, "a") as f:
                f.write(what + "\\n")
        def UnLoad():
            _mark("UnLoad")
        def OnUnLoad(code):
            _mark("OnUnLoad")
        def OnTimer(t):
            _mark("OnTimer")
            return 1
    """))
    hub.pyunload(str(sid))
    hub.tick()
    hub.pyreload(str(tmp_path / "bye.py"))
    hub.pyunload(str(tmp_path / "bye.py"))
    assert not marker.exists()


def test_F16_threads_keep_running_after_unload(hub: Hub, tmp_path: Path) -> None:
    sid = load(hub, write_script(tmp_path, "worker.py", """
        import threading
        STOP = threading.Event()
        TICKS = []
        def work():
            while not STOP.wait(0.005):
                TICKS.append(1)
        threading.Thread(target=work, daemon=True, name="script-worker").start()
    """))
    space = hub.plugin.script_module(sid)
    hub.pyunload(str(sid))
    before = len(space.TICKS)
    try:
        wait_until(lambda: len(space.TICKS) > before, 5)
    finally:
        space.STOP.set()


def test_F23_A7_hook_args_are_raw_bytes_as_strict_utf8(make_hub, tmp_path: Path) -> None:
    hub = make_hub()  # CP1252 hub: no conversion for hook arguments anyway
    sid = load(hub, write_script(tmp_path, "seen.py", """
        SEEN = []
        def OnParsedMsgAny(nick, raw):
            SEEN.append(raw)
            return 1
        def OnParsedMsgChat(nick, message):
            SEEN.append(message)
            return 1
    """))
    alice = hub.login("alice")
    bob = hub.login("bob")
    seen = hub.plugin.script_module(sid).SEEN
    seen.clear()
    alice.send_raw(b"<alice> utf8 bytes \xc3\xa9 \xe2\x82\xac \xd0\x96 end|")
    assert seen == ["<alice> utf8 bytes é € Ж end", "utf8 bytes é € Ж end"]
    seen.clear()
    bob.clear()
    alice.send_raw(b"<alice> cp1252 bytes \xe9 \x80 end|")
    assert seen == []
    assert b"<alice> cp1252 bytes \xe9 \x80 end|" in bob.received


def test_F24_hooks_run_on_the_hub_thread(hub: Hub, tmp_path: Path) -> None:
    sid = load(hub, write_script(tmp_path, "where.py", """
        import threading
        IDENTS = []
        def OnTimer(t):
            IDENTS.append(threading.get_ident())
            return 1
    """))
    hub.tick()
    assert hub.plugin.script_module(sid).IDENTS == [hub.main_thread_id]


def test_hook_called_off_the_hub_thread_is_a_violation(hub: Hub, tmp_path: Path) -> None:
    load(hub, write_script(tmp_path, "t.py", "def OnTimer(t):\n    return 1\n"))
    assert hub.plugin.hook("OnTimer", 1.0) is True
    hub.expected_violations = True
    [violation] = hub.plugin.violations
    assert violation.kind == HOOK_THREAD and violation.thread == threading.current_thread().name
    assert "test_hook_called_off_the_hub_thread" in violation.stack


def test_unknown_hook_name_is_a_programming_error(hub: Hub) -> None:
    with pytest.raises(ValueError):
        hub.call(hub.plugin.hook, "UnLoad")


def test_hook_stats_measure_hub_thread_time(hub: Hub, tmp_path: Path) -> None:
    sid = load(hub, write_script(tmp_path, "slow.py", """
        import time
        def OnTimer(t):
            time.sleep(0.002)
            return 1
    """))
    for _ in range(3):
        hub.tick()
    stats = hub.plugin.hook_stats()["OnTimer"]
    assert stats["count"] == 3
    assert stats["median_us"] >= 2000 and stats["max_us"] >= stats["p99_us"] >= stats["median_us"]
    assert stats["total_ms"] >= 6
    assert hub.plugin.script_stats()[sid]["OnTimer"]["count"] == 3


def test_F13_module_name_file_and_sys_path(hub: Hub, tmp_path: Path, mode: str) -> None:
    elsewhere = tmp_path / "elsewhere"
    sid = load(hub, write_script(elsewhere, "where_am_i.py", """
        import sys
        NAME = __name__
        FILE = globals().get("__file__")
        PATH = list(sys.path[:2])
    """))
    space = hub.plugin.script_module(sid)
    scripts = hub.plugin.scripts_dir.rstrip("/")
    assert space.PATH == [scripts, str(elsewhere)]
    assert space.NAME == ("__main__" if mode == "single" else "where_am_i")
    assert space.FILE == str(elsewhere / "where_am_i.py")


def test_F13_scripts_dir_shadows_the_scripts_own_dir(hub: Hub, tmp_path: Path) -> None:
    write_script(Path(hub.plugin.scripts_dir), "helpermod.py", "WHERE = 'scripts dir'\n")
    write_script(tmp_path, "helpermod.py", "WHERE = 'own dir'\n")
    sid = load(hub, write_script(tmp_path, "user_of_helper.py", """
        import helpermod
        WHERE = helpermod.WHERE
    """))
    assert hub.plugin.script_module(sid).WHERE == "scripts dir"


def test_F3_single_mode_runs_the_main_block_and_maps_main(hub: Hub, tmp_path: Path,
                                                          mode: str) -> None:
    import sys

    host_main = sys.modules["__main__"]
    sid = load(hub, write_script(tmp_path, "mainy.py", """
        import sys
        RAN_MAIN_BLOCK = False
        if __name__ == "__main__":
            RAN_MAIN_BLOCK = True
        SEEN = []
        def OnTimer(t):
            SEEN.append(sys.modules.get("__main__") is sys.modules.get(__name__))
            return 1
    """))
    hub.tick()
    space = hub.plugin.script_module(sid)
    assert space.RAN_MAIN_BLOCK is (mode == "single")
    assert space.SEEN == [mode == "single"]
    assert sys.modules["__main__"] is host_main


def test_vh_errors_in_hooks_show_only_script_frames(hub: Hub, tmp_path: Path) -> None:
    load(hub, write_script(tmp_path, "badcall.py", """
        import vh
        def OnTimer(t):
            vh.usermc(5, "alice")
    """))
    hub.tick()
    err = stderr(hub)
    assert 'badcall.py", line 4, in OnTimer' in err
    assert err.endswith("TypeError: Argument 0 must be str, not int")
    assert "vhctl/sim" not in err


def test_systemexit_in_a_script_ends_the_hub_process(hub: Hub, tmp_path: Path) -> None:
    load(hub, write_script(tmp_path, "quitter.py", """
        import sys
        def OnTimer(t):
            sys.exit(3)
    """))
    with pytest.raises(HubCrashed):
        hub.tick()
    hub.expected_violations = True
    [violation] = hub.plugin.violations
    assert violation.kind == "exit" and violation.fatal
    assert "SystemExit(3)" in hub.crashed


def test_pyerr_print_goes_through_sys_excepthook(hub: Hub, tmp_path: Path) -> None:
    path = write_script(tmp_path, "one_line.py", """
        import sys
        error = ImportError("vhctl: one line only")
        previous = sys.excepthook
        def one_line(kind, value, tb):
            sys.excepthook = previous
            if value is error:
                sys.stderr.write("vhctl: one line only\\n")
            else:
                previous(kind, value, tb)
        sys.excepthook = one_line
        raise error from None
    """)
    assert hub.pyload(path).startswith("Script not found or couldn't be parsed")
    assert hub.stderr_lines[-1] == "vhctl: one line only"
    assert "Traceback" not in stderr(hub)
