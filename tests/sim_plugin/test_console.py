"""The !py* console (F5-F12, A2): exact replies, growing ids, path rules, rights, autoload."""

from __future__ import annotations

from pathlib import Path

from testkit.plugin import load, stderr, write_script

from vhctl.sim.hub import Hub

OK = "def OnTimer(t):\n    return 1\n"
EMPTY_LIST = "Loaded Python scripts:\r\n\r\n\tID\tScript\r\n\t" + "-" * 40 + "\r\n\r\n"


def test_A2_pylist_empty_exact_bytes(hub: Hub) -> None:
    master = hub.master()
    master.clear()
    hub.command("!pylist")
    assert master.received == (b"<Verlihub> Loaded Python scripts:\r\n\r\n\tID\tScript\r\n\t"
                               b"----------------------------------------\r\n\r\n|")


def test_A2_pylist_lists_id_tab_path_in_call_order(hub: Hub, tmp_path: Path) -> None:
    first = write_script(tmp_path, "one.py", OK)
    second = write_script(tmp_path, "two.py", OK)
    load(hub, first)
    load(hub, second)
    assert hub.command("!pylist") == EMPTY_LIST + f"\t0\t{first}\r\n\t1\t{second}\r\n"


def test_A2_A14_ids_only_grow_and_a_failed_load_uses_one(hub: Hub, tmp_path: Path) -> None:
    probe = write_script(tmp_path, "probe.py", OK)
    missing = str(tmp_path / "nonexistent.py")
    assert hub.pyload(probe) == f"Script #0 is now loaded: {probe}"
    assert hub.pyload(probe) == f"Script #0 is already loaded: {probe}"
    assert hub.pyload(missing) == f"Script not found or couldn't be parsed: {missing}"
    other = write_script(tmp_path, "other.py", OK)
    assert hub.pyload(other) == f"Script #2 is now loaded: {other}"
    assert hub.plugin.scripts() == [(0, probe), (2, other)]


def test_A2_F10_pyreload_gives_new_id_at_same_position(hub: Hub, tmp_path: Path) -> None:
    first = write_script(tmp_path, "first.py", OK)
    second = write_script(tmp_path, "second.py", OK)
    load(hub, first)
    load(hub, second)
    assert hub.pyreload(first) == f"Script #0 stopped: {first} Script #2 is now loaded: {first}"
    assert hub.plugin.scripts() == [(2, first), (1, second)]
    assert hub.pyreload("1") == f"Script #1 stopped: {second} Script #3 is now loaded: {second}"
    assert hub.plugin.scripts() == [(2, first), (3, second)]


def test_F10_pyreload_of_a_script_not_loaded_still_loads_it(hub: Hub, tmp_path: Path) -> None:
    path = write_script(tmp_path, "late.py", OK)
    assert hub.pyreload(path) == (f"Script not stopped because it's not loaded: {path} "
                                  f"Script #0 is now loaded: {path}")


def test_A2_F9_pyunload_matches_exact_path_or_id(hub: Hub) -> None:
    scripts = Path(hub.plugin.scripts_dir)
    path = write_script(scripts, "probe.py", OK)
    load(hub, path)
    assert hub.pyunload("probe") == f"Script not stopped because it's not loaded: {scripts}/probe"
    assert hub.pyunload("7") == "Script not stopped because it's not loaded: #7"
    assert hub.pyunload("probe.py") == f"Script #0 stopped: {path}"
    load(hub, path)
    assert hub.pyunload("1") == f"Script #1 stopped: {path}"
    assert hub.plugin.scripts() == []


def test_F9_name_without_slash_does_not_match_a_script_loaded_elsewhere(hub: Hub,
                                                                       tmp_path: Path) -> None:
    path = write_script(tmp_path, "away.py", OK)
    load(hub, path)
    assert hub.pyunload("away.py") == (
        f"Script not stopped because it's not loaded: {hub.plugin.scripts_dir}away.py")


def test_F8_pyload_without_slash_resolves_in_scripts_dir(hub: Hub) -> None:
    path = write_script(Path(hub.plugin.scripts_dir), "here.py", OK)
    assert hub.pyload("here.py") == f"Script #0 is now loaded: {path}"


def test_F8_pyload_digits_index_the_sorted_listing(hub: Hub) -> None:
    scripts = Path(hub.plugin.scripts_dir)
    for name in ("b.py", "a.py", "notes.txt", "c.py"):
        write_script(scripts, name, OK)
    assert hub.pyload("1") == f"Script #0 is now loaded: {scripts}/b.py"
    assert hub.pyload("3") == ("Number 3 is out of range. Get the right number using !pyfiles "
                               "command or specify the script path instead.")


def test_A2_F11_pyfiles_lists_sorted_py_files(hub: Hub) -> None:
    scripts = Path(hub.plugin.scripts_dir)
    for name in ("zeta.py", "alpha.py", "readme.md"):
        write_script(scripts, name, OK)
    assert hub.command("!pyfiles") == (
        f"Python scripts found in: {scripts}/\r\n\r\n\tID\tScript\r\n\t{'-' * 40}\r\n\r\n"
        "\t0\talpha.py\r\n\t1\tzeta.py\r\n")


def test_F11_pylog_reply_and_setting(hub: Hub) -> None:
    assert hub.command("!pylog 2") == "Updated configuration pi_python.log_level: 0 -> 2"
    assert hub.state.get_config("pi_python", "log_level") == "2"
    assert hub.command("!pylog 3") == "Updated configuration pi_python.log_level: 2 -> 3"


def test_F5_console_parameter_error(hub: Hub) -> None:
    assert hub.command("!pylog x") == "Command parameters error."


def test_F6_below_plugin_mod_class_no_rights(hub: Hub, tmp_path: Path) -> None:
    path = write_script(tmp_path, "probe.py", OK)
    op = hub.login("op", user_class=4)
    assert hub.call(op.command_reply, f"!pyload {path}") == "You have no rights to do this."
    assert hub.call(op.command_reply, "!pylist") == "You have no rights to do this."
    assert hub.plugin.scripts() == []
    admin = hub.login("admin", user_class=5)
    assert hub.call(admin.command_reply, f"!pyload {path}") == f"Script #0 is now loaded: {path}"


def test_F6_plugin_mod_class_is_a_hub_setting(make_hub) -> None:
    hub = make_hub(config={"plugin_mod_class": "3"})
    op = hub.login("op", user_class=3)
    assert hub.call(op.command_reply, "!pylist") == EMPTY_LIST


def test_A1_F5_pylist_from_a_normal_user_is_an_unknown_command(hub: Hub) -> None:
    alice = hub.login("alice")
    assert hub.call(alice.command_reply, "!pylist") == "Unknown hub command: !pylist"


def test_F5_only_the_bang_form_is_a_console_command(hub: Hub) -> None:
    assert hub.command("+pylist") == "Unknown hub command: +pylist"


def test_F7_A4_onhubcommand_returning_none_locks_out_the_console(hub: Hub, tmp_path: Path) -> None:
    locker = write_script(tmp_path, "locker.py", """
        def OnHubCommand(nick, command, user_class, in_pm, prefix):
            pass
    """)
    load(hub, locker)
    assert hub.command("!pylist") == ""
    assert hub.command(f"!pyunload {locker}") == ""
    assert hub.plugin.scripts() == [(0, locker)]


def test_A3_console_commands_reach_onhubcommand_but_not_onoperatorcommand(hub: Hub,
                                                                           tmp_path: Path) -> None:
    spy = write_script(tmp_path, "spy.py", """
        SEEN = []
        def OnHubCommand(nick, command, user_class, in_pm, prefix):
            SEEN.append(("hub", nick, command, user_class, in_pm, prefix))
            return 1
        def OnOperatorCommand(nick, command):
            SEEN.append(("op", nick, command))
            return 1
    """)
    sid = load(hub, spy)
    hub.command("!pylist")
    hub.command("!mycmd arg")
    seen = hub.plugin.script_module(sid).SEEN
    assert seen == [("hub", "SimMaster", "pylist", 10, 0, "!"),
                    ("hub", "SimMaster", "mycmd arg", 10, 0, "!"),
                    ("op", "SimMaster", "!mycmd arg")]


def test_F12_autoload_loads_scripts_dir_alphabetically(make_hub, mode: str,
                                                       tmp_path: Path) -> None:
    scripts = tmp_path / "hub0" / "scripts"
    write_script(scripts, "b_second.py", OK)
    write_script(scripts, "a_first.py", OK)
    write_script(scripts, "c_broken.py", "def broken(:\n")
    write_script(scripts, "notes.txt", "not python")
    hub = make_hub()
    assert hub.plugin.scripts() == [(0, f"{scripts}/a_first.py"), (1, f"{scripts}/b_second.py")]
    assert "SyntaxError" in stderr(hub)
    assert hub.pyload(f"{scripts}/c_broken.py").startswith("Script not found or couldn't be parsed")
    assert load(hub, write_script(tmp_path, "d.py", OK)) == 4


def test_F8_failed_load_prints_the_traceback_to_hub_stderr(hub: Hub, tmp_path: Path,
                                                            mode: str) -> None:
    path = write_script(tmp_path, "boom.py", """
        def helper():
            raise ValueError("boom at load")
        helper()
    """)
    assert hub.pyload(path) == f"Script not found or couldn't be parsed: {path}"
    err = stderr(hub)
    assert "Traceback (most recent call last):" in err
    assert 'boom.py", line 3, in helper' in err
    assert "ValueError: boom at load" in err
    assert "vhctl/sim" not in err
    if mode == "single":
        assert "PY: [0:boom] Failed to execute script in __main__ namespace" in err
