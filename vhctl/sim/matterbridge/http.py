"""HTTP/1.1 over h11: the five routes of M6 behind the auth check, with echo's exact answers.

One ``HttpConnection`` per accepted socket serves keep-alive requests (M8) until the peer closes or a
route takes the socket over (/api/stream, /api/websocket). Response heads are written as Go writes
them: the handler's headers sorted by name, then ``Date``, then the framing header (M11, M26, M64).
"""

from __future__ import annotations

import asyncio
import email.utils
import http
from typing import Any

import h11

from vhctl.sim.matterbridge import auth, stream, websocket
from vhctl.sim.matterbridge.context import Context
from vhctl.sim.matterbridge.message import DecodeError, compact, decode_body, decode_message, pretty

JSON = "application/json; charset=UTF-8"
MAX_READ = 65536

# Go's answers to requests it cannot parse at all; it closes the connection after them.
NO_HOST = b"400 Bad Request: missing required Host header"
BAD_REQUEST = b"400 Bad Request"

# M6: the routes and their one method each.
ROUTES = {"/api/health": "GET", "/api/messages": "GET", "/api/stream": "GET",
          "/api/websocket": "GET", "/api/message": "POST"}


def json_body(message: str) -> bytes:
    """echo's error body: compact ``{"message":...}`` plus newline (M7)."""
    return compact({"message": message}) + b"\n"


def header(request: h11.Request, name: bytes) -> str | None:
    """The first value of a header, one char per byte (h11 lower-cases names)."""
    for key, value in request.headers:
        if key == name:
            return value.decode("latin-1")
    return None


class HttpConnection:
    """Requests on one socket, answered one after another (h11 enforces the HTTP/1.1 cycle)."""

    def __init__(self, ctx: Context, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.ctx = ctx
        self.reader = reader
        self.writer = writer
        self.conn = h11.Connection(h11.SERVER)
        self._head = False

    async def serve(self) -> None:
        try:
            while True:
                got = await self._read_request()
                if got is None:
                    return
                request, body = got
                await self.ctx.faults.gate()
                if await self._dispatch(request, body):
                    return  # a route took the socket over and is done with it
                await self.writer.drain()
                if self.conn.our_state is not h11.DONE or self.conn.their_state is not h11.DONE:
                    return
                self.conn.start_next_cycle()
        except h11.RemoteProtocolError as exc:
            self._raw_bad_request(NO_HOST if "Host" in str(exc) else BAD_REQUEST)
        except ConnectionError:
            pass
        finally:
            self.writer.close()

    async def _next_event(self) -> Any:
        while True:
            event = self.conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            self.conn.receive_data(await self.reader.read(MAX_READ))

    async def _read_request(self) -> tuple[h11.Request, bytes] | None:
        event = await self._next_event()
        if not isinstance(event, h11.Request):
            return None
        body = bytearray()
        while True:
            part = await self._next_event()
            if isinstance(part, h11.Data):
                body += part.data
            elif isinstance(part, h11.EndOfMessage):
                return event, bytes(body)
            else:
                return None

    def _raw_bad_request(self, status_line: bytes) -> None:
        self.writer.write(b"HTTP/1.1 " + status_line + b"\r\nContent-Type: text/plain; charset=utf-8"
                          b"\r\nConnection: close\r\n\r\n" + status_line)

    def send(self, status: int, headers: list[tuple[str, str]], body: bytes | None) -> None:
        """A whole response; ``body=None`` for 204 (no Content-Length, as Go)."""
        head = sorted(headers) + [("Date", email.utils.formatdate(usegmt=True))]
        if body is not None:
            head.append(("Content-Length", str(len(body))))
        data = self.conn.send(h11.Response(status_code=status, headers=head,
                                           reason=http.HTTPStatus(status).phrase.encode()))
        if body and not self._head:  # HEAD: the head only (Go's server drops the body)
            data += self.conn.send(h11.Data(data=body))
        data += self.conn.send(h11.EndOfMessage())
        self.writer.write(data)

    def send_json(self, status: int, body: bytes) -> None:
        self.send(status, [("Content-Type", JSON)], body)

    def start_chunked(self) -> None:
        """The stream's head (M26): no charset, chunked, nothing after it until a message."""
        head = [("Content-Type", "application/json"), ("Date", email.utils.formatdate(usegmt=True)),
                ("Transfer-Encoding", "chunked")]
        self.writer.write(self.conn.send(h11.Response(status_code=200, headers=head, reason=b"OK")))

    def chunk(self, data: bytes) -> None:
        """One message line as one chunk (M27); the final chunk is never sent (M29, M53)."""
        self.writer.write(self.conn.send(h11.Data(data=data)))

    async def _dispatch(self, request: h11.Request, body: bytes) -> bool:
        """Answer one request; True when the socket was taken over and is finished."""
        self._head = request.method == b"HEAD"
        failure = auth.check(self.ctx.settings.token, header(request, b"authorization"))
        if failure is not None:  # M9: before routing, so unknown paths get it too
            self.ctx.record.count("auth_failures")
            self.send_json(failure[0], json_body(failure[1]))
            if request.target.split(b"?")[0] == b"/api/message":
                self.ctx.record.count("post_errors")
            return False
        path = request.target.split(b"?")[0].decode("latin-1")
        method = request.method.decode("latin-1")
        allowed = ROUTES.get(path)
        if allowed is None or (path == "/api/websocket" and self.ctx.faults.refuse_websocket):
            self.send_json(404, json_body("Not Found"))
        elif method == "OPTIONS":
            self.send(204, [("Allow", f"OPTIONS, {allowed}")], None)  # M8
        elif method != allowed:
            self.send(405, [("Allow", f"OPTIONS, {allowed}"), ("Content-Type", JSON)],
                      json_body("Method Not Allowed"))  # M7, M64
            if path == "/api/message":
                self.ctx.record.count("post_errors")
        elif path == "/api/health":
            self.send(200, [("Content-Type", "text/plain; charset=UTF-8")], b"OK")  # M16
        elif path == "/api/messages":
            taken = self.ctx.router.drain()
            self.send_json(200, pretty(taken))  # M24, M25, M32
            await self.writer.drain()
            for msg in taken:
                self.ctx.record.add_handed("ring", compact(msg))
        elif path == "/api/message":
            self._post(request, body)
        elif path == "/api/stream":
            await stream.serve(self)
            return True
        else:
            return await websocket.upgrade(self, request)
        return False

    def _post(self, request: h11.Request, body: bytes) -> None:
        """POST /api/message (M17-M22): parse, stamp (M19), answer, then route."""
        record = self.ctx.record
        if self.ctx.faults.take_post_failure():
            record.count("post_errors")
            self.send_json(500, json_body("Internal Server Error"))
            return
        ctype = header(request, b"content-type") or ""
        fields: dict[str, Any] = {}
        if body:
            if ctype.startswith("application/json"):  # M17: case-sensitive prefix
                try:
                    fields = decode_message(decode_body(body), whole=False)
                except DecodeError as exc:
                    record.count("post_errors")
                    self.send_json(400, json_body(str(exc)))
                    return
            elif not ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
                record.count("post_errors")
                self.send_json(415, json_body("Unsupported Media Type"))
                return
        msg = self.ctx.router.stamp(fields)
        record.count("posts")
        self.ctx.router.from_api(msg)  # M21: the router takes it before the answer goes out
        self.send_json(200, compact(msg) + b"\n")  # M20
