"""The vh module (F14, F44-F58, A5, A6, A13): names, parsing, results, broken functions, encoding,
crashes and the thread rule."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from testkit.plugin import globals_of, install_runner, load, run, stderr, write_script

from vhctl.sim.guard import CRASH, OUTSIDE_HOOK, THREAD
from vhctl.sim.hub import Hub, HubCrashed

A5_PUBLIC = """AddRegUser AddRobot Ban CallDynamicFunction CloseConnection Decode
DelIPTempBan DelNickTempBan DelRegUser DelRobot Encode GetBotList GetConfig GetGeoIP GetIPASN
GetIPCC GetIPCN GetMyINFO GetNickList GetOpList GetRawBotList GetRawNickList GetRawOpList
GetServFreq GetTotalShareSize GetUserCC GetUserClass GetUserExtJSON GetUserHost GetUserHubURL GetUserIP
GetUsersCount IsRobotNickBad KickUser ParseCommand SQL ScriptCommand SendDataToAll SendDataToUser
SendPMToAll SendToActive SendToActiveClass SendToOpChat SendToPassive SendToPassiveClass SetConfig
SetMyINFO SetMyINFOFlag SetRegClass SetUserIP StopHub Topic UnsetMyINFOFlag UserRestrictions basedir
botname classmc config_name mc myid name name_and_version opchatname path pm usermc""".split()
A5_CONSTANTS = {
    "eBF_NICKIP": 0, "eBF_IP": 1, "eBF_NICK": 2, "eBF_RANGE": 3, "eBF_HOST1": 4, "eBF_HOST2": 5,
    "eBF_HOST3": 6, "eBF_SHARE": 7, "eBF_PREFIX": 8, "eBF_HOSTR1": 9, "eBOT_OK": 0,
    "eBOT_EXISTS": 1, "eBOT_WITHOUT_NICK": 2, "eBOT_BAD_CHARS": 3, "eBOT_RESERVED_NICK": 4,
    "eBOT_API_ERROR": 5, "eCR_DEFAULT": 0, "eCR_INVALID_USER": 1, "eCR_KICKED": 2,
    "eCR_FORCEMOVE": 3, "eCR_QUIT": 4, "eCR_HUB_LOAD": 5, "eCR_TIMEOUT": 6, "eCR_TO_ANYACTION": 7,
    "eCR_USERLIMIT": 8, "eCR_SHARE_LIMIT": 9, "eCR_TAG_NONE": 10, "eCR_TAG_INVALID": 11,
    "eCR_PASSWORD": 12, "eCR_LOGIN_ERR": 13, "eCR_SYNTAX": 14, "eCR_INVALID_KEY": 15,
    "eCR_RECONNECT": 16, "eCR_CLONE": 17, "eCR_SELF": 18, "eCR_BADNICK": 19, "eCR_NOREDIR": 20,
}
T = "A$B|C\nD é ü € Ж 😀 end"
T_CP1252 = b"A$B|C\nD \xe9 \xfc \x80 \x1a \x1a end"
TAG = "<++ V:0.868,M:A,H:1/0/0,S:3>"


@pytest.fixture
def runner(hub: Hub, tmp_path: Path) -> int:
    return install_runner(hub, tmp_path)


@pytest.fixture
def lab(hub: Hub) -> dict:
    """The A5 cast: alice and bob (class 0) besides the built-in master and the two bots."""
    users = {"master": hub.master(),
             "alice": hub.login("alice", share=1234567890, desc="lab desc",
                                email="lab@example.invalid"),
             "bob": hub.login("bob", share=9876543210)}
    for user in users.values():
        user.clear()
    return users


def test_A5_F14_public_names_constants_and_attributes(hub: Hub, runner: int) -> None:
    vh = globals_of(hub, runner).vh
    public = sorted(n for n in dir(vh) if not n.startswith("_") and n not in A5_CONSTANTS)
    assert public == sorted(A5_PUBLIC)
    assert {n: getattr(vh, n) for n in dir(vh) if n.startswith("e")} == A5_CONSTANTS
    for absent in ("SendToAll", "GetIPCity", "GetUsersList", "eCR_PLUGIN", "eIT_CHAT"):
        assert not hasattr(vh, absent)
    path = hub.plugin.scripts()[0][1]
    assert (vh.myid, vh.botname, vh.opchatname, vh.name, vh.path, vh.config_name, vh.basedir) == \
        (runner, "Verlihub", "OpChat", "runner", path, "config", str(hub.basedir))


def test_A5_queries(hub: Hub, runner: int, lab: dict) -> None:
    def query(vh):
        return {
            "nicks": set(vh.GetNickList()), "ops": set(vh.GetOpList()), "bots": vh.GetBotList(),
            "raw": (vh.GetRawNickList(), vh.GetRawOpList(), vh.GetRawBotList()),
            "alice": vh.GetMyINFO("alice"), "sec": vh.GetMyINFO("Verlihub"),
            "nobody": vh.GetMyINFO("nosuchuser"),
            "classes": [vh.GetUserClass(n)
                        for n in ("alice", "SimMaster", "Verlihub", "nosuchuser")],
            "ips": [vh.GetUserIP(n) for n in ("alice", "Verlihub", "nosuchuser")],
            "host": vh.GetUserHost("alice"),
            "cc": (vh.GetUserCC("alice"), vh.GetUserCC("Verlihub")),
            "url_json": (vh.GetUserHubURL("alice"), vh.GetUserExtJSON("alice")),
            "ip": (vh.GetIPCC("127.0.0.1"), vh.GetIPCN("127.0.0.1"), vh.GetIPASN("127.0.0.1")),
            "count": vh.GetUsersCount(), "share": vh.GetTotalShareSize(), "freq": vh.GetServFreq(),
            "config": [vh.GetConfig("config", "hub_name"), vh.GetConfig("config", "max_users"),
                       vh.GetConfig("config", "hub_topic"), vh.GetConfig("config", "hub_encoding"),
                       vh.GetConfig("config", "no_such_var"),
                       vh.GetConfig("config", "no_such_var", "dflt"),
                       vh.GetConfig("pi_python", "log_level")],
            "topic": vh.Topic(), "robots": [vh.IsRobotNickBad(n) for n in
                                            ("Verlihub", "newbot", "bad$bot", "")],
        }

    got = run(hub, runner, query)
    assert got == {
        "nicks": {"SimMaster", "Verlihub", "OpChat", "alice", "bob"},
        "ops": {"SimMaster", "Verlihub", "OpChat"}, "bots": ["Verlihub", "OpChat"],
        "raw": (None, None, None),
        "alice": ("alice", "lab desc", TAG, "100\x01", "lab@example.invalid", "1234567890"),
        "sec": ("Verlihub", "Hub security", "<Verlihub V:1.7.0.0,M:A,H:0/0/1,S:0>", "\x01", "",
                "0"),
        "nobody": None, "classes": [0, 10, 10, -2], "ips": ["127.0.0.1", "127.0.0.1", None],
        "host": None, "cc": ("L1", None), "url_json": (None, None),
        "ip": ("L1", "Local Network", "Local Network"),
        "count": 3, "share": "11111111100", "freq": 0,
        "config": ["LabHub", "6000", None, "CP1252", None, "dflt", None],
        "topic": None, "robots": [4, 0, 3, 2],
    }
    assert "PY: unpack: format strings don't match: 'D' vs. 's'" in stderr(hub)


def test_A5_F49_54_topic_is_set_and_broadcast_unescaped(hub: Hub, runner: int, lab: dict) -> None:
    assert run(hub, runner, lambda vh: vh.Topic("Lab topic $x|y")) == "Lab topic $x|y"
    assert lab["alice"].received == b"$HubName LabHub - Lab topic $x|y|"
    assert run(hub, runner, lambda vh: vh.Topic()) == "Lab topic $x|y"


def test_A5_F49_43_robots(hub: Hub, runner: int, lab: dict) -> None:
    add = run(hub, runner, lambda vh: [
        vh.AddRobot("LabBot", 0, "lab bot desc", "LAN(T1)", "bot@x", "12345"),
        vh.AddRobot("LabBot", 0, "lab bot desc", "LAN(T1)", "bot@x", "12345")])
    assert add == [True, False]
    assert lab["bob"].received == b"$MyINFO $ALL LabBot lab bot desc$ $LAN(T1)$bot@x$12345$|"
    assert run(hub, runner, lambda vh: vh.GetMyINFO("LabBot")) == \
        ("LabBot", "lab bot desc", "", "LAN(T1)", "bot@x", "12345")
    lab["bob"].clear()
    assert run(hub, runner, lambda vh: vh.AddRobot("Bot2", 3, "opbot", "", "", "0")) is True
    assert lab["bob"].received == b"$MyINFO $ALL Bot2 opbot$ $$$0$|$OpList Bot2$$|"
    assert "Bot2" in run(hub, runner, lambda vh: vh.GetOpList())
    lab["bob"].clear()
    assert run(hub, runner, lambda vh: (vh.DelRobot("Bot2"), vh.DelRobot("nosuchbot"))) == \
        (True, False)
    assert lab["bob"].received == b"$Quit Bot2|"
    assert hub.pyunload(str(runner)).startswith("Script #")
    assert "LabBot" in hub.call(hub.state.bot_list)  # F18: robots belong to the plugin, not the script


def test_A5_F49_57_58_encode_decode(hub: Hub, runner: int) -> None:
    got = run(hub, runner, lambda vh: [vh.Encode("a$b|c`d~e\x05&"), vh.Decode("a&#36;b&#124;c"),
                                       vh.Decode("x&#0;y"), vh.Decode("&#12x;"),
                                       vh.Decode("&#321;")])
    assert got == ["a&#36;b&#124;c&#96;d&#126;e&#5;&", "a$b|c", "x", "&#12x;", "A"]
    outcome = run(hub, runner, lambda vh: vh.Decode("&#233;"))
    assert outcome[:2] == ("err", "UnicodeDecodeError")
    assert run(hub, runner, lambda vh: vh.Encode(5)) == \
        ("err", "TypeError", "argument 1 must be str, not int")


def test_F44_argument_parsing(hub: Hub, runner: int, lab: dict) -> None:
    got = run(hub, runner, lambda vh: [
        _outcome(vh.GetUserClass), _outcome(vh.GetUserClass, "a", "b"),
        _outcome(vh.SetMyINFOFlag, "alice", 1.5), _outcome(vh.usermc, 5, "alice"),
        _outcome(vh.GetUserClass, None), _outcome(vh.usermc, "x", "alice", None),
        _outcome(vh.SendToActive, "x", None), _outcome(vh.SetMyINFOFlag, "alice", True),
        _outcome(vh.usermc, message="x", nick="alice"), _outcome(vh.GetNickList, 1, 2, 3) != [],
        _outcome(vh.UserRestrictions, "alice", nochat=None)])
    assert got == [
        ("TypeError", "Function requires at least 1 arguments, got 0"),
        ("TypeError", "Function takes at most 1 arguments, got 2"),
        ("TypeError", "Argument 1 must be int, not float"),
        ("TypeError", "Argument 0 must be str, not int"),
        None, True, True, True,
        ("TypeError", "usermc() takes no keyword arguments"), True,
        ("TypeError", "argument 'nochat' must be str, not None"),
    ]


def _outcome(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001  (any error is the outcome under test)
        return type(exc).__name__, str(exc)


def test_F46_A6_broken_functions_send_nothing(hub: Hub, runner: int, lab: dict) -> None:
    got = run(hub, runner, lambda vh: [vh.mc(T), vh.mc("mc-ascii"), vh.classmc(T, 0, 10),
                                       vh.ScriptCommand("labcmd", "labdata", "0"),
                                       vh.SQL("SELECT nick FROM reglist", 1), vh.name_and_version(),
                                       vh.StopHub(0), vh.GetGeoIP("127.0.0.1")])
    assert got == [False, False, False, None, None, None, False, None]
    assert all(u.received == b"" for u in lab.values())
    assert hub.running
    err = stderr(hub)
    for pair in ("'s' vs. 'ss'", "'sll' vs. 'slls'", "'sss' vs. 'ssl'", "'l' vs. 'll'"):
        assert f"PY: unpack: format strings don't match: {pair}" in err


def test_F49_40_A5_setconfig_returns_false_but_sets_and_fires_onsetconfig(hub: Hub, runner: int,
                                                                          tmp_path: Path) -> None:
    spy = load(hub, write_script(tmp_path, "spy.py", """
        SEEN = []
        def OnSetConfig(nick, conf, var, new, old, kind):
            SEEN.append((nick, conf, var, new, old, kind))
            return 1
    """))
    got = run(hub, runner, lambda vh: [vh.SetConfig("config", "hub_desc", "Lab description"),
                                       vh.GetConfig("config", "hub_desc"),
                                       vh.SetConfig("myscript", "token", "v"),
                                       vh.GetConfig("myscript", "token")])
    assert got == [False, "Lab description", False, "v"]
    assert ("Verlihub", "config", "hub_desc", "Lab description", "", 12) in \
        globals_of(hub, spy).SEEN


def test_A6_send_functions_exact_bytes(hub: Hub, runner: int, lab: dict) -> None:
    def case(job, expected: dict) -> None:
        for user in lab.values():
            user.clear()
        assert run(hub, runner, job) is True
        assert {name: lab[name].received for name in expected} == expected

    case(lambda vh: vh.usermc(T, "alice"), {"alice": b"<Verlihub> " + T_CP1252 + b"|", "bob": b""})
    case(lambda vh: vh.usermc("usermc-ascii", "alice", "CustomBot"),
         {"alice": b"<CustomBot> usermc-ascii|"})
    case(lambda vh: vh.pm(T, "alice"),
         {"alice": b"$To: alice From: Verlihub $<Verlihub> " + T_CP1252 + b"|"})
    case(lambda vh: vh.pm("pm-from-x-as-y", "alice", "FromX", "ShownY"),
         {"alice": b"$To: alice From: FromX $<ShownY> pm-from-x-as-y|"})
    case(lambda vh: vh.SendToOpChat(T),
         {"master": b"$To: SimMaster From: OpChat $<OpChat> " + T_CP1252 + b"|", "alice": b""})
    case(lambda vh: vh.SendDataToUser("<RawSender> raw-to-alice|$Fake cmd", "alice"),
         {"alice": b"<RawSender> raw-to-alice|$Fake cmd|"})
    case(lambda vh: vh.SendDataToAll("<RawAll> raw to all", 0, 10),
         {n: b"<RawAll> raw to all|" for n in ("alice", "bob", "master")})
    case(lambda vh: vh.SendPMToAll(T, "LabBot", 0, 10),
         {"bob": b"$To: bob From: LabBot $<LabBot> " + T_CP1252 + b"|"})
    assert run(hub, runner, lambda vh: (vh.usermc("x", "nosuchuser"), vh.pm("x", "nosuchuser"))) \
        == (False, False)


def test_F53_utf8_hub_encoding_is_not_converted(make_hub, tmp_path: Path) -> None:
    hub = make_hub(hub_encoding="UTF-8")
    runner = install_runner(hub, tmp_path)
    alice = hub.login("alice")
    alice.clear()
    assert run(hub, runner, lambda vh: vh.usermc("é € 😀", "alice")) is True
    assert alice.received == "<Verlihub> é € 😀|".encode()


def test_F54_nick_list_is_empty_when_one_nick_does_not_decode(make_hub, tmp_path: Path) -> None:
    utf8_hub = make_hub(hub_encoding="UTF-8")
    runner = install_runner(utf8_hub, tmp_path)
    utf8_hub.login("café", encoding="cp1252")
    assert run(utf8_hub, runner, lambda vh: vh.GetNickList()) == []
    cp_hub = make_hub()
    runner = install_runner(cp_hub, tmp_path / "cp")
    cp_hub.login("café", encoding="cp1252")
    assert run(cp_hub, runner, lambda vh: ("café" in vh.GetNickList(), vh.GetUserClass("café"))) \
        == (True, 0)


def test_A13_kickuser_with_three_args_crashes_the_hub(hub: Hub, runner: int, lab: dict) -> None:
    globals_of(hub, runner).JOBS.append(lambda vh: vh.KickUser("SimMaster", "bob",
                                                              "lab kick reason"))
    with pytest.raises(HubCrashed):
        hub.tick()
    hub.expected_violations = True
    [violation] = hub.plugin.violations
    assert violation.kind == CRASH and violation.fatal and violation.function == "vh.KickUser"
    assert "std::logic_error" in hub.crashed
    assert not lab["bob"].connected


def test_F49_35_kickuser_with_six_strings_kicks(hub: Hub, runner: int, lab: dict) -> None:
    assert run(hub, runner, lambda vh: vh.KickUser("SimMaster", "bob", "bye", "", "", "")) is True
    assert b"You are being kicked because: bye" in lab["bob"].received
    assert run(hub, runner, lambda vh: vh.KickUser("nosuchop", "bob", "x")) is False


@pytest.mark.parametrize("mode", ["single", "sub"])
def test_F3_could_not_determine_script_id_after_the_last_loaded_is_unloaded(
        hub: Hub, mode: str, runner: int, tmp_path: Path, lab: dict) -> None:
    last = load(hub, write_script(tmp_path, "last.py", "import vh\n"))
    hub.pyunload(str(last))
    got = run(hub, runner, lambda vh: [_outcome(vh.GetUserClass, "alice"),
                                       _outcome(vh.usermc, "x", "alice"),
                                       _outcome(vh.GetNickList) != [], _outcome(vh.Encode, "$")])
    if mode == "single":
        assert got == [("RuntimeError", "Could not determine script ID")] * 2 + [True, "&#36;"]
        load(hub, write_script(tmp_path, "again.py", "import vh\n"))
        assert run(hub, runner, lambda vh: vh.GetUserClass("alice")) == 0
    else:
        assert got == [0, True, True, "&#36;"]


def test_F8_F3_a_failed_load_keeps_its_id_resolvable(hub: Hub, mode: str, runner: int,
                                                     tmp_path: Path, lab: dict) -> None:
    failing = write_script(tmp_path, "failing.py", "import vh\nraise RuntimeError('no')\n")
    assert hub.pyload(failing).startswith("Script not found")
    assert run(hub, runner, lambda vh: vh.GetUserClass("alice")) == 0
    if mode == "single":
        assert run(hub, runner, lambda vh: __import__("sys").modules["vh"].myid) == runner + 1


def test_A12_vh_myid_is_the_last_loaded_script_in_single_mode(hub: Hub, mode: str, runner: int,
                                                               tmp_path: Path) -> None:
    other = load(hub, write_script(tmp_path, "other.py", "import vh\n"))
    myid = run(hub, runner, lambda vh: vh.myid)
    assert myid == (other if mode == "single" else runner)


def test_F58_vh_from_a_thread_raises_and_is_recorded(hub: Hub, runner: int) -> None:
    caught: list[BaseException] = []

    def job(vh):
        def worker():
            try:
                vh.GetUsersCount()
            except BaseException as exc:  # noqa: BLE001  (whatever the rule raises is checked below)
                caught.append(exc)
        thread = threading.Thread(target=worker, name="bridge-worker")
        thread.start()
        thread.join()
        return True

    assert run(hub, runner, job) is True
    hub.expected_violations = True
    [exc] = caught
    assert type(exc).__name__ == "VhThreadViolation" and isinstance(exc, RuntimeError)
    [violation] = hub.plugin.violations
    assert (violation.kind, violation.function, violation.thread, violation.fatal) == \
        (THREAD, "vh.GetUsersCount", "bridge-worker", False)
    assert "in worker" in violation.stack


def test_F58_even_pure_functions_are_guarded(hub: Hub, runner: int) -> None:
    vh = globals_of(hub, runner).vh
    with pytest.raises(RuntimeError):
        vh.Encode("$")
    hub.expected_violations = True
    assert [v.kind for v in hub.plugin.violations] == [THREAD]


def test_vh_on_the_hub_thread_outside_a_hook_is_recorded(hub: Hub, runner: int) -> None:
    vh = globals_of(hub, runner).vh
    assert hub.call(vh.GetUsersCount) == 1
    hub.expected_violations = True
    assert [(v.kind, v.fatal) for v in hub.plugin.violations] == [(OUTSIDE_HOOK, False)]


def test_F49_19_getuserhost_blocks_the_hub_thread_and_is_counted(hub: Hub, runner: int,
                                                                 lab: dict) -> None:
    hub.dns_delay = 0.01
    assert run(hub, runner, lambda vh: [vh.GetUserHost("alice"), vh.GetUserHost("alice"),
                                        vh.GetUserHost("Verlihub"),
                                        vh.GetUserHost("nosuchuser")]) == [None] * 4
    assert hub.plugin.vh_calls["GetUserHost"] == 4
    blocked = hub.plugin.blocking_stats()["GetUserHost"]
    assert blocked["count"] == 2 and blocked["median_us"] >= 10_000


def test_F49_19_getuserhost_with_dns_lookup_on_returns_the_host_resolved_at_connect(hub: Hub,
                                                                                    runner: int) -> None:
    """script_api GetUserHost: only with mUseDNS off (dns_lookup = 0) does it look up on the call;
    with dns_lookup = 1 each connection was resolved when it connected, and the call does not block."""
    hub.dns_delay = 0.01
    assert hub.call(hub.roster.set_config, "config", "dns_lookup", "1")
    hub.login("carol", ip="198.51.100.9", host="carol.example.net")
    hub.login("dave", ip="198.51.100.10")                  # nothing to resolve it to
    assert run(hub, runner, lambda vh: [vh.GetUserHost("carol"), vh.GetUserHost("dave"),
                                        vh.GetUserHost("Verlihub")]) == ["carol.example.net", None, None]
    assert "GetUserHost" not in hub.plugin.blocking_stats()
    assert hub.call(hub.roster.set_config, "config", "dns_lookup", "0")
    hub.login("erin", ip="198.51.100.11", host="erin.example.net")   # connected with dns_lookup off
    assert run(hub, runner, lambda vh: vh.GetUserHost("erin")) == "erin.example.net"  # looked up now
    assert hub.plugin.blocking_stats()["GetUserHost"]["count"] == 1


def test_F49_53_user_restrictions_takes_keywords(hub: Hub, runner: int, lab: dict) -> None:
    got = run(hub, runner, lambda vh: [vh.UserRestrictions("alice", nochat="1h"),
                                       vh.UserRestrictions("alice", nochat="bad"),
                                       vh.UserRestrictions("nosuchuser", "1")])
    assert got == [True, False, False]


def test_F49_59_call_dynamic_function_has_nothing_registered(hub: Hub, runner: int) -> None:
    assert run(hub, runner, lambda vh: _outcome(vh.CallDynamicFunction, "f", 1)) == \
        ("RuntimeError", f"No dynamic functions registered for script {runner}")
