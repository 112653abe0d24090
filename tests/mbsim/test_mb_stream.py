"""GET /api/stream: head, greeting, pacing, the shared ring, competing readers, the swallow, the kill
(M26-M29, M34-M36, M53, M59)."""

from __future__ import annotations

import itertools
import json
import time

from testkit.mbsim import RawHttp, strip_date, wait_eof

from vhctl.sim.matterbridge import MatterbridgeStandIn

STREAM_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: *\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n")


class Stream(RawHttp):
    """A raw /api/stream reader that takes chunks one at a time."""

    def __init__(self, port: int) -> None:
        super().__init__(port)
        self.send(b"GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer hubtoken\r\n\r\n")
        self.head = self.read_until(b"\r\n\r\n")

    def chunk(self) -> bytes:
        size = int(self.read_until(b"\r\n")[:-2], 16)
        data = self.read_exactly(size)
        assert self.read_exactly(2) == b"\r\n"
        return data

    def message(self) -> dict:
        line = self.chunk()
        assert line.endswith(b"\n") and line.count(b"\n") == 1  # M27: one line per chunk
        return json.loads(line)


def open_stream(mb: MatterbridgeStandIn) -> Stream:
    """A stream past its greeting, its server loop running."""
    stream = Stream(mb.port)
    stream.message()
    mb.wait_until(lambda m: m.stream_clients >= 1)
    return stream


def test_m26_m28_head_then_the_greeting_at_once(mb: MatterbridgeStandIn) -> None:
    stream = Stream(mb.port)
    assert strip_date(stream.head) == STREAM_HEAD
    greeting = stream.message()
    assert greeting["event"] == "api_connected" and greeting["Extra"] is None
    assert all(greeting[k] == "" for k in ("text", "account", "gateway", "username"))


def test_m34_one_message_per_200ms_poll(mb: MatterbridgeStandIn) -> None:
    stream = open_stream(mb)
    for i in range(3):
        mb.inject(f"s{i}", "alice")
    arrivals = []
    for i in range(3):
        assert stream.message()["text"] == f"s{i}"
        arrivals.append(time.monotonic())
    # the loop sleeps 200 ms after each poll, so two messages are never closer (a loaded machine
    # only makes them later)
    assert min(b - a for a, b in itertools.pairwise(arrivals)) >= 0.15


def test_m30_m34_a_stream_replays_the_ring_then_takes_from_it(make_mb) -> None:
    mb = make_mb(stream_interval=0.01)
    for i in range(3):
        mb.inject(f"b{i}", "alice")
    stream = Stream(mb.port)
    stream.message()
    assert [stream.message()["text"] for _ in range(3)] == ["b0", "b1", "b2"]
    assert mb.ring() == []


def test_m35_two_streams_compete_for_each_message(make_mb) -> None:
    mb = make_mb(stream_interval=0.01)
    first, second = Stream(mb.port), Stream(mb.port)
    first.message(), second.message()
    mb.wait_until(lambda m: m.stream_clients == 2)
    for i in range(20):
        mb.inject(f"c{i}", "alice")
    mb.wait_counter("stream_sent", 20)
    got: list[str] = []
    for reader in (first, second):
        reader.sock.setblocking(False)
        try:
            while True:
                reader.buf += reader.sock.recv(65536)
        except BlockingIOError:
            pass
        reader.sock.setblocking(True)
        while reader.buf:
            got.append(reader.message()["text"])
    assert sorted(got) == sorted(f"c{i}" for i in range(20))  # each exactly once, in total


def test_m36_a_closed_stream_swallows_the_next_four(make_mb) -> None:
    mb = make_mb(stream_interval=0.01)
    stream = open_stream(mb)
    stream.close()
    mb.wait_until(lambda m: m.stream_clients == 0)
    for i in range(1, 7):
        mb.inject(f"v{i}", "alice")
    mb.wait_counter("stream_swallowed", 4)
    fresh = Stream(mb.port)
    fresh.message()
    assert [fresh.message()["text"] for _ in range(2)] == ["v5", "v6"]


def test_m59_master_mode_loses_nothing_after_a_disconnect(make_mb) -> None:
    mb = make_mb(stream_interval=0.01, stream_swallow=False)
    stream = open_stream(mb)
    stream.close()
    mb.wait_until(lambda m: m.stream_clients == 0)
    for i in range(4):
        mb.inject(f"w{i}", "alice")
    fresh = Stream(mb.port)
    fresh.message()
    assert [fresh.message()["text"] for _ in range(4)] == [f"w{i}" for i in range(4)]


def test_m29_no_keepalive_on_an_idle_stream(make_mb) -> None:
    mb = make_mb(stream_interval=0.01)
    stream = open_stream(mb)
    mb.inject("after", "alice")
    assert stream.message()["text"] == "after"  # the next bytes are the message, nothing in between


def test_m53_a_kill_ends_the_stream_without_the_final_chunk(make_mb) -> None:
    mb = make_mb(stream_interval=0.01)
    stream = open_stream(mb)
    mb.stop()
    rest = stream.buf + wait_eof(stream.sock)
    assert b"0\r\n\r\n" not in rest


def test_m54_a_restart_gives_a_fresh_greeting_and_an_empty_ring(make_mb) -> None:
    mb = make_mb(stream_interval=0.01)
    for i in range(3):
        mb.inject(f"lost{i}", "alice")
    port = mb.port
    mb.restart()
    assert mb.port == port and mb.ring() == []
    stream = Stream(mb.port)
    assert stream.message()["event"] == "api_connected"
    mb.inject("new", "alice")
    assert stream.message()["text"] == "new"
    assert mb.counters()["restarts"] == 1
