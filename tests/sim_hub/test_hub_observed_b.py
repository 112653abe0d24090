"""The second real-hub run (A15-A19): login order, texts, flood protection, the two ways of
stopping, and the system site folder, byte for byte where the observation gives bytes."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any, Callable

from vhctl.demo import port_open
from vhctl.sim.hub import Hub

MASTER_MYINFO = "$MyINFO $ALL Master $ $\x01$$0$"
HS_MYINFO = "$MyINFO $ALL Verlihub Hub security<Verlihub V:1.7.0.0,M:A,H:0/0/1,S:0>$ $\x01$$0$"
OC_MYINFO = "$MyINFO $ALL OpChat Operator chat<Verlihub V:1.7.0.0,M:A,H:0/0/1,S:0>$ $\x01$$0$"


def test_A15_registered_operator_login_order_over_a_socket(master_asked_for_password) -> None:
    _, client, asked = master_asked_for_password
    assert asked.endswith(b"$HubName LabHub|$GetPass|")
    client.send("$MyPass secret|")
    assert client.read_until(b"$LogedIn Master|") == b"$Hello Master|$LogedIn Master|"
    client.send(f"$Version 1,0091|$GetNickList|{MASTER_MYINFO}|")
    got = client.read_login().decode("latin-1").split("|")[:-1]
    assert got[:2] == [MASTER_MYINFO, "$OpList Master$$"]
    assert got[2] == "<Verlihub> Software: Verlihub 1.7.0.0"
    assert re.fullmatch(r"<Verlihub> Uptime: \d+ (msecs|secs \d+ msecs)", got[3])
    assert got[4:7] == ["<Verlihub> Users: 1", "<Verlihub> Share: 0.00 B", "<Verlihub> Status: Normal"]
    assert got[7].startswith("<Verlihub> MOTD:\r\n\r\n Welcome to Verlihub\r\n\r\n\t+help\t\t- Available commands")
    info = got[8]
    assert info.startswith("<Verlihub> Your information:\r\n\r\n [*] Nick: Master\r\n [*] IP: 127.0.0.1\r\n")
    labels = re.findall(r" \[\*\] ([^:]+):", info)
    assert labels[:9] == ["Nick", "IP", "Country", "City", "Hub TLS", "Client TLS", "Client NAT",
                          "Class", "Registered on"]
    # the nick list only now: every MyINFO, the user's own again, then the op list naming the user
    assert sorted(got[9:12]) == sorted([HS_MYINFO, OC_MYINFO, MASTER_MYINFO])
    assert len(got) == 13 and got[12].startswith("$OpList ")
    assert sorted(got[12][len("$OpList "):].split("$$")) == ["", "Master", "OpChat", "Verlihub"]


def test_A16_motd_at_every_login_and_py_rights_below_plugin_mod_class(
        hub_factory: Callable[..., Hub]) -> None:
    hub = hub_factory()
    (hub.basedir / "motd").write_bytes(b"Lab rules\nbe nice\n")
    for _ in range(2):
        alice = hub.login("alice")
        assert "<Verlihub> MOTD:\r\n\r\nLab rules\r\nbe nice\r\n" in alice.messages()
        alice.logout()
    op = hub.login("op3", user_class=3)
    op.clear()
    op.say("!pylist")
    assert op.received == b"<Verlihub> You have no rights to do this.|"


def test_A18_quit_runs_the_clean_stop_sequence(make_hub: Callable[..., Hub]) -> None:
    hub = make_hub(listen_port=0, timer_period=3600.0)
    port = hub.port
    alice, bob = hub.login("alice"), hub.login("bob")
    master = hub.login("Master", user_class=10)
    hub.call(hub.plugin.calls.clear)
    master.say("!quit")
    notice = b"<Verlihub> Please note, hub will be stopped now.|"
    assert notice in alice.received and notice in bob.received and notice in master.received
    assert not (alice.connected or bob.connected or master.connected)
    hub.stop()
    calls = [c for c in hub.plugin.calls if c[0] != "OnParsedMsgAny"]
    closes = [c for nick in ("Master", "bob", "alice")
              for c in (("OnCloseConn", ("127.0.0.1",)), ("OnCloseConnEx", ("127.0.0.1", 0, nick)),
                        ("OnUserLogout", (nick,)))]
    assert hub.plugin.calls[0] == ("OnParsedMsgAny", ("Master", "<Master> !quit"))
    assert calls == [("OnHubCommand", ("Master", "quit", 10, 0, "!")),
                     ("OnOperatorCommand", ("Master", "!quit")),
                     ("OnPublicBotMessage", ("Verlihub", "Please note, hub will be stopped now.",
                                             0, 10)),
                     *closes, ("OnUnLoad", (0,))]
    assert not hub.running and not port_open(port)


def test_A18_sigterm_stop_calls_no_hook(make_hub: Callable[..., Hub]) -> None:
    hub = make_hub(listen_port=0, timer_period=3600.0)
    port = hub.port
    alice = hub.login("alice")
    count = hub.call(lambda: len(hub.plugin.calls))
    hub.stop()
    assert len(hub.plugin.calls) == count and not alice.connected
    assert not hub.running and not port_open(port)


STATUS_SCRIPT = '''
import pathlib, threading
STATUS = pathlib.Path(__file__).with_name("status.txt")
STOP, STARTED = threading.Event(), threading.Event()
def _worker():
    STATUS.write_text("running")
    STARTED.set()
    STOP.wait()
    STATUS.write_text("stopped")
WORKER = threading.Thread(target=_worker, daemon=True)
WORKER.start()
def OnUnLoad(code):
    STOP.set()
    WORKER.join(5)
    return 1
'''


def _status_hub(hub_factory: Callable[..., Hub], mode: str, tmp_path: Path) -> tuple[Hub, Any]:
    script = tmp_path / f"status_{mode}.py"
    script.write_text(STATUS_SCRIPT)
    hub = hub_factory(mode=mode, listen_port=0, timer_period=3600.0)
    assert "is now loaded" in hub.pyload(script)
    module = hub.call(hub.plugin.script_module, hub.call(hub.plugin.scripts)[0][0])
    assert module.STARTED.wait(10)
    return hub, module


def test_A18_what_each_stop_leaves_behind(hub_factory: Callable[..., Hub], mode: str,
                                          tmp_path: Path) -> None:
    hub, module = _status_hub(hub_factory, mode, tmp_path)
    port = hub.port
    hub.stop()                       # SIGTERM: the script never learns
    assert not port_open(port)
    assert module.WORKER.is_alive() and module.STATUS.read_text() == "running"
    module.STOP.set()                # end the orphan by hand
    module.WORKER.join(5)

    hub, module = _status_hub(hub_factory, mode, tmp_path)
    port = hub.port
    hub.shutdown(0)                  # !quit: OnUnLoad lets it finish
    assert not port_open(port)
    assert not module.WORKER.is_alive() and module.STATUS.read_text() == "stopped"


def test_A17_protocol_flood_bans_the_ip_and_redirects_to_loopback_only(
        make_hub: Callable[..., Hub]) -> None:
    hub = make_hub(config={"redir_host0": "127.0.0.1:7777"})
    master = hub.login("Master", user_class=10)
    vip = hub.login("rttsend", user_class=2)
    op = hub.login("op3", user_class=3)
    master.clear()
    for n in range(10):
        op.say(f"op line {n}")          # class 3: exempt
    for n in range(5):
        vip.say(f"line {n}")
    assert vip.connected and b"Protocol flood" not in master.received
    vip.say("line 5")
    assert not vip.connected
    assert (b"$To: Master From: OpChat $<OpChat> Protocol flood detected: Chat [6:0:10] ][ "
            b"Nick: rttsend ][ IP: 127.0.0.1.L1|") in master.received
    assert b"<rttsend> line 5|" not in master.received
    for nick in ("rttsend", "other"):  # the IP is banned, not the nick
        again = hub.login(nick, check=False)
        assert not again.connected
        got = again.received.decode("latin-1")
        assert re.search(r"<Verlihub> You're still temporarily prohibited from entering the hub for "
                         r"29 mins 5\d secs because: Protocol flood detected: Chat\|"
                         r"\$ForceMove 127\.0\.0\.1:7777\|$", got), got
    for n in range(20):                 # what scripts send is not chat and not limited
        assert hub.call(hub.sender.send_to_all, f"<Bridge> post {n}", 0, 10)
    assert op.connected and b"<Bridge> post 19|" in op.received


def test_A17_no_redirect_unless_loopback(make_hub: Callable[..., Hub]) -> None:
    for redirect in ("", "hub.verlihub.net:7777"):
        hub = make_hub(config={"redir_host0": redirect})
        flooder = hub.login("flooder", user_class=1)
        for n in range(6):
            flooder.say(f"x{n}")
        again = hub.login("again", check=False)
        assert b"because: Protocol flood detected: Chat|" in again.received
        assert b"$ForceMove" not in again.received


SITE_SCRIPT = '''
import sys
sys.path.insert(0, "/nonexistent/script-venv")
import lab_system_pkg
FOUND = lab_system_pkg.__file__
PATH = list(sys.path)
'''


def test_A19_scripts_import_from_the_system_site_folders(hub_factory: Callable[..., Hub], mode: str,
                                                         tmp_path: Path) -> None:
    hub = hub_factory(mode=mode, timer_period=3600.0)
    site = hub.system_site
    (site.dist / "lab_system_pkg.py").write_text("VALUE = 1\n")
    script = tmp_path / f"site_{mode}.py"
    script.write_text(SITE_SCRIPT)
    assert "is now loaded" in hub.pyload(script)
    module = hub.call(hub.plugin.script_module, hub.call(hub.plugin.scripts)[0][0])
    assert module.FOUND == str(site.dist / "lab_system_pkg.py")
    path = module.PATH
    assert path.index("/nonexistent/script-venv") < path.index(str(site.local)) \
        < path.index(str(site.dist))
    hub.shutdown(0)
    assert str(site.dist) not in sys.path
