"""GET /api/websocket: melody and gorilla as v1.26.0 vendors them, over wsproto (section P).

The upgrade answers with the bare 101 of M62 (written here, so no extra header slips in) and the
greeting right behind it, in the same write. A session then runs four parts:

- the reader: client pings are answered at once (M77), pongs move the read deadline (M79), text
  messages are counted in payload bytes and closed with 1009 and no reason past the limit (M74),
  decoded ones are looped back to the other clients and routed (M70, M72), undecodable ones are
  dropped with a log line only (M71), binary ones ignored (M73), a client close is echoed with its
  code only (M76);
- the writer: frames from a queue of ``client_queue`` (beyond it they are dropped for this client
  only, M85), written through a socket whose user-space buffer is kept empty so that the kernel
  buffers, one frame "in write" and the queue are all there is, as in Go. A frame not written within
  ``write_timeout`` leaves the client a zombie: half a frame on the wire, nothing more (M85);
- the pinger: an empty ping every ``ping_interval`` from the connection's start (M78);
- the deadline: ``pong_timeout`` after the start or the last pong, the socket is dropped with no
  close frame (M79).
"""

from __future__ import annotations

import asyncio
import base64
import collections
import hashlib
import logging
import socket
from typing import TYPE_CHECKING

import h11
from wsproto import ConnectionType
from wsproto.connection import Connection, ConnectionState
from wsproto.events import BytesMessage, CloseConnection, Event, Ping, Pong, TextMessage

from vhctl.sim.matterbridge.message import DecodeError, compact, decode_message, greeting

if TYPE_CHECKING:
    from vhctl.sim.matterbridge.context import Context
    from vhctl.sim.matterbridge.http import HttpConnection

log = logging.getLogger("vhctl.sim.matterbridge")

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455
MESSAGE_TOO_BIG = 1009
WRITE_CHUNK = 16384  # what one write hands the kernel; a stalled write stops between chunks
READ_SIZE = 65536


def _tokens(request: h11.Request, name: bytes) -> set[str]:
    values = [v.decode("latin-1").lower() for k, v in request.headers if k == name]
    return {t.strip() for v in values for t in v.split(",")}


def accept_key(request: h11.Request) -> bytes | None:
    """Sec-WebSocket-Accept for a valid upgrade request, None for gorilla's 400 (M64).

    Checked: ``Connection: upgrade``, ``Upgrade: websocket``, version 13, a key. Not checked, as in
    gorilla: the key's format, Origin, header case (M64).
    """
    if "upgrade" not in _tokens(request, b"connection") or "websocket" not in _tokens(request, b"upgrade"):
        return None
    if _tokens(request, b"sec-websocket-version") != {"13"}:
        return None
    key = next((v.strip() for k, v in request.headers if k == b"sec-websocket-key"), b"")
    if not key:
        return None
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


async def upgrade(http: HttpConnection, request: h11.Request) -> bool:
    """Upgrade and run the session (True), or answer gorilla's 400 and keep the connection (False)."""
    accept = accept_key(request)
    if accept is None:
        http.send(400, [("Content-Type", "text/plain; charset=utf-8"), ("Sec-Websocket-Version", "13"),
                        ("X-Content-Type-Options", "nosniff")], b"Bad Request\n")
        return False
    trailing, _ = http.conn.trailing_data
    await Session(http.ctx, http.reader, http.writer, trailing).run(accept)
    return True


class Session:
    """One WebSocket client of our account."""

    def __init__(self, ctx: Context, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 trailing: bytes) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.reader = reader
        self.writer = writer
        self.ws = Connection(ConnectionType.SERVER, trailing_data=trailing)
        self.loop = asyncio.get_running_loop()
        self.started = self.last_pong = self.loop.time()
        self.queue: collections.deque[bytes] = collections.deque()
        self.wake = asyncio.Event()
        self.ping_due = False
        self.zombie = False
        self.pending_greeting: bytes | None = None
        self._parts: list[str] = []
        self._size = 0

    # --- called by the router, on the loop thread

    def enqueue(self, frame: bytes) -> None:
        """Queue one message payload; dropped silently past the queue's size or for a zombie (M85)."""
        if self.zombie or len(self.queue) >= self.settings.client_queue:
            self.ctx.record.count("ws_dropped")
            return
        self.queue.append(frame)
        self._flush_greeting()
        self.wake.set()

    def _flush_greeting(self) -> None:
        """A late greeting follows the first message that slipped in before it (M67)."""
        if self.pending_greeting is not None:
            self.queue.append(self.pending_greeting)
            self.pending_greeting = None
            self.wake.set()

    # --- the session

    async def run(self, accept: bytes) -> None:
        settings, router = self.settings, self.ctx.router
        sock = self.writer.get_extra_info("socket")
        if settings.ws_sndbuf and sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, settings.ws_sndbuf)
        self.writer.transport.set_write_buffer_limits(high=0)
        head = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        hello = compact(greeting())
        self.ctx.record.count("ws_connects")
        late_timer = None
        if settings.late_greeting and self.ctx.rng.random() < settings.late_greeting:
            self.writer.write(head)
            self.pending_greeting = hello
            late_timer = self.loop.call_later(settings.late_greeting_window, self._flush_greeting)
        else:
            self.writer.write(head + self.ws.send(TextMessage(data=hello.decode())))
        router.clients.append(self)  # from here on every routed message reaches us (M83)
        helpers = [asyncio.create_task(self._writer()), asyncio.create_task(self._pinger())]
        ending = [asyncio.create_task(self._reader()), asyncio.create_task(self._deadline())]
        try:
            done, _ = await asyncio.wait(ending, return_when=asyncio.FIRST_COMPLETED)
            if ending[1] in done:
                self.writer.transport.abort()  # M79: FIN, no close frame
        finally:
            if self in router.clients:
                router.clients.remove(self)
            if late_timer is not None:
                late_timer.cancel()
            for task in helpers + ending:
                task.cancel()

    async def _reader(self) -> None:
        """Client frames until EOF, a close, or a protocol error."""
        while True:
            for event in self.ws.events():
                if not await self._handle(event):
                    return
            try:
                data = await self.reader.read(READ_SIZE)
            except ConnectionError:
                return
            if not data:
                return
            self.ws.receive_data(data)

    async def _handle(self, event: Event) -> bool:
        """React to one client event; False ends the session."""
        if isinstance(event, (TextMessage, BytesMessage)):
            data = event.data
            self._size += len(data.encode("utf-8")) if isinstance(data, str) else len(data)
            if self._size > self.settings.max_client_frame:  # M74: payload bytes, fragments summed
                self.ctx.record.count("ws_too_big")
                self.writer.write(self.ws.send(CloseConnection(code=MESSAGE_TOO_BIG)))
                self.writer.close()
                return False
            if isinstance(data, str):
                self._parts.append(data)
            if event.message_finished:
                text, self._parts, self._size = "".join(self._parts), [], 0
                if isinstance(event, TextMessage):  # M73: binary messages are ignored
                    self._route(text)
        elif isinstance(event, Ping):
            await self.ctx.faults.wait_unhung()
            self.writer.write(self.ws.send(event.response()))  # M77, at once
        elif isinstance(event, Pong):
            self.last_pong = self.loop.time()  # M79: only pongs keep a client alive
        elif isinstance(event, CloseConnection):
            if self.ws.state is ConnectionState.REMOTE_CLOSING:
                reply = CloseConnection(code=event.code)  # M76: the code, never the reason
            else:
                reply = CloseConnection(code=event.code, reason=event.reason)  # M75: protocol error
            self.writer.write(self.ws.send(reply))
            self.writer.close()
            return False
        return True

    def _route(self, text: str) -> None:
        """A whole client text message: decoded strictly, looped back, then routed (M70-M72)."""
        try:
            fields = decode_message(text, whole=True)
        except DecodeError:
            self.ctx.record.count("ws_undecodable")
            log.error("failed to decode message from byte[] '%s'", text)
            return
        router = self.ctx.router
        msg = router.stamp(fields)
        router.loop_back(msg, self)
        router.from_api(msg)

    async def _writer(self) -> None:
        """Pings and queued frames, in order, one write at a time; a stall makes a zombie (M85)."""
        while True:
            await self.wake.wait()
            self.wake.clear()
            await self.ctx.faults.wait_unhung()
            while self.ping_due or self.queue:
                payload = None
                if self.ping_due:
                    self.ping_due = False
                    data = bytes(self.ws.send(Ping()))
                else:
                    payload = self.queue.popleft()
                    data = bytes(self.ws.send(TextMessage(data=payload.decode())))
                    self.ctx.record.count("ws_sent")
                if not await self._write(data):
                    self.zombie = True
                    self.ctx.record.count("ws_zombies")
                    self.queue.clear()
                    return
                if payload is not None:
                    self.ctx.record.add_handed("ws", payload)

    async def _write(self, data: bytes) -> bool:
        """Hand ``data`` to the kernel within ``write_timeout``; False when it could not."""
        deadline = self.loop.time() + self.settings.write_timeout
        for start in range(0, len(data), WRITE_CHUNK):
            self.writer.write(data[start:start + WRITE_CHUNK])
            if not self.writer.transport.get_write_buffer_size():
                continue  # the kernel took it all
            # asyncio.wait, not wait_for: 3.11's wait_for loses a cancel that races the drain
            drain = asyncio.ensure_future(self.writer.drain())
            try:
                done, _ = await asyncio.wait({drain}, timeout=max(0.0, deadline - self.loop.time()))
            finally:
                drain.cancel()
            if not done or drain.exception() is not None:
                return False
        return True

    def cut(self) -> None:
        """Our side of the network goes away: the socket is dropped, no close frame (as M80)."""
        self.writer.transport.abort()

    async def _pinger(self) -> None:
        """An empty ping every ``ping_interval`` counted from the connection's start (M78)."""
        beat = 1
        while True:
            await asyncio.sleep(max(0.0, self.started + beat * self.settings.ping_interval - self.loop.time()))
            beat += 1
            self.ping_due = True
            self.wake.set()

    async def _deadline(self) -> None:
        """Return when no pong came for ``pong_timeout`` (and not before that long after connect)."""
        while True:
            due = max(self.started, self.last_pong) + self.settings.pong_timeout
            left = due - self.loop.time()
            if left <= 0 and not self.ctx.faults.hung:  # a hung process enforces nothing
                self.ctx.record.count("ws_timeouts")
                return
            await asyncio.sleep(max(left, 0.02))
