"""/api/websocket as section P observed it (M62-M86), with websockets and a raw frame client."""

from __future__ import annotations

import json
import socket

import pytest
from testkit.mbsim import AUTH, RawHttp, RawWs, body, status, strip_date, wait_eof
from websockets.exceptions import ConnectionClosedError
from websockets.sync.client import ClientConnection, connect

from vhctl.sim.matterbridge import MatterbridgeStandIn
from vhctl.sim.matterbridge.message import KEYS

TIMEOUT = 10.0


def client(mb: MatterbridgeStandIn, **kwargs) -> ClientConnection:
    """A websockets client that has read its greeting."""
    ws = connect(mb.ws_url, additional_headers=AUTH, open_timeout=TIMEOUT, max_size=None, legacy=True,
                 **kwargs)
    assert json.loads(ws.recv(timeout=TIMEOUT))["event"] == "api_connected"
    return ws


def test_m62_the_bare_101_and_the_greeting_in_one_write(mb: MatterbridgeStandIn) -> None:
    ws = RawWs(mb.port)
    assert ws.head == (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
    assert ws.buf.startswith(b"\x81\x7e")  # M66: the greeting frame came with the head


def test_m66_greeting_is_one_text_frame_without_newline(mb: MatterbridgeStandIn) -> None:
    opcode, payload, head = RawWs(mb.port).recv_frame()
    assert opcode == 1 and head[0] == 0x81 and not payload.endswith(b"\n")
    msg = json.loads(payload)
    assert list(msg) == list(KEYS) and msg["event"] == "api_connected" and msg["account"] == ""


def test_m64_a_plain_get_gets_gorillas_400(mb: MatterbridgeStandIn) -> None:
    raw = RawHttp(mb.port).request("GET", "/api/websocket", AUTH)
    assert strip_date(raw) == (b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
                               b"Sec-Websocket-Version: 13\r\nX-Content-Type-Options: nosniff\r\nDate: *\r\n"
                               b"Content-Length: 12\r\n\r\nBad Request\n")


def test_m64_unchecked_key_format_origin_and_header_case(mb: MatterbridgeStandIn) -> None:
    raw = RawWs(mb.port, upgrade=False)
    raw.send(b"GET /api/websocket HTTP/1.1\r\nHost: x\r\nupgrade: WebSocket\r\nconnection: keep-alive, Upgrade\r\n"
             b"Sec-WebSocket-Key: x\r\nSec-WebSocket-Version: 13\r\nOrigin: http://evil.example\r\n"
             b"Authorization: Bearer hubtoken\r\n\r\n")
    assert raw.read_until(b"\r\n\r\n").startswith(b"HTTP/1.1 101 ")


def test_m64_post_to_the_websocket_route_is_405(mb: MatterbridgeStandIn) -> None:
    raw = RawHttp(mb.port).request("POST", "/api/websocket", AUTH)
    assert status(raw) == 405 and b"Allow: OPTIONS, GET\r\n" in raw
    assert body(raw) == b'{"message":"Method Not Allowed"}\n'


def test_m65_no_subprotocol_no_compression(mb: MatterbridgeStandIn) -> None:
    with client(mb, subprotocols=["chat"]) as ws:
        assert ws.subprotocol is None
        assert "Sec-WebSocket-Extensions" not in ws.response.headers


def test_m68_one_compact_frame_per_message(mb: MatterbridgeStandIn) -> None:
    ws = RawWs(mb.port)
    ws.recv_frame()
    mb.wait_until(lambda m: m.ws_clients == 1)
    sent = mb.inject("x" * 10_000, "alice")
    opcode, payload, head = ws.recv_frame()
    assert opcode == 1 and head[:2] == b"\x81\x7e" and b"\n" not in payload
    assert json.loads(payload) == sent


def test_m67_the_greeting_can_come_second(make_mb) -> None:
    mb = make_mb(late_greeting=1.0, late_greeting_window=30.0)
    ws = RawWs(mb.port)
    mb.wait_until(lambda m: m.ws_clients == 1)
    mb.inject("early bird", "alice")
    assert ws.recv_data()["text"] == "early bird"
    assert ws.recv_data()["event"] == "api_connected"


def test_m67_late_greeting_still_comes_when_nothing_is_routed(make_mb) -> None:
    mb = make_mb(late_greeting=1.0, late_greeting_window=0.05)
    assert RawWs(mb.port).recv_data()["event"] == "api_connected"


def test_m83_every_client_gets_every_message_in_order(mb: MatterbridgeStandIn) -> None:
    clients = [client(mb) for _ in range(3)]
    mb.wait_until(lambda m: m.ws_clients == 3)
    for i in range(300):
        mb.inject(f"m{i}", "alice")
    for ws in clients:
        assert [json.loads(ws.recv(timeout=TIMEOUT))["text"] for _ in range(300)] == [f"m{i}" for i in range(300)]
        ws.close()


def test_m82_no_replay_on_connect_m86_but_the_ring_keeps_it(mb: MatterbridgeStandIn) -> None:
    for i in range(3):
        mb.inject(f"offline{i}", "alice")
    with client(mb) as ws:
        mb.inject("live", "bob")
        assert json.loads(ws.recv(timeout=TIMEOUT))["text"] == "live"
    assert [m["text"] for m in mb.ring()] == ["offline0", "offline1", "offline2", "live"]


def test_m39_a_post_of_ours_never_reaches_our_websocket(mb: MatterbridgeStandIn) -> None:
    with client(mb) as ws:
        RawHttp(mb.port).request("POST", "/api/message", {**AUTH, "Content-Type": "application/json"},
                                 b'{"text":"mine","gateway":"dchub"}')
        mb.wait_received(1)
        mb.inject("theirs", "alice")
        assert json.loads(ws.recv(timeout=TIMEOUT))["text"] == "theirs"


def test_m74_512_bytes_pass_513_close_1009_with_no_reason(mb: MatterbridgeStandIn) -> None:
    ws = client(mb)
    fits = json.dumps({"text": "", "gateway": "dchub"})
    fits = fits.replace('"text": ""', '"text": "' + "a" * (512 - len(fits)) + '"')
    assert len(fits.encode()) == 512
    ws.send(fits)
    mb.wait_received(1)
    ws.send("é" * 257)  # 514 bytes of 2-byte characters
    with pytest.raises(ConnectionClosedError) as err:
        ws.recv(timeout=TIMEOUT)
    assert err.value.rcvd is not None and err.value.rcvd.code == 1009 and err.value.rcvd.reason == ""
    assert mb.counters()["ws_too_big"] == 1


def test_m74_fragments_are_summed_and_the_exact_close_frame(mb: MatterbridgeStandIn) -> None:
    ws = RawWs(mb.port)
    ws.recv_frame()
    ws.frame(0x1, b" " * 300, fin=False)
    ws.frame(0x0, b" " * 300)
    assert ws.recv_frame() == (8, b"\x03\xf1", b"\x88\x02")
    wait_eof(ws.sock)


def test_m70_fragmented_frames_are_accepted(mb: MatterbridgeStandIn) -> None:
    ws = RawWs(mb.port)
    ws.frame(0x1, b'{"text":"frag', fin=False)
    ws.frame(0x0, b'mented","gateway":"dchub","account":"api.fake"}')
    got = mb.wait_received(1)[0]
    assert (got["text"], got["account"]) == ("fragmented", "api.vhctl")


@pytest.mark.parametrize("frame", [b'{"text":"trunc', b'{"text":5,"gateway":"dchub"}',
                                   b'{"text":"a","gateway":"dchub","timestamp":"yesterday"}',
                                   b'{"text":"a","gateway":"dchub"} xyz',
                                   b'{"text":"a","gateway":"dchub"}{"text":"b","gateway":"dchub"}'])
def test_m71_undecodable_frames_are_dropped_silently(mb: MatterbridgeStandIn, frame: bytes) -> None:
    sender, other = RawWs(mb.port), client(mb)
    sender.recv_frame()
    mb.wait_until(lambda m: m.ws_clients == 2)
    sender.text(frame)
    mb.wait_counter("ws_undecodable", 1)
    sender.text({"text": "after", "gateway": "dchub"})  # the connection is still good
    assert mb.wait_received(1)[0]["text"] == "after"
    assert json.loads(other.recv(timeout=TIMEOUT))["text"] == "after"  # the bad one was not looped back
    other.close()


def test_m72_loop_back_to_the_other_clients_only_even_when_dropped(mb: MatterbridgeStandIn) -> None:
    sender, other = RawWs(mb.port), client(mb)
    sender.recv_frame()
    mb.wait_until(lambda m: m.ws_clients == 2)
    sender.text({"text": ":smile:", "username": "dc", "parent_id": "p1", "account": "api.fake"})  # no gateway
    looped = json.loads(other.recv(timeout=TIMEOUT))
    assert (looped["text"], looped["parent_id"], looped["gateway"], looped["account"]) == (
        ":smile:", "p1", "", "api.vhctl")
    mb.wait_counter("dropped_gateway", 1)
    assert mb.received() == [] and mb.ring() == []
    mb.inject("marker", "alice")
    assert sender.recv_data()["text"] == "marker"  # nothing came back to the sender before it
    other.close()


def test_m73_binary_frames_are_ignored(mb: MatterbridgeStandIn) -> None:
    ws = RawWs(mb.port)
    ws.recv_frame()
    ws.frame(0x2, b'{"text":"bin","gateway":"dchub"}')
    ws.text({"text": "txt", "gateway": "dchub"})
    assert [m["text"] for m in mb.wait_received(1)] == ["txt"]


def test_m76_a_client_close_is_echoed_with_its_code_only(mb: MatterbridgeStandIn) -> None:
    for payload, answer in [(b"\x03\xe8bye", b"\x03\xe8"), (b"\x0f\xa0x", b"\x0f\xa0"), (b"", b"")]:
        ws = RawWs(mb.port)
        ws.recv_frame()
        ws.frame(0x8, payload)
        assert ws.recv_frame()[:2] == (8, answer)
        wait_eof(ws.sock)


def test_m75_a_protocol_error_closes_1002(mb: MatterbridgeStandIn) -> None:
    ws = RawWs(mb.port)
    ws.recv_frame()
    ws.frame(0x1, b"{}", mask=False)
    opcode, payload, _ = ws.recv_frame()
    assert opcode == 8 and payload[:2] == b"\x03\xea"


def test_m77_client_pings_are_answered_with_the_same_payload(mb: MatterbridgeStandIn) -> None:
    ws = RawWs(mb.port)
    ws.recv_frame()
    ws.frame(0x9, b"hello-ping")
    assert ws.recv_frame()[:2] == (10, b"hello-ping")
    ws.frame(0xA, b"unsolicited")  # accepted silently
    ws.text({"text": "still", "gateway": "dchub"})
    mb.wait_received(1)


def test_m78_m79_empty_pings_and_a_drop_without_close_frame(make_mb) -> None:
    mb = make_mb(ping_interval=0.2, pong_timeout=1.0)
    deaf = RawWs(mb.port)
    deaf.recv_frame()
    with client(mb) as polite:  # websockets answers pings by itself
        assert deaf.recv_frame() == (9, b"", b"\x89\x00")
        rest = wait_eof(deaf.sock)  # 1 s after connect: FIN, and only pings before it
        while rest:
            assert rest[:2] == b"\x89\x00"
            rest = rest[2:]
        assert mb.wait_counter("ws_timeouts", 1) == 1
        mb.inject("alive", "alice")
        assert json.loads(polite.recv(timeout=TIMEOUT))["text"] == "alive"


def test_m79_data_frames_do_not_keep_a_client_alive(make_mb) -> None:
    mb = make_mb(ping_interval=60.0, pong_timeout=0.5)
    ws = RawWs(mb.port)
    ws.recv_frame()
    ws.text({"text": "busy", "gateway": "dchub"})
    mb.wait_received(1)
    wait_eof(ws.sock)
    assert mb.counters()["ws_timeouts"] == 1


def test_m85_a_slow_clients_frames_beyond_the_queue_drop_for_it_alone(make_mb) -> None:
    mb = make_mb(ws_sndbuf=4096, client_queue=256)
    slow = RawWs(mb.port, rcvbuf=4096)
    slow.recv_frame()
    with client(mb, max_queue=None) as fast:  # reads its socket all the time, whatever the test does
        mb.wait_until(lambda m: m.ws_clients == 2)
        burst = 600
        for i in range(burst):
            mb.inject(f"{i:04d}" + "x" * 2000, "alice")
        assert [json.loads(fast.recv(timeout=TIMEOUT))["text"][:4] for _ in range(burst)] == [
            f"{i:04d}" for i in range(burst)]
        dropped = mb.wait_counter("ws_dropped", 1)
        assert dropped < burst - 256
        got = []
        while len(got) < burst - dropped:
            got.append(int(slow.recv_data()["text"][:4]))
        assert got == list(range(len(got)))  # one unbroken run from the start
        mb.inject("later", "alice")
        assert slow.recv_data()["text"] == "later"
        assert json.loads(fast.recv(timeout=TIMEOUT))["text"] == "later"


def test_m85_a_client_stalled_past_the_write_timeout_turns_zombie(make_mb) -> None:
    mb = make_mb(ws_sndbuf=4096, write_timeout=0.3, pong_timeout=60.0)
    slow = RawWs(mb.port, rcvbuf=4096)
    slow.recv_frame()
    mb.wait_until(lambda m: m.ws_clients == 1)
    for i in range(50):
        mb.inject(f"{i:04d}" + "y" * 20_000, "alice")
    mb.wait_counter("ws_zombies", 1)
    mb.inject("never", "alice")
    slow.sock.settimeout(1.0)
    received = b""
    try:
        while True:
            data = slow.sock.recv(65536)
            if not data:
                break
            received += data
    except TimeoutError:
        pass
    assert b"never" not in received
    assert len(received) < 50 * 20_000  # cut short, ending mid-frame


def test_m80_a_kill_ends_every_connection_with_no_close_frame(mb: MatterbridgeStandIn) -> None:
    ws = client(mb)
    raw = RawWs(mb.port)
    raw.recv_frame()
    mb.wait_until(lambda m: m.ws_clients == 2)
    mb.stop()
    with pytest.raises(ConnectionClosedError) as err:
        ws.recv(timeout=TIMEOUT)
    assert err.value.rcvd is None  # "no close frame received"
    assert wait_eof(raw.sock) == b""


def test_m81_refused_while_down_then_upgrades_on_the_same_port(mb: MatterbridgeStandIn) -> None:
    port = mb.port
    mb.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    mb.start()
    assert mb.port == port
    with client(mb):
        pass
