"""The HTTP routes and the ring (M7-M8, M13-M25, M30-M32, M39-M44, M49)."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from testkit.mbsim import AUTH, RawHttp, body, status, strip_date

from vhctl.sim.matterbridge import MatterbridgeStandIn
from vhctl.sim.matterbridge.message import KEYS

JSON_AUTH = {**AUTH, "Content-Type": "application/json"}


def post(conn: RawHttp, payload: object, headers: dict[str, str] | None = None) -> bytes:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return conn.request("POST", "/api/message", JSON_AUTH if headers is None else headers, data)


def messages(conn: RawHttp) -> list[dict]:
    return json.loads(body(conn.request("GET", "/api/messages", AUTH)))


def test_m7_not_found_method_not_allowed_head_and_trailing_slash(mb: MatterbridgeStandIn) -> None:
    conn = RawHttp(mb.port)
    assert body(conn.request("GET", "/api/nothere", AUTH)) == b'{"message":"Not Found"}\n'
    assert status(conn.request("GET", "/api/health/", AUTH)) == 404
    wrong = conn.request("GET", "/api/message", AUTH)
    assert status(wrong) == 405 and body(wrong) == b'{"message":"Method Not Allowed"}\n'
    assert b"Allow: OPTIONS, POST\r\n" in wrong
    assert status(conn.request("POST", "/api/messages", AUTH)) == 405
    head = conn.request("HEAD", "/api/health", AUTH)  # no body follows a HEAD answer
    assert status(head) == 405 and head.endswith(b"\r\n\r\n")
    assert status(conn.request("GET", "/api/health", AUTH)) == 200  # keep-alive (M8)


def test_m8_options_gives_204_with_allow_and_no_server_header(mb: MatterbridgeStandIn) -> None:
    raw = RawHttp(mb.port).request("OPTIONS", "/api/message", AUTH)
    assert strip_date(raw) == b"HTTP/1.1 204 No Content\r\nAllow: OPTIONS, POST\r\nDate: *\r\n\r\n"


def test_m17_content_type_rules(mb: MatterbridgeStandIn) -> None:
    conn = RawHttp(mb.port)
    msg = {"text": "x", "gateway": "dchub"}
    for ctype in ("text/plain", "APPLICATION/JSON"):
        raw = post(conn, msg, {**AUTH, "Content-Type": ctype})
        assert status(raw) == 415 and body(raw) == b'{"message":"Unsupported Media Type"}\n'
    raw = post(conn, msg, AUTH)  # no Content-Type at all
    assert status(raw) == 415 and b"Content-Length: 37" in raw
    assert status(post(conn, msg, {**JSON_AUTH, "Content-Type": "application/json; charset=utf-8"})) == 200
    form = post(conn, b"text=x&gateway=dchub", {**AUTH, "Content-Type": "application/x-www-form-urlencoded"})
    assert status(form) == 200 and json.loads(body(form))["text"] == ""
    empty = conn.request("POST", "/api/message", {**AUTH, "Content-Type": "text/plain"})
    assert status(empty) == 200
    assert len(mb.received()) == 1  # only the charset one had fields; the rest were dropped (M22)


@pytest.mark.parametrize("raw,message", [
    (b'{"text":"bad', "unexpected EOF"),
    (b"{text}", "Syntax error: offset=2, error=invalid character 't' looking for beginning of object key string"),
    (b'{"text":5,"gateway":"dchub"}', "Unmarshal type error: expected=string, got=number, field=text, offset=9"),
    (b"[1,2]", "Unmarshal type error: expected=config.Message, got=array, field=, offset=1"),
])
def test_m18_json_errors_with_the_exact_bodies(mb: MatterbridgeStandIn, raw: bytes, message: str) -> None:
    answer = post(RawHttp(mb.port), raw)
    assert status(answer) == 400
    assert json.loads(body(answer)) == {"message": message}
    assert body(answer).endswith(b"\n")


def test_m18_keys_case_insensitive_nulls_skipped_trailing_data_ignored(mb: MatterbridgeStandIn) -> None:
    answer = post(RawHttp(mb.port), b'{"TEXT":"hi","UserName":"al","GATEWAY":"dchub","avatar":null,'
                                    b'"extra":{"file":[]},"bogus":1} xyz')
    assert status(answer) == 200
    got = mb.wait_received(1)[0]
    assert (got["text"], got["username"], got["gateway"], got["Extra"]) == ("hi", "al", "dchub", {"file": []})


def test_m19_m20_overwritten_fields_and_the_compact_answer(mb: MatterbridgeStandIn) -> None:
    answer = post(RawHttp(mb.port), {"text": "hello", "username": "alice", "gateway": "dchub",
                                     "channel": "#x", "protocol": "irc", "account": "api.fake",
                                     "id": "42", "timestamp": "2000-01-01T00:00:00Z", "parent_id": "p",
                                     "userid": "U1", "avatar": "http://a/b.png", "event": "user_action"})
    assert b"Content-Type: application/json; charset=UTF-8\r\n" in answer
    raw = body(answer)
    assert raw.endswith(b"}\n") and b"\n" not in raw[:-1]
    msg = json.loads(raw)
    assert list(msg) == list(KEYS)  # M13
    assert (msg["channel"], msg["protocol"], msg["account"], msg["id"]) == ("api", "api", "api.vhctl", "")
    assert not msg["timestamp"].startswith("2000")
    assert (msg["parent_id"], msg["userid"], msg["avatar"], msg["event"]) == ("p", "U1", "http://a/b.png",
                                                                              "user_action")


def test_m14_m15_router_timestamp_rfc3339_after_the_post_one(mb: MatterbridgeStandIn) -> None:
    posted = json.loads(body(post(RawHttp(mb.port), {"text": "t", "gateway": "dchub"})))
    routed = mb.wait_received(1)[0]
    stamp = routed["timestamp"]
    assert stamp.endswith("Z") and not stamp.split(".")[-1].rstrip("Z").endswith("0")
    assert datetime.fromisoformat(stamp) >= datetime.fromisoformat(posted["timestamp"])


@pytest.mark.parametrize("payload,counter", [({"text": "x", "gateway": "nope"}, "dropped_gateway"),
                                             ({"text": "x"}, "dropped_gateway"),
                                             ({"text": "", "gateway": "dchub"}, "dropped_empty")])
def test_m22_accepted_but_silently_dropped(mb: MatterbridgeStandIn, payload: dict, counter: str) -> None:
    assert status(post(RawHttp(mb.port), payload)) == 200
    assert mb.wait_counter(counter, 1) == 1
    assert mb.received() == []


def test_m22_m52_empty_text_with_a_file_is_routed(mb: MatterbridgeStandIn) -> None:
    extra = {"file": [{"Name": "a.txt", "Data": "aGVsbG8=", "Comment": "a file", "Size": 5}]}
    post(RawHttp(mb.port), {"text": "", "gateway": "dchub", "Extra": extra})
    assert mb.wait_received(1)[0]["Extra"] == extra


def test_m23_a_million_characters_pass_whole(mb: MatterbridgeStandIn) -> None:
    post(RawHttp(mb.port), {"text": "x" * 1_000_000, "gateway": "dchub"})
    assert len(mb.wait_received(1)[0]["text"]) == 1_000_000


def test_m39_no_echo_of_our_own_post(mb: MatterbridgeStandIn) -> None:
    conn = RawHttp(mb.port)
    post(conn, {"text": "mine", "gateway": "dchub"})
    mb.wait_received(1)
    assert messages(conn) == [] and mb.ring() == []


def test_m24_empty_messages_is_exactly_brackets_newline(mb: MatterbridgeStandIn) -> None:
    raw = RawHttp(mb.port).request("GET", "/api/messages", AUTH)
    assert strip_date(raw) == (b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=UTF-8\r\n"
                               b"Date: *\r\nContent-Length: 3\r\n\r\n[]\n")


def test_m24_m25_pretty_one_space_and_drained(mb: MatterbridgeStandIn) -> None:
    sent = mb.inject("hello from other", "alice")
    conn = RawHttp(mb.port)
    raw = body(conn.request("GET", "/api/messages", AUTH))
    assert raw.startswith(b'[\n {\n  "text": "hello from other",\n  "channel": "#hub",\n')
    assert raw.endswith(b'  "Extra": null\n }\n]\n')
    assert json.loads(raw) == [sent]
    assert messages(conn) == []


def test_m31_a_full_ring_overwrites_its_oldest(make_mb) -> None:
    mb = make_mb(buffer=5)
    for i in range(1, 9):
        mb.inject(f"k{i}", "alice")
    assert [m["text"] for m in messages(RawHttp(mb.port))] == ["k4", "k5", "k6", "k7", "k8"]
    assert mb.counters()["ring_overwritten"] == 3


def test_m32_first_drain_resets_capacity_to_ten(mb: MatterbridgeStandIn) -> None:
    conn = RawHttp(mb.port)
    for i in range(1, 16):
        mb.inject(f"a{i}", "alice")
    assert len(messages(conn)) == 15  # Buffer=1000 still applies
    for i in range(1, 16):
        mb.inject(f"b{i}", "alice")
    assert [m["text"] for m in messages(conn)] == [f"b{i}" for i in range(6, 16)]


def test_m1_buffer_zero_means_ten(make_mb) -> None:
    mb = make_mb(buffer=0)
    for i in range(12):
        mb.inject(f"m{i}", "alice")
    assert len(mb.ring()) == 10


def test_m30_ring_fills_with_nobody_connected(mb: MatterbridgeStandIn) -> None:
    for i in range(3):
        mb.inject(f"early{i}", "alice")
    assert [m["text"] for m in messages(RawHttp(mb.port))] == ["early0", "early1", "early2"]


@pytest.mark.parametrize("event,show,delivered", [
    ("", False, True), ("user_action", False, True), ("join_leave", False, False),
    ("join_leave", True, True), ("topic_change", False, False), ("msg_delete", False, False),
    ("user_typing", False, False), ("notice_irc", False, False), ("file_delete", False, True),
    ("bogus_event", False, True)])
def test_m44_which_events_reach_an_api_account(make_mb, event: str, show: bool, delivered: bool) -> None:
    mb = make_mb(show_join_part=show)
    mb.inject("some text", "alice", event=event)
    assert bool(mb.ring()) is delivered


def test_m41_remote_nick_format_and_nopingnick(make_mb) -> None:
    mb = make_mb(remote_nick_format="[{PROTOCOL}/{BRIDGE}/{GATEWAY}/{CHANNEL}/{USERID}] <{NICK}> {NOPINGNICK}")
    assert mb.inject("x", "alice", userid="U1")["username"] == "[irc/demo/dchub/#hub/U1] <alice> a\u200blice"
    assert mb.inject("y", "")["username"].endswith("<> {NOPINGNICK}")


def test_m49_go_escaping_bytes_and_invalid_utf8(mb: MatterbridgeStandIn) -> None:
    conn = RawHttp(mb.port)
    post(conn, b'{"text":"a\xff\xfeb \xc3(","username":"al\xffice","gateway":"dchub"}')
    routed = mb.wait_received(1)[0]
    assert (routed["text"], routed["username"]) == ("a\ufffd\ufffdb \ufffd(", "al\ufffdice")
    mb.inject('<b>&amp;</b> "q" \\ \' \n\x00\x7f\u2028 héllo 😀 $5 |x|', "alice")
    raw = body(conn.request("GET", "/api/messages", AUTH))
    assert ('"text": "\\u003cb\\u003e\\u0026amp;\\u003c/b\\u003e \\"q\\" \\\\ \' \\n\\u0000\x7f\\u2028 '
            'héllo 😀 $5 |x|"').encode() in raw


def test_m64_http11_without_host_gets_gos_answer_and_eof(mb: MatterbridgeStandIn) -> None:
    conn = RawHttp(mb.port)
    conn.send(b"GET /api/health HTTP/1.1\r\nAuthorization: Bearer hubtoken\r\n\r\n")
    raw = conn.read_to_eof()
    assert raw.startswith(b"HTTP/1.1 400 Bad Request: missing required Host header\r\n")
    assert b"Connection: close\r\n" in raw


def test_m8_http10_health_works(mb: MatterbridgeStandIn) -> None:
    conn = RawHttp(mb.port)
    conn.send(b"GET /api/health HTTP/1.0\r\nAuthorization: Bearer hubtoken\r\n\r\n")
    raw = conn.read_to_eof()
    assert status(raw) == 200 and body(raw) == b"OK"


def test_m47_a_remote_parent_arrives_as_not_found(mb: MatterbridgeStandIn) -> None:
    assert mb.inject("reply", "alice", parent_id="123")["parent_id"] == "msg-parent-not-found"
    assert mb.inject("plain", "alice")["parent_id"] == ""
