"""Chaos switches, the standalone process and the demo's remote users."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from testkit.mbsim import AUTH, RawHttp, RawWs, body, status, wait_eof

from vhctl.sim.matterbridge import MatterbridgeStandIn
from vhctl.sim.matterbridge.chatter import USERS

JSON_AUTH = {**AUTH, "Content-Type": "application/json"}
HELLO = b'{"text":"hi","gateway":"dchub"}'


def test_slow_answers_wait_the_delay(mb: MatterbridgeStandIn) -> None:
    mb.set_delay(0.3)
    started = time.monotonic()
    assert status(RawHttp(mb.port).request("GET", "/api/health", AUTH)) == 200
    assert time.monotonic() - started >= 0.3
    mb.set_delay(0)


def test_the_next_n_posts_get_500_and_are_not_routed(mb: MatterbridgeStandIn) -> None:
    mb.fail_posts(2)
    conn = RawHttp(mb.port)
    for _ in range(2):
        raw = conn.request("POST", "/api/message", JSON_AUTH, HELLO)
        assert status(raw) == 500 and body(raw) == b'{"message":"Internal Server Error"}\n'
    assert status(conn.request("POST", "/api/message", JSON_AUTH, HELLO)) == 200
    assert len(mb.wait_received(1)) == 1
    assert mb.counters()["post_errors"] == 2


def test_black_hole_accepts_tcp_and_never_answers_until_lifted(mb: MatterbridgeStandIn) -> None:
    ws = RawWs(mb.port)
    ws.recv_frame()
    mb.wait_until(lambda m: m.ws_clients == 1)
    mb.blackhole(True)
    conn = RawHttp(mb.port)  # the connect succeeds
    conn.sock.settimeout(0.5)
    conn.send(b"GET /api/health HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer hubtoken\r\n\r\n")
    with pytest.raises(TimeoutError):
        conn.sock.recv(1)
    mb.inject("held", "alice")
    ws.sock.settimeout(0.5)
    with pytest.raises(TimeoutError):
        ws.sock.recv(1)  # the WebSocket is silent too
    mb.blackhole(False)
    conn.sock.settimeout(10)
    ws.sock.settimeout(10)
    assert status(conn.response()) == 200
    assert ws.recv_data()["text"] == "held"


def test_restart_keeps_the_remote_record_and_counters(mb: MatterbridgeStandIn) -> None:
    RawHttp(mb.port).request("POST", "/api/message", JSON_AUTH, HELLO)
    mb.wait_received(1)
    mb.restart()
    RawHttp(mb.port).request("POST", "/api/message", JSON_AUTH, HELLO)
    assert len(mb.wait_received(2)) == 2
    assert mb.counters()["posts"] == 2


def test_stop_is_idempotent_and_inject_needs_a_running_server(mb: MatterbridgeStandIn) -> None:
    mb.stop()
    mb.stop()
    assert not mb.running
    with pytest.raises(RuntimeError):
        mb.inject("x", "alice")


def test_chatter_has_remote_users_speak(mb: MatterbridgeStandIn) -> None:
    ws = RawWs(mb.port)
    ws.recv_frame()
    mb.start_chatter(interval=0.02, seed=1)
    got = [ws.recv_data() for _ in range(3)]
    mb.stop_chatter()
    names = {(u[0], u[1]) for u in USERS}
    assert all((m["username"], m["protocol"]) in names and m["text"] for m in got)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_standalone_process_with_token_env_and_m53_end_on_sigterm() -> None:
    port = free_port()
    env = {**os.environ, "MB_TEST_TOKEN": "hubtoken"}
    proc = subprocess.Popen([sys.executable, "-m", "vhctl.sim.matterbridge", "--port", str(port),
                             "--token-env", "MB_TEST_TOKEN", "--gateway", "dchub"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    try:
        assert proc.stdout.readline().strip() == f"listening on http://127.0.0.1:{port}"
        conn = RawHttp(port)
        assert status(conn.request("GET", "/api/health")) == 400
        assert status(conn.request("GET", "/api/health", AUTH)) == 200
        stream = RawHttp(port)
        stream.send(b"GET /api/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer hubtoken\r\n\r\n")
        stream.read_until(b'"event":"api_connected"')
        proc.send_signal(signal.SIGTERM)
        assert b"0\r\n\r\n" not in wait_eof(stream.sock)
        assert proc.wait(10) == -signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_standalone_process_refuses_an_empty_token_variable() -> None:
    env = {k: v for k, v in os.environ.items() if k != "MB_NO_SUCH_TOKEN"}
    done = subprocess.run([sys.executable, "-m", "vhctl.sim.matterbridge", "--port", "0",
                           "--token-env", "MB_NO_SUCH_TOKEN"], capture_output=True, text=True, env=env, check=False,
                          timeout=30)
    assert done.returncode == 2
    assert done.stderr.strip() == "error: environment variable MB_NO_SUCH_TOKEN is empty or not set"
    assert json.dumps(done.stdout) == '""'


def test_inject_many_routes_every_line_in_order(mb: MatterbridgeStandIn) -> None:
    ws = RawWs(mb.port)
    ws.recv_frame()
    mb.wait_until(lambda m: m.ws_clients == 1)
    assert mb.inject_many((f"n{i}" for i in range(500)), "bob", protocol="matrix") == 500
    got = [ws.recv_data() for _ in range(500)]
    assert [m["text"] for m in got] == [f"n{i}" for i in range(500)]
    assert {m["protocol"] for m in got} == {"matrix"} and mb.counters()["ws_dropped"] == 0


def test_inject_many_keeps_to_its_rate(mb: MatterbridgeStandIn) -> None:
    started = time.monotonic()
    mb.inject_many(["a", "b", "c", "d", "e"], "bob", rate=20.0)
    assert time.monotonic() - started >= 0.2  # five lines at 20/s take at least 250 ms of gaps


def test_refused_websocket_answers_404_until_allowed_again(mb: MatterbridgeStandIn) -> None:
    mb.refuse_websocket(True)
    ws = RawWs(mb.port, upgrade=False)
    ws.head = ws.upgrade(AUTH)
    assert status(ws.head) == 404
    mb.refuse_websocket(False)
    assert RawWs(mb.port).head.startswith(b"HTTP/1.1 101 ")
