"""hub_api.py in the simulated hub: rendered, `!pyload`ed by an operator, serving real HTTP on
127.0.0.1 from the hub's cache, in both plugin modes. Every test ends with a clean hub shutdown and
no thread-rule violation (the fixture checks)."""

from __future__ import annotations

import gc
import json
import socket
import threading
from urllib.parse import quote

import pytest
import requests
from testkit.api import api_threads, get, listening_ports, wait_until

from vhctl.demo import port_open
from vhctl_hub.runtime import describe_start_error
from vhctl_hub import secrets as vault
from vhctl_hub.status import read_status


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


@pytest.fixture
def lab(make_api_hub, mode):
    """The A10 lab: alice and bob with their shares, loaded script, API serving on a free port."""
    api = make_api_hub(mode, load=False)
    api.alice = api.hub.login("alice", share=1234567890, email="alice@lab.invalid", ip="10.0.0.7", cc="DE")
    api.bob = api.hub.login("bob", share=9876543210)
    api.load()
    api.base = api.url()
    wait_until(lambda: get(api.base + "/api/stats").json()["complete"], hub=api.hub)
    return api


def test_A10_F67_F68_stats_and_users_come_from_the_hubs_counters_and_myinfo(lab):
    hub = lab.hub
    stats = get(lab.base + "/api/stats").json()
    assert stats["users_online"] == hub.users_count == 3          # GetUsersCount: no bots (A5)
    assert stats["total_share_bytes"] == hub.total_share == 11111111100
    assert stats["total_share"] == "10.35 GB" and stats["hub_name"] == "LabHub"
    users = get(lab.base + "/api/users").json()
    assert sorted(u["nick"] for u in users["users"]) == ["Admin", "alice", "bob"]
    alice = get(lab.base + "/api/user/alice").json()
    assert alice["share"] == 1234567890 and alice["country_code"] == "DE" and alice["ip"] is None
    bots = get(lab.base + "/api/bots").json()
    assert {b["nick"] for b in bots["bots"]} == {"Verlihub", "OpChat"}
    assert get(lab.base + "/api/geo").json()["total_countries"] == 2
    assert get(lab.base + "/api/user/Verlihub").status_code == 404


def test_F28_myinfo_login_and_logout_reach_the_api(lab):
    lab.alice.myinfo(share=5)
    wait_until(lambda: get(lab.base + "/api/user/alice").json()["share"] == 5, hub=lab.hub)
    assert get(lab.base + "/api/stats").json()["total_share_bytes"] == lab.hub.total_share == 9876543215
    lab.hub.login("carol", share=42)   # the API sees it from the next OnTimer (one snapshot per tick)
    wait_until(lambda: get(lab.base + "/api/user/carol").status_code == 200, hub=lab.hub)
    assert get(lab.base + "/api/user/carol").json()["share"] == 42
    lab.bob.logout()
    wait_until(lambda: get(lab.base + "/api/user/bob").status_code == 404, hub=lab.hub)
    assert get(lab.base + "/api/user/bob").json() == {"detail": "User 'bob' not found"}


@pytest.mark.parametrize("hub_encoding, nicks", [
    ("CP1252", ("Jürgen", "€uro", "[ISP]x", "a&b", "100%", "a/b", "x?y#z")),
    ("UTF-8", ("名前", "emoji😀", "Jürgen", "a&b")),
])
def test_F23_F53_non_ascii_and_special_nicks_end_to_end(make_api_hub, mode, hub_encoding, nicks):
    """UTF-8 clients' nicks, found with a percent-encoded path (in a CP1252 hub, as far as CP1252 can
    represent them: vh addresses users in the hub encoding, F53)."""
    api = make_api_hub(mode, hub_encoding=hub_encoding)
    url = api.url()
    for nick in nicks:
        api.hub.login(nick, share=1, encoding="utf-8")
    api.hub.tick()   # the API sees logins from the next OnTimer on
    for nick in nicks:
        answer = get(url + "/api/user/" + quote(nick, safe=""))
        assert answer.status_code == 200 and answer.json()["nick"] == nick, (nick, answer.text)


def test_F65_commands_need_the_command_class(lab):
    guest = lab.hub.login("guest", user_class=0)
    reply = lab.command("!api status", by=guest)
    assert "only class 3 (operator) or higher may use this; you are class 0 (guest)" in reply
    help_text = lab.command("!api help")
    for line in ("!api start [port]", "!api stop", "!api status", "!api help"):
        assert line in help_text


def test_A10_api_stop_really_frees_the_port_and_start_serves_again(lab):
    port = _port(lab.base)
    assert port in listening_ports()
    reply = lab.command("!api stop", wait_for="API ")
    assert reply.endswith(f"API stopped; port {port} is free again")
    assert not port_open(port) and port not in listening_ports()
    assert "vhctl-api-http" not in api_threads()
    assert "API stopped" in lab.command("!api status")
    assert "API is not running" in lab.command("!api stop", wait_for="API ")
    reply = lab.command(f"!api start {port}", wait_for="API ")
    assert f"API running on http://127.0.0.1:{port} (documentation: http://127.0.0.1:{port}/docs)" in reply
    assert get(lab.base + "/health").json()["status"] == "healthy"
    assert "already running" in lab.command("!api start", wait_for="API ")


def test_port_in_use_is_a_clear_reply(lab):
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        busy = other.getsockname()[1]
        lab.command("!api stop", wait_for="API stopped")
        reply = lab.command(f"!api start {busy}", wait_for="API ")
    assert f"API not started: port {busy} on 127.0.0.1 is already in use by another program" in reply
    assert f"last error: api cannot start: port {busy}" in lab.command("!api status")
    assert "API running on" in lab.command("!api start 0", wait_for="API ")
    status = lab.command("!api status")  # this start's figures only: no old error, its own requests
    assert "last error" not in status and ", 0 requests served;" in status
    get(lab.url() + "/health")  # counted once its response is out: the client may read it first
    wait_until(lambda: ", 1 request served;" in lab.command("!api status"), hub=lab.hub)


@pytest.mark.parametrize("argument, expected", [
    ("abc", "!api start: 'abc' is not a port number"), ("70000", "'70000' is not a port number"),
    ("-1", "'-1' is not a port number"), ("8000 9000", "usage: !api start [port]"),
    ("80", "'80' is not a port number; give 0 (any free port) or a port from 1024 to 65535"),
    ("99999999999999999999", "is not a port number")])
def test_bad_port_argument_is_a_clear_reply(make_api_hub, argument, expected):
    api = make_api_hub("single")
    assert expected in api.command(f"!api start {argument}")


def test_port_in_use_at_load_is_reported_and_the_commands_keep_working(make_api_hub, mode):
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        busy = other.getsockname()[1]
        api = make_api_hub(mode, load=False, port=busy)
        api.load()
        line = f"api cannot start: port {busy} on 127.0.0.1 is already in use by another program"
        wait_until(lambda: any(line in m for m in api.op.messages()), hub=api.hub)   # OpChat notice
        assert line in api.command("!api status")
    assert "API running on" in api.command("!api start 0", wait_for="API ")


def test_pyunload_stops_the_api_and_frees_the_port(make_api_hub, mode):
    api = make_api_hub(mode)
    port = _port(api.url())
    assert "stopped" in api.command(f"!pyunload {api.sid}")
    wait_until(lambda: not port_open(port), hub=api.hub)
    # the server's threads end; the runtime's supervisor may wait a while for the hub's ticks
    wait_until(lambda: not [t for t in api_threads() if not t.endswith("-supervisor")], hub=api.hub)


def test_A10_reload_in_sub_mode_loads_and_explains_in_one_line(make_api_hub):
    api = make_api_hub("sub")
    port = _port(api.url())
    assert "is now loaded" in api.reload()
    line = describe_start_error("api", ImportError("PyO3 modules do not yet support subinterpreters"))
    wait_until(lambda: any(line in m for m in api.op.messages()), hub=api.hub)    # OpChat notice
    assert api.command("!api start") == line
    assert api.command("!api status") == line
    wait_until(lambda: not port_open(port), hub=api.hub)                               # the old one let go


def _apps() -> int:
    """FastAPI apps the garbage collector still holds (frozen ones, bundle/heap.py, are not counted)."""
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o).__name__ == "FastAPI")


def test_A10_fifty_reloads_in_single_mode_leave_no_thread_or_socket_or_app_behind(make_api_hub):
    older = set(threading.enumerate())  # earlier tests' hubs may still have paused supervisors
    api = make_api_hub("single")
    apps = _apps()
    before = listening_ports()
    ports = {_port(api.url())}
    for _ in range(50):
        api.reload()
        ports.add(_port(api.url()))
    final = _port(api.url())

    def ours() -> list:
        return sorted(t.name for t in set(threading.enumerate()) - older if t.name.startswith("vhctl-api"))

    wait_until(lambda: listening_ports() - before <= {final} and
               ours() == ["vhctl-api-http", "vhctl-api-supervisor", "vhctl-api-token"], hub=api.hub)
    assert not any(port_open(p) for p in ports - {final})
    assert get(f"http://127.0.0.1:{final}/health").status_code == 200
    # FastAPI's memo of endpoint callables kept every stopped app alive (~0.3 MB per reload)
    wait_until(lambda: _apps() <= apps + 1, hub=api.hub)  # + the live one, if the first was frozen


def test_token_from_vhctl_token_gives_private_fields_and_never_leaks(lab, capfd, tmp_path):
    import subprocess
    import sys

    created = subprocess.run([sys.executable, "-m", "vhctl", "token", "generate"], capture_output=True,
                             text=True, check=True)
    token = created.stdout.strip()
    assert len(token) >= 40 and vault.read_token() == token
    private = wait_until(
        lambda: (r := get(lab.base + "/api/user/alice", token)).status_code == 200 and r.json(), hub=lab.hub)
    assert private["ip"] == "10.0.0.7" and private["email"] == "alice@lab.invalid"
    assert get(lab.base + "/api/user/alice").json()["email"] is None
    rotated = subprocess.run([sys.executable, "-m", "vhctl", "token", "rotate"],
                             capture_output=True, text=True, check=True).stdout.strip()
    wait_until(lambda: get(lab.base + "/api/auth", token).status_code == 401, timeout=15, hub=lab.hub)
    assert get(lab.base + "/api/auth", rotated).status_code == 200
    lab.command("!api status")
    wait_until(lambda: (read_status(lab.state_dir, "api") or {}).get("extra", {}).get("auth") == "set",
               hub=lab.hub)
    seen = [capfd.readouterr().err, "\n".join(lab.hub.stderr_lines), lab.op.received.decode("latin-1"),
            lab.script.read_text(), lab.config.read_text(), (lab.state_dir / "api.json").read_text()]
    for text in seen:
        assert token not in text and rotated not in text


def test_a_rotated_token_is_taken_up_after_api_stop_and_start_too(lab):
    """The thread that re-reads the keyring is started afresh by each `!api start`."""
    import subprocess
    import sys

    port = _port(lab.base)
    lab.command("!api stop", wait_for="API ")
    assert "API running on" in lab.command(f"!api start {port}", wait_for="API ")
    token = subprocess.run([sys.executable, "-m", "vhctl", "token", "generate"], capture_output=True,
                           text=True, check=True).stdout.strip()
    wait_until(lambda: get(lab.base + "/api/auth", token).status_code == 200, timeout=15, hub=lab.hub)
    rotated = subprocess.run([sys.executable, "-m", "vhctl", "token", "rotate"], capture_output=True,
                             text=True, check=True).stdout.strip()
    wait_until(lambda: get(lab.base + "/api/auth", rotated).status_code == 200, timeout=15, hub=lab.hub)
    assert get(lab.base + "/api/auth", token).status_code == 401


def test_keyring_unavailable_serves_public_data_and_says_so_once(make_api_hub, monkeypatch, capfd):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    api = make_api_hub("single")
    url = api.url()
    assert get(url + "/api/users").status_code == 200
    assert "keyring unavailable" in get(url + "/api/auth", "x").json()["detail"]
    assert "token: keyring unavailable: no keyring backend" in api.command("!api status")
    err = [""]

    def said() -> bool:
        err[0] += capfd.readouterr().err
        return "API token: keyring unavailable" in err[0]
    wait_until(said, hub=api.hub)
    # everything that asks the keyring again, each finished before we look: still said only once
    assert "keyring unavailable" in get(url + "/api/auth", "x").json()["detail"]
    assert "token: keyring unavailable" in api.command("!api status")
    api.hub.tick()
    said()
    assert err[0].count("API token: keyring unavailable") == 1


def test_status_file_shows_the_api_without_secrets(lab):
    status = wait_until(
        lambda: (s := read_status(lab.state_dir, "api")) and s.get("extra", {}).get("url") and s, hub=lab.hub)
    assert status["extra"]["url"] == lab.base and status["extra"]["serving"] is True
    assert status["extra"]["web_stack"] == "loaded"


def test_metrics_show_hub_counters_and_hub_thread_time_per_tick(lab):
    for _ in range(3):
        lab.hub.tick()
    text = get(lab.base + "/metrics").text
    assert f"vhctl_hub_users_online {lab.hub.users_count}" in text
    assert 'vhctl_hub_hook_calls_total{hook="OnTimer"}' in text
    assert 'vhctl_api_requests_total{endpoint="/api/stats",status="200"}' in text


def test_events_stream_logins_and_logouts_from_the_hub(lab):
    _a_login_reaches_the_stream(lab.base, lab.hub)


def test_events_stream_in_an_api_started_after_another_stopped_in_this_process(make_api_hub):
    """Single mode shares every module of the process: an API that stopped earlier (a !pyunload,
    an earlier hub in this process) must not end the streams of the next one (sse-starlette did)."""
    first = make_api_hub("single")
    first.url()
    first.command("!api stop", wait_for="API ")
    first.shutdown()  # one single-mode hub at a time: they would share the process's vh module
    second = make_api_hub("single")
    _a_login_reaches_the_stream(second.url(), second.hub)


def _a_login_reaches_the_stream(base: str, hub) -> None:
    with requests.get(base + "/api/events", stream=True, timeout=10) as answer:
        hub.login("carol", share=77, email="c@x")
        hub.call(lambda: None)
        events = []
        buffer = ""
        for chunk in answer.iter_content(chunk_size=None, decode_unicode=True):
            buffer += chunk
            events += [json.loads(line[6:]) for line in chunk.splitlines() if line.startswith("data: ")]
            if any(e["kind"] == "login" for e in events):
                break
    login = next(e for e in events if e["kind"] == "login")
    assert login["nick"] == "carol" and login["user"]["share"] == 77 and login["user"]["email"] is None


MISSING_FASTAPI = r'''
import importlib.abc, json, sys, tempfile
from pathlib import Path


class NoFastAPI(importlib.abc.MetaPathFinder):
    """A hub venv without FastAPI."""
    def find_spec(self, name, path=None, target=None):
        if name == "fastapi" or name.startswith("fastapi."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


sys.meta_path.insert(0, NoFastAPI())
sys.path.insert(0, sys.argv[1])
from testkit.api import ApiHub, wait_until  # noqa: E402
from vhctl.sim.hub import Hub  # noqa: E402

with tempfile.TemporaryDirectory() as tmp:
    hub = Hub(Path(tmp) / "hub", echo_stderr=False).start()
    api = ApiHub(hub, Path(tmp) / "api", {})
    api.load()
    replies = [api.command("!api start"), api.command("!api status")]
    opchat = wait_until(lambda: [m for m in api.op.messages() if "From: OpChat" in m], hub=hub)
    api.shutdown()
print(json.dumps({"replies": replies, "opchat": opchat}))
'''


def test_missing_fastapi_is_a_clear_reply_not_a_dead_thread(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    done = subprocess.run([sys.executable, "-c", MISSING_FASTAPI, str(Path(__file__).parents[1])],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    line = "api cannot start: the hub's venv lacks the Python package 'fastapi' (run: vhctl install)"
    assert result["replies"] == [line, line]
    assert any(line in m for m in result["opchat"])


def test_chat_events_only_with_the_setting_and_the_token(make_api_hub):
    api = make_api_hub("single", chat_events=True)
    url = api.url()
    token = vault.new_token()
    vault.store_token(token)
    wait_until(lambda: get(url + "/api/auth", token).status_code == 200, hub=api.hub)
    alice = api.hub.login("alice", user_class=3)   # operators skip the chat delay rules (A1)
    seen = {}
    for name, headers in (("anonymous", {}), ("token", {"Authorization": f"Bearer {token}"})):
        with requests.get(url + "/api/events", stream=True, timeout=10, headers=headers) as answer:
            alice.say(f"hello &#36;1 from {name}")      # clients escape $ themselves (A1, F64)
            api.hub.login(f"after-{name}")          # a login event marks the end of what we wait for
            kinds, buffer = [], ""
            for chunk in answer.iter_content(chunk_size=None, decode_unicode=True):
                buffer += chunk
                kinds = [json.loads(line[6:]) for line in buffer.splitlines() if line.startswith("data: ")]
                if any(e["kind"] == "login" for e in kinds):
                    break
        seen[name] = [e.get("text") for e in kinds if e["kind"] == "chat"]
    assert seen == {"anonymous": [], "token": ["hello $1 from token"]}
