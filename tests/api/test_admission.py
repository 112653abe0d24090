"""Connection abuse against a real uvicorn: idle, half-open and greedy clients never switch the API off.

Each test holds twice a limit's worth of abusive sockets and then asks as an honest client would."""

from __future__ import annotations

import json
import socket
import time
from typing import Callable, Iterator, List

import pytest
from testkit.api import StandaloneApi, snapshot, user
from testkit.runtime import wait_until

from vhctl_hub.api.admission import Limits

SHORT_IDLE = Limits(idle_timeout=1.0, sweep_every=0.2)


@pytest.fixture
def sockets() -> Iterator[Callable[[int, bytes], List[socket.socket]]]:
    """``open(n, first_bytes)`` -> n connected sockets that sent ``first_bytes`` (closed at teardown)."""
    held: List[socket.socket] = []

    def open_(port: int, count: int, first: bytes = b"") -> List[socket.socket]:
        made = []
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            if first:
                sock.sendall(first)
            made.append(sock)
        held.extend(made)
        return made

    yield open_  # type: ignore[misc]
    for sock in held:
        sock.close()


def _port(api: StandaloneApi) -> int:
    assert api.server.port is not None
    return api.server.port


def _timed_get(api: StandaloneApi, path: str) -> float:
    started = time.monotonic()
    response = api.get(path)
    assert response.status_code == 200, response.text
    return time.monotonic() - started


@pytest.mark.parametrize("first", [b"", b"GET /health HTTP/1.1\r\nHost: x\r\n"], ids=["idle", "half-open"])
def test_twice_the_connection_caps_of_idle_or_half_open_sockets_leave_health_and_requests_answered(
        standalone: Callable[..., StandaloneApi], sockets: Callable[..., List[socket.socket]], first: bytes) -> None:
    limits = Limits(grace=0.3, sweep_every=0.2)
    api = standalone(snapshot([user("alice")]), limits=limits)
    held = 2 * max(limits.per_client, limits.max_connections)
    sockets(_port(api), held, first)
    gate = api.server.gate
    assert gate is not None
    wait_until(lambda: gate.counts["seen"] >= held, timeout=60)  # the server has accepted every one
    time.sleep(limits.grace)  # held sockets, not a burst still arriving: new ones may now evict them
    assert _timed_get(api, "/health") < 1.0
    assert _timed_get(api, "/api/stats") < 1.0
    assert api.server.gate is not None and api.server.gate.counts["evicted"] > 0


def test_an_idle_connection_is_closed_after_the_idle_timeout(
        standalone: Callable[..., StandaloneApi], sockets: Callable[..., List[socket.socket]]) -> None:
    api = standalone(snapshot([]), limits=SHORT_IDLE)
    idle, trickling = sockets(_port(api), 1)[0], sockets(_port(api), 1, b"GET /health HTTP/1.1\r\n")[0]
    for sock in (idle, trickling):
        assert sock.recv(100) == b""  # the server closed it (the socket's 10 s timeout would raise)
    assert api.server.gate is not None and api.server.gate.counts["idle_closed"] == 2


def test_a_client_that_keeps_every_connection_busy_gets_a_json_503_with_retry_after(
        standalone: Callable[..., StandaloneApi], sockets: Callable[..., List[socket.socket]]) -> None:
    api = standalone(snapshot([]), limits=Limits(per_client=8, max_requests=16, sweep_every=0.2))
    streams = sockets(_port(api), 8, b"GET /api/events HTTP/1.1\r\nHost: x\r\n\r\n")
    for sock in streams:  # every one is answered: busy, not idle
        assert sock.recv(12).startswith(b"HTTP/1.1 ")
    refused = sockets(_port(api), 1)[0]
    answer = refused.recv(4096)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503 ") and b"retry-after: 1" in head.lower()
    assert "busy" in json.loads(body)["detail"]


def test_health_has_a_reserve_of_its_own_when_requests_are_at_their_limit(
        standalone: Callable[..., StandaloneApi], sockets: Callable[..., List[socket.socket]]) -> None:
    api = standalone(snapshot([]), limits=Limits(max_requests=3, health_reserve=2, sweep_every=0.2))
    streams = sockets(_port(api), 3, b"GET /api/events HTTP/1.1\r\nHost: x\r\n\r\n")
    for sock in streams:
        assert sock.recv(12) == b"HTTP/1.1 200"
    busy = api.get("/api/stats")
    assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
    assert busy.headers["content-type"] == "application/json" and "busy" in busy.json()["detail"]
    assert api.get("/health").status_code == 200
    for sock in streams:
        sock.close()
    ok = api.get("/api/stats")  # recovers at once: each closed stream frees its place
    assert ok.status_code in (200, 503)
    deadline = time.monotonic() + 10
    while ok.status_code != 200 and time.monotonic() < deadline:
        ok = api.get("/api/stats")
    assert ok.status_code == 200


def test_the_event_stream_cap_holds_in_a_burst(standalone: Callable[..., StandaloneApi],
                                                sockets: Callable[..., List[socket.socket]]) -> None:
    from vhctl_hub.api.app import MAX_STREAMS

    api = standalone(snapshot([]))
    burst = sockets(_port(api), MAX_STREAMS + 86, b"GET /api/events HTTP/1.1\r\nHost: x\r\n\r\n")
    statuses = [sock.recv(12) for sock in burst]
    assert statuses.count(b"HTTP/1.1 200") == MAX_STREAMS
    assert statuses.count(b"HTTP/1.1 503") == 86
