"""When the WebSocket is refused (a proxy that does not upgrade), the bridge reads /api/stream and
says what that costs. The peer is a small real HTTP server on loopback: the stand-in always serves
the WebSocket."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest

from testkit.bridge import wait_until

GREETING = {"text": "", "channel": "", "username": "", "userid": "", "avatar": "", "account": "",
            "event": "api_connected", "protocol": "", "gateway": "", "parent_id": "",
            "timestamp": "2026-12-02T07:41:59.97Z", "id": "", "Extra": None}


class NoUpgrade(BaseHTTPRequestHandler):
    """/api/websocket refused with 404, /api/stream: the greeting and one message, then silence."""

    protocol_version = "HTTP/1.1"
    done = threading.Event()

    def do_GET(self) -> None:
        if self.path != "/api/stream":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Connection", "close")  # the body ends when the connection does
        self.end_headers()
        message = {**GREETING, "event": "", "text": "over the stream", "username": "carol",
                   "account": "irc.demo", "protocol": "irc", "gateway": "gateway1", "channel": "#hub"}
        for item in (message, GREETING):  # the greeting need not come first (M67)
            self.wfile.write(json.dumps(item).encode() + b"\n")
            self.wfile.flush()
        self.done.wait(30)

    def log_message(self, *args: object) -> None:
        pass


class Peer:
    def __init__(self) -> None:
        NoUpgrade.done = threading.Event()  # a fresh one per test: the last test's teardown set it
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), NoUpgrade)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.ws_clients = 0
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def peer() -> Iterator[Peer]:
    made = Peer()
    yield made
    NoUpgrade.done.set()
    made.server.shutdown()
    made.server.server_close()


def test_stream_fallback_when_the_websocket_is_refused_M34_M36(make_bridge_hub, peer, mode):
    bridge = make_bridge_hub(mode, peer)
    alice = bridge.hub.login("alice", share=0)
    wait_until(lambda: "[irc] <carol> over the stream" in bridge.chat_lines(alice), 15, bridge.hub)
    comp = bridge.component()
    assert comp.ctx.status.get("in_transport") == "stream"
    status = bridge.command("!bridge status")
    assert "/api/stream" in status and "5 per second" in status


def test_M35_pyreload_on_the_stream_fallback_never_has_two_stream_readers(make_bridge_hub, standin, mode):
    mb = standin(stream_swallow=False)
    mb.refuse_websocket(True)
    bridge = make_bridge_hub(mode, mb)
    comp = bridge.component()
    wait_until(lambda: comp.ctx.status.get("in_transport") == "stream"
               and comp.ctx.status.get("in_state") == "connected", 20, bridge.hub)
    most = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            most[0] = max(most[0], mb.stream_clients)
            stop.wait(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        bridge.reload()
        comp = bridge.component()
        wait_until(lambda: comp.ctx.status.get("in_transport") == "stream"
                   and comp.ctx.status.get("in_state") == "connected", 20, bridge.hub)
    finally:
        stop.set()
        sampler.join(5)
    assert most[0] == 1          # the new instance reads the stream only once the old one let go
    alice = bridge.hub.login("alice", share=0)
    mb.inject("after the reload", "bob")
    wait_until(lambda: "[irc] <bob> after the reload" in bridge.chat_lines(alice), 20, bridge.hub)
