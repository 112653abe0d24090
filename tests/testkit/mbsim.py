"""Raw loopback clients for the Matterbridge stand-in's tests: bytes exactly as a peer sees them.

``RawHttp`` reads whole responses off a socket; ``RawWs`` does the upgrade by hand, sends masked
frames of any shape and parses every server frame, control frames included, and never answers a
ping unless told to (the spec's own raw client behaved the same, section P).
"""

from __future__ import annotations

import json
import os
import socket
import struct
import time
from typing import Any

TOKEN = "hubtoken"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SAMPLE_KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455's sample key (M62)
TIMEOUT = 10.0  # generous: the suite runs on a loaded 2-core machine


def strip_date(raw: bytes) -> bytes:
    """A response with its Date header's value blanked, so bytes can be compared exactly."""
    lines = raw.split(b"\r\n")
    return b"\r\n".join(b"Date: *" if line.startswith(b"Date: ") else line for line in lines)


class RawHttp:
    """One TCP connection; ``request`` sends bytes, ``response`` reads one Content-Length response."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def request(self, method: str, path: str, headers: dict[str, str] | None = None,
                body: bytes = b"") -> bytes:
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        for name, value in (headers or {}).items():
            head += f"{name}: {value}\r\n"
        if body:
            head += f"Content-Length: {len(body)}\r\n"
        self.send(head.encode("latin-1") + b"\r\n" + body)
        return self.response(head_only=method == "HEAD")

    def read_until(self, marker: bytes) -> bytes:
        while marker not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError(self.buf)
            self.buf += data
        head, _, self.buf = self.buf.partition(marker)
        return head + marker

    def read_exactly(self, n: int) -> bytes:
        while len(self.buf) < n:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError(self.buf)
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def response(self, head_only: bool = False) -> bytes:
        head = self.read_until(b"\r\n\r\n")
        if head_only:
            return head
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        return head + self.read_exactly(length)

    def read_to_eof(self) -> bytes:
        """Everything until the server closes (raises socket.timeout if it never does)."""
        while True:
            data = self.sock.recv(65536)
            if not data:
                out, self.buf = self.buf, b""
                return out
            self.buf += data

    def close(self) -> None:
        self.sock.close()


def status(raw: bytes) -> int:
    return int(raw.split(b" ", 2)[1])


def body(raw: bytes) -> bytes:
    return raw.partition(b"\r\n\r\n")[2]


class RawWs(RawHttp):
    """A hand-made WebSocket client over ``RawHttp``: exact frames both ways."""

    def __init__(self, port: int, headers: dict[str, str] | None = None, rcvbuf: int | None = None,
                 upgrade: bool = True) -> None:
        if rcvbuf is None:
            super().__init__(port)
        else:
            self.sock = socket.socket()
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self.sock.settimeout(TIMEOUT)
            self.sock.connect(("127.0.0.1", port))
            self.buf = b""
        self.head = b""
        if upgrade:
            self.head = self.upgrade(headers if headers is not None else AUTH)

    def upgrade(self, headers: dict[str, str]) -> bytes:
        lines = ["GET /api/websocket HTTP/1.1", "Host: 127.0.0.1", "Upgrade: websocket",
                 "Connection: Upgrade", f"Sec-WebSocket-Key: {SAMPLE_KEY}", "Sec-WebSocket-Version: 13"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode())
        return self.read_until(b"\r\n\r\n")

    def frame(self, opcode: int, payload: bytes, fin: bool = True, mask: bool = True) -> None:
        """Send one frame (masked, as a client must, unless told otherwise)."""
        first = (0x80 if fin else 0) | opcode
        n = len(payload)
        bit = 0x80 if mask else 0
        if n < 126:
            head = struct.pack("!BB", first, bit | n)
        elif n < 65536:
            head = struct.pack("!BBH", first, bit | 126, n)
        else:
            head = struct.pack("!BBQ", first, bit | 127, n)
        if mask:
            key = os.urandom(4)
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
            head += key
        self.send(head + payload)

    def text(self, value: Any) -> None:
        self.frame(0x1, value if isinstance(value, bytes) else json.dumps(value).encode())

    def recv_frame(self) -> tuple[int, bytes, bytes]:
        """(opcode, payload, raw header) of the next server frame; EOFError at the end."""
        head = self.read_exactly(2)
        n = head[1] & 0x7F
        if n == 126:
            ext = self.read_exactly(2)
            head += ext
            n = struct.unpack("!H", ext)[0]
        elif n == 127:
            ext = self.read_exactly(8)
            head += ext
            n = struct.unpack("!Q", ext)[0]
        return head[0] & 0x0F, self.read_exactly(n), head

    def recv_data(self) -> dict[str, Any]:
        """The next text frame's JSON, skipping (and not answering) pings."""
        while True:
            opcode, payload, _ = self.recv_frame()
            if opcode == 0x1:
                return json.loads(payload)
            assert opcode == 0x9, (opcode, payload)


def wait_eof(sock: socket.socket, timeout: float = TIMEOUT) -> bytes:
    """Read until EOF; everything received on the way."""
    sock.settimeout(timeout)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = sock.recv(65536)
        if not data:
            return out
        out += data
    raise TimeoutError("no EOF")
