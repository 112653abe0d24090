"""The token check in front of everything (M9-M12, M16, M63), on the bytes a client receives."""

from __future__ import annotations

import pytest
from testkit.mbsim import AUTH, RawHttp, body, status, strip_date
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from vhctl.sim.matterbridge import MatterbridgeStandIn


def test_m11_missing_key_is_400_with_the_exact_bytes(mb: MatterbridgeStandIn) -> None:
    raw = RawHttp(mb.port).request("GET", "/api/health")
    assert strip_date(raw) == (b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json; charset=UTF-8\r\n"
                               b"Date: *\r\nContent-Length: 44\r\n\r\n"
                               b'{"message":"missing key in request header"}\n')


@pytest.mark.parametrize("value", ["hubtoken", "Token hubtoken", "Bearer"])
def test_m11_header_without_bearer_prefix_is_400_invalid_key(mb: MatterbridgeStandIn, value: str) -> None:
    raw = RawHttp(mb.port).request("GET", "/api/health", {"Authorization": value})
    assert status(raw) == 400 and b"Content-Length: 48\r\n" in raw
    assert body(raw) == b'{"message":"invalid key in the request header"}\n'


def test_m11_wrong_token_is_401_without_www_authenticate(mb: MatterbridgeStandIn) -> None:
    raw = RawHttp(mb.port).request("GET", "/api/health", {"Authorization": "Bearer nope"})
    assert status(raw) == 401 and b"Content-Length: 27\r\n" in raw
    assert body(raw) == b'{"message":"Unauthorized"}\n'
    assert b"WWW-Authenticate" not in raw


@pytest.mark.parametrize("value,code", [("bearer hubtoken", 200), ("BEARER hubtoken", 200),
                                        ("Bearer hubtoken ", 200), ("Bearer  hubtoken", 401)])
def test_m10_scheme_case_one_space_and_trimmed_tail(mb: MatterbridgeStandIn, value: str, code: int) -> None:
    assert status(RawHttp(mb.port).request("GET", "/api/health", {"Authorization": value})) == code


def test_m10_query_token_is_ignored(mb: MatterbridgeStandIn) -> None:
    raw = RawHttp(mb.port).request("GET", "/api/health?token=hubtoken")
    assert body(raw) == b'{"message":"missing key in request header"}\n'


@pytest.mark.parametrize("method,path", [("GET", "/api/nothere"), ("GET", "/api/message"),
                                         ("OPTIONS", "/api/message"), ("GET", "/api/messages"),
                                         ("GET", "/api/stream"), ("POST", "/api/message")])
def test_m9_auth_runs_before_routing_and_body_parsing(mb: MatterbridgeStandIn, method: str, path: str) -> None:
    raw = RawHttp(mb.port).request(method, path, {"Content-Type": "application/json"}, b"{bad")
    assert status(raw) == 400 and body(raw) == b'{"message":"missing key in request header"}\n'


def test_m16_health_needs_the_token_and_says_ok_without_newline(mb: MatterbridgeStandIn) -> None:
    raw = RawHttp(mb.port).request("GET", "/api/health", AUTH)
    assert strip_date(raw) == (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=UTF-8\r\n"
                               b"Date: *\r\nContent-Length: 2\r\n\r\nOK")


@pytest.mark.parametrize("token", [None, ""])
def test_m12_no_token_means_open_and_any_header_ignored(make_mb, token: str | None) -> None:
    mb = make_mb(token=token)
    conn = RawHttp(mb.port)
    assert status(conn.request("GET", "/api/health")) == 200
    assert status(conn.request("GET", "/api/health", {"Authorization": "Bearer whatever"})) == 200


@pytest.mark.parametrize("headers,code,text", [
    ({}, 400, b'{"message":"missing key in request header"}\n'),
    ({"Authorization": "hubtoken"}, 400, b'{"message":"invalid key in the request header"}\n'),
    ({"Authorization": "Bearer nope"}, 401, b'{"message":"Unauthorized"}\n'),
])
def test_m63_websocket_auth_before_the_upgrade(mb: MatterbridgeStandIn, headers, code, text) -> None:
    with pytest.raises(InvalidStatus) as err:
        connect(mb.ws_url, additional_headers=headers, open_timeout=10).close()
    assert err.value.response.status_code == code
    assert err.value.response.body == text


def test_m63_refused_upgrade_keeps_the_connection(mb: MatterbridgeStandIn) -> None:
    conn = RawHttp(mb.port)
    refused = conn.request("GET", "/api/websocket?token=hubtoken", {
        "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "x", "Sec-WebSocket-Protocol": "hubtoken"})
    assert status(refused) == 400 and b"Connection: close" not in refused
    assert status(conn.request("GET", "/api/health", AUTH)) == 200
