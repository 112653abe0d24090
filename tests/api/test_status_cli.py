"""`vhctl status` asks the running API over HTTP, never calls a dead process running (A18: SIGTERM
calls no hook, so the status file stays), answers in JSON whatever happens with --json, and exits
0 / 1 / 2; `vhctl configure` changes settings all-or-nothing (real subprocesses)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import pytest
from testkit.api import ApiHub, wait_until
from vhctl_hub.status import read_status, status_path

from vhctl.sim.hub import Hub
from vhctl.sim.matterbridge import MatterbridgeStandIn


def _wait_for_port(api: ApiHub, port: int) -> None:
    wait_until(lambda: (read_status(api.state_dir, "api") or {}).get("port") == port, 15, api.hub)


def test_status_asks_the_running_api_and_never_shows_the_token(make_api_hub: Callable[..., ApiHub], vhctl,
                                                               keyring_dir: Path) -> None:
    api = make_api_hub("single")
    port = int(api.url().rsplit(":", 1)[1])
    token = vhctl(api.config, "token", "generate").stdout.strip()
    assert len(token) > 30
    _wait_for_port(api, port)
    as_json = vhctl(api.config, "status", "--json")
    human = vhctl(api.config, "status")
    report = as_json.json()
    api_report = report["components"]["api"]
    assert api_report["health"] == "ok" and api_report["process_alive"] is True, api_report
    assert (api_report["state"], api_report["port"], api_report["stale"]) == ("running", port, False)
    assert api_report["http"]["health"]["status"] == "healthy"
    assert api_report["http"]["stats"]["hub_name"] == "LabHub"
    assert report["token"] == {"stored": True, "problem": None}
    assert report["components"]["bridge"]["health"] == "not loaded"
    assert (as_json.returncode, human.returncode, report["exit_code"]) == (0, 0, 0), as_json.stderr
    assert f"api:     ok, running, port {port}, 1 user online" in human.stdout  # the operator
    assert human.stdout.rstrip().endswith("health:  ok")
    for output in (as_json.stdout, as_json.stderr, human.stdout, human.stderr):
        assert token not in output


def test_status_is_degraded_not_down_when_the_api_refuses_the_stored_token(
        make_api_hub: Callable[..., ApiHub], vhctl, keyring_dir: Path, tmp_path: Path) -> None:
    """vhctl run with another keyring than the hub's (another user, another HOME): the API still
    answers, so the hub is degraded, with a reason that says what to do, and the public stats."""
    api = make_api_hub("single")
    port = int(api.url().rsplit(":", 1)[1])
    hub_token = vhctl(api.config, "token", "generate").stdout.strip()
    _wait_for_port(api, port)
    elsewhere = {"XDG_DATA_HOME": str(tmp_path / "another-user")}
    other_token = vhctl(api.config, "token", "generate", env=elsewhere).stdout.strip()
    assert other_token and other_token != hub_token
    result = vhctl(api.config, "status", "--json", env=elsewhere)
    api_report = result.json()["components"]["api"]
    assert (result.returncode, api_report["health"]) == (1, "degraded"), api_report
    assert any("refuses the token in the keyring" in problem for problem in api_report["problems"])
    assert api_report["http"]["stats"]["hub_name"] == "LabHub"
    assert hub_token not in result.stdout + result.stderr and other_token not in result.stdout + result.stderr


def _hand_written_status(tmp_path: Path, **fields: object) -> Path:
    """A config whose state folder holds an api status file with ``fields`` (what a hub killed with
    SIGTERM leaves behind)."""
    state = tmp_path / "state"
    state.mkdir()
    config = tmp_path / "config.toml"
    config.write_text(f'[hub]\nstate_dir = "{state}"\n')
    now = time.time()
    status = {"component": "api", "state": "running", "running": True, "port": 18412, "pid": os.getpid(),
              "started_at": now - 5, "updated_at": now, "last_error": None, "counters": {}, **fields}
    status_path(state, "api").write_text(json.dumps(status))
    return config


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_A18_a_dead_hub_pid_is_down_not_running(vhctl, tmp_path: Path, keyring_dir: Path) -> None:
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    config = _hand_written_status(tmp_path, pid=ended.pid, port=_free_port())
    result = vhctl(config, "status", "--json")
    api = result.json()["components"]["api"]
    assert result.returncode == 2 and result.json()["health"] == "down"
    assert api["process_alive"] is False and api["running"] is False
    assert f"the hub process (pid {ended.pid}) is gone" in api["problems"][0]
    human = vhctl(config, "status")
    assert human.returncode == 2 and "api:     down, not running, port" in human.stdout
    assert "running, port" not in human.stdout.replace("not running, port", "")


def test_a_reused_pid_is_not_the_hub(vhctl, tmp_path: Path, keyring_dir: Path) -> None:
    """The PID is alive but that process started after the component did: another program now."""
    config = _hand_written_status(tmp_path, pid=os.getppid(), started_at=1_000.0)
    api = vhctl(config, "status", "--json").json()["components"]["api"]
    assert api["process_alive"] is False and api["health"] == "down"


def test_a_live_pid_whose_port_does_not_answer_is_down(vhctl, tmp_path: Path, keyring_dir: Path) -> None:
    port = _free_port()
    config = _hand_written_status(tmp_path, pid=os.getpid(), started_at=time.time(), port=port)
    result = vhctl(config, "status", "--json", "--timeout", "0.5")
    api = result.json()["components"]["api"]
    assert result.returncode == 2 and api["process_alive"] is True
    assert api["problems"] == [f"port {port} on 127.0.0.1 does not answer (Connection refused)"]
    assert result.seconds < 20


def test_status_on_a_fresh_config_says_how_to_start_and_exits_2(vhctl, tmp_path: Path, keyring_dir: Path) -> None:
    config = tmp_path / "config.toml"
    fresh = {"XDG_STATE_HOME": str(tmp_path / "state-home")}  # no hub has ever run for this user
    result = vhctl(config, "status", env=fresh)
    assert result.returncode == 2, result.stderr
    assert "not installed: run vhctl install" in result.stdout
    assert "not rendered: run vhctl render" in result.stdout
    assert "none: run vhctl token generate" in result.stdout
    assert "hint:    nothing is running: start the hub, then in hub chat as an admin: !pyload" in result.stdout
    assert "vhctl demo" in result.stdout
    assert not config.exists()
    as_json = vhctl(config, "status", "--json", env=fresh)
    assert as_json.returncode == 2 and as_json.json()["hint"].startswith("nothing is running")


def test_status_json_is_json_even_for_errors(vhctl, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[api\nport = 1\n")
    result = vhctl(config, "status", "--json")
    assert result.returncode == 2 and result.stderr == ""
    assert result.json()["health"] == "down" and "not valid TOML" in result.json()["error"]
    missing = vhctl(tmp_path / "nope" / "config.toml", "status", "--json")
    assert missing.returncode == 2 and "does not exist" in missing.json()["error"]
    plain = vhctl(config, "status")
    assert plain.returncode == 1 and plain.stderr.startswith("vhctl: error:")


def test_configure_sets_values_and_rejects_a_bad_one_untouched(vhctl, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("# mine\n[api]\nport = 8001\n")
    done = vhctl(config, "configure", "api.port=8002", 'api.cors_origins=["https://a.example"]', "--json")
    assert done.returncode == 0, done.stderr
    assert done.json()["settings"]["api"]["port"] == 8002
    assert "# mine" in config.read_text()
    before = config.read_text()
    bad = vhctl(config, "configure", "api.port=8003", "api.command_class=7")
    assert bad.returncode == 1
    assert bad.stderr.strip().count("\n") == 0 and "api.command_class = 7" in bad.stderr
    assert config.read_text() == before
    unknown = vhctl(config, "configure", "api.token=x")
    assert unknown.returncode == 1 and "expected KEY=VALUE" in unknown.stderr


def test_a_malformed_config_is_one_line_for_every_command(vhctl, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[api\nport = 1\n")
    for command in (("status",), ("render",), ("configure", "api.port=1"), ("install", "--python", "3.11")):
        result = vhctl(config, *command)
        assert result.returncode == 1, command
        assert result.stderr.startswith(f"vhctl: error: {config}: not valid TOML"), result.stderr
        assert "Traceback" not in result.stderr
    assert config.read_text() == "[api\nport = 1\n"


def test_A18_after_quit_status_says_the_hub_stopped_not_that_it_went_silent(
        make_api_hub: Callable[..., ApiHub], vhctl, keyring_dir: Path) -> None:
    """!quit runs OnUnLoad(0): the component records a clean stop, and status says so at once
    (not "no report for N s", which is what a hub that hangs looks like)."""
    api = make_api_hub("single")
    port = int(api.url().rsplit(":", 1)[1])
    _wait_for_port(api, port)
    api.hub.shutdown()
    result = vhctl(api.config, "status", "--json")
    human = vhctl(api.config, "status")
    report = result.json()["components"]["api"]
    assert (result.returncode, report["health"], report["state"]) == (2, "down", "stopped"), report
    assert report["problems"] == ["stopped: the hub is shutting down (OnUnLoad 0)"], report
    assert "api:     down, stopped, stopped: the hub is shutting down (OnUnLoad 0)" in human.stdout, human.stdout


_HUB_PROCESS = """
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from testkit.api import ApiHub, wait_until
from vhctl.sim.hub import Hub
hub = Hub(Path(sys.argv[2]) / "hub", mode="single", config={"hub_name": "LabHub"}, echo_stderr=False,
          timer_period=0.2).start()
api = ApiHub(hub, Path(sys.argv[2]) / "api", {})
api.load()
api.url(timeout=120)
print(api.config, flush=True)
while True:
    time.sleep(1)
"""


def test_A18_after_sigterm_status_says_the_hub_process_is_gone(vhctl, keyring_dir: Path, tmp_path: Path) -> None:
    """SIGTERM ends a hub without calling any hook: the status file still says running, with the
    PID of a process that no longer exists; status must say down at once, not "running"."""
    log = tmp_path / "hub.stderr"
    with log.open("w") as err:
        hub = subprocess.Popen([sys.executable, "-c", _HUB_PROCESS, str(Path(__file__).parents[1]), str(tmp_path)],
                               stdout=subprocess.PIPE, stderr=err, text=True)
    try:
        assert hub.stdout is not None
        printed = hub.stdout.readline().strip()
        assert printed and Path(printed).is_file(), log.read_text()
        config = Path(printed)
        deadline = time.monotonic() + 60
        while True:
            before = vhctl(config, "status", "--json")
            if before.returncode == 0 or time.monotonic() > deadline:
                break
        assert before.json()["components"]["api"]["health"] == "ok", before.stdout
    finally:
        hub.terminate()
        hub.wait(timeout=30)
    result = vhctl(config, "status", "--json")
    report = result.json()["components"]["api"]
    assert (result.returncode, report["health"], report["process_alive"]) == (2, "down", False), report
    assert report["problems"][0].startswith(f"the hub process (pid {hub.pid}) is gone"), report


# -- the bridge and Matterbridge's own health (M9, M11, M16) ----------------------------------------

MB_TOKEN = "status-test-matterbridge-token-0123456789abcdef"


@pytest.fixture
def bridge_hub(tmp_path: Path, keyring_dir: Path) -> Iterator[Callable[..., Any]]:
    """``bridge_hub(mb, token)`` -> a started simulated hub (single mode) with matterbridge.py
    loaded for the stand-in ``mb`` (the bridge tests' BridgeHub); a clean shutdown afterwards."""
    from testkit.bridge import BridgeHub

    made: list = []

    def make(mb: MatterbridgeStandIn, token: Optional[str]) -> Any:
        hub = Hub(tmp_path / f"hub{len(made)}", mode="single", config={"hub_name": "LabHub"},
                  echo_stderr=False, timer_period=0.05, chat_rules=False)
        hub.dns_delay = 0.0
        bridge = BridgeHub(hub.start(), tmp_path / f"bridge{len(made)}", mb, token, {})
        made.append(bridge)
        bridge.load()
        return bridge

    yield make
    for bridge in made:
        bridge.shutdown()


def _status_until(vhctl, config: Path, done: Callable[[dict], bool], timeout: float = 30.0) -> Any:
    """`vhctl status --json` again until ``done(report)`` (the status file is written about once a
    second, so a change shows up in the next few runs)."""
    deadline = time.monotonic() + timeout
    while True:
        result = vhctl(config, "status", "--json", "--timeout", "1")
        if done(result.json()) or time.monotonic() > deadline:
            return result


def test_M16_status_shows_the_bridge_link_and_matterbridge_health_without_the_token(
        bridge_hub: Callable[..., Any], vhctl) -> None:
    with MatterbridgeStandIn(token=MB_TOKEN, gateway="gateway1") as mb:
        bridge = bridge_hub(mb, MB_TOKEN)
        bridge.connected()
        result = _status_until(vhctl, bridge.config, lambda r: r["components"]["bridge"].get("link", {})
                               .get("connected") is True)
        report = result.json()
        link = report["components"]["bridge"]["link"]
        assert (result.returncode, report["health"], report["components"]["bridge"]["health"]) == (0, "ok", "ok"), \
            report["components"]["bridge"]
        assert (link["transport"], link["gateway"], link["receiving"]) == ("websocket", "gateway1", "connected")
        assert link["queue"] == {"waiting": 0, "dropped_full": 0, "waiting_in": 0} and link["next_retry_in_s"] is None
        assert link["counters"].get("in_connects", 0) >= 1
        assert report["matterbridge"]["ok"] is True and report["matterbridge"]["token_sent"] is True
        assert report["matterbridge"]["http_status"] == 200
        human = vhctl(bridge.config, "status", "--timeout", "1")
        assert "bridge:  ok, running, connected (websocket), gateway gateway1, 0 waiting" in human.stdout, human.stdout
        assert f"mb:      ok: {mb.url} answers and accepts our token" in human.stdout
        for output in (result.stdout, result.stderr, human.stdout, human.stderr):
            assert MB_TOKEN not in output

        mb.stop()  # Matterbridge gone while the bridge is loaded: degraded, with the retry
        down = _status_until(vhctl, bridge.config, lambda r: r["components"]["bridge"].get("link", {})
                             .get("receiving") == "retrying")
    report = down.json()
    bridge_report = report["components"]["bridge"]
    assert (down.returncode, report["health"], bridge_report["health"]) == (1, "degraded", "degraded"), bridge_report
    assert report["matterbridge"]["ok"] is False and "does not answer" in report["matterbridge"]["message"]
    assert any(problem.startswith("Matterbridge: ") for problem in bridge_report["problems"])
    assert any(problem.startswith("receiving retrying: ") for problem in bridge_report["problems"])
    assert bridge_report["link"]["connected"] is False and bridge_report["link"]["last_error"]
    human = vhctl(bridge.config, "status", "--timeout", "1")
    assert human.returncode == 1 and "mb:      problem: " in human.stdout and MB_TOKEN not in human.stdout


def test_M11_status_says_when_matterbridge_refuses_our_token(bridge_hub: Callable[..., Any], vhctl) -> None:
    with MatterbridgeStandIn(token=MB_TOKEN, gateway="gateway1") as mb:
        bridge = bridge_hub(mb, "not-the-token-matterbridge-has-0123456789")
        result = _status_until(vhctl, bridge.config, lambda r: r.get("matterbridge") is not None and
                               r["components"]["bridge"]["health"] != "down")
        report = result.json()
        assert result.returncode == 1, report["components"]["bridge"]
        assert report["matterbridge"]["http_status"] == 401
        assert "refuses our Matterbridge token" in report["matterbridge"]["message"]
        assert report["components"]["bridge"]["health"] == "degraded"
        assert MB_TOKEN not in result.stdout and "not-the-token" not in result.stdout


def test_M22_status_is_degraded_when_messages_come_from_another_gateway(bridge_hub: Callable[..., Any], vhctl) -> None:
    """The bridge sends to gateway1 but Matterbridge routes in realgw: Matterbridge accepts and drops
    our lines, and only the gateway names on what arrives tell; status says so."""
    with MatterbridgeStandIn(token=MB_TOKEN, gateway="realgw") as mb:
        bridge = bridge_hub(mb, MB_TOKEN)
        bridge.connected()
        mb.inject("hello from irc", "ircuser")
        result = _status_until(vhctl, bridge.config, lambda r: r["components"]["bridge"]["health"] == "degraded")
    bridge_report = result.json()["components"]["bridge"]
    assert result.returncode == 1, bridge_report
    assert any("messages arrive from gateway realgw" in problem for problem in bridge_report["problems"]), bridge_report
    assert result.json()["matterbridge"]["ok"] is True
