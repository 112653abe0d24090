"""Helpers for the hub's own tests: ``RecordingPlugin``, a minimal stand-in for
``vhctl.sim.plugin.Plugin`` that records every hook call and answers what the test told it to (so the
hub's event flow can be checked on its own), and ``RawClient``, a bare NMDC client over a socket."""

from __future__ import annotations

import re
import socket
import threading
import time
from typing import Any, Callable, Union

from vhctl.sim import nmdc

Answer = Union[bool, Callable[..., bool]]


class RecordingPlugin:
    """Records ``(name, args)`` for each hook; ``answers[name]`` (a bool or a function of the args)
    decides the result, default True (allow)."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.calls: list[tuple[str, tuple]] = []
        self.answers: dict[str, Answer] = {}
        self.threads: set[int] = set()
        self.closed = False

    def _answer(self, name: str, args: tuple) -> bool:
        self.threads.add(threading.get_ident())
        self.calls.append((name, args))
        answer = self.answers.get(name, True)
        return bool(answer(*args)) if callable(answer) else answer

    def hook(self, name: str, *args: Any) -> bool:
        return self._answer(name, args)

    def operator_command(self, nick: str, full: str) -> bool:
        return self._answer("OnOperatorCommand", (nick, full))

    def close(self) -> None:
        self.closed = True

    def names(self, exclude: tuple[str, ...] = ("OnTimer",)) -> list[str]:
        return [n for n, _a in self.calls if n not in exclude]

    def of(self, name: str) -> list[tuple]:
        return [a for n, a in self.calls if n == name]


class RawClient:
    """A bare NMDC client over a real socket: exact bytes in and out."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""

    def send(self, data: bytes | str) -> None:
        self.sock.sendall(data.encode("latin-1") if isinstance(data, str) else data)

    def read_until(self, needle: bytes, timeout: float = 5.0) -> bytes:
        """Everything up to and including ``needle``; the rest stays buffered."""
        deadline = time.monotonic() + timeout
        while needle not in self.buf:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(f"closed before {needle!r}; got {self.buf!r}")
            self.buf += chunk
        cut = self.buf.index(needle) + len(needle)
        out, self.buf = self.buf[:cut], self.buf[cut:]
        return out

    def read_to_eof(self, timeout: float = 5.0) -> bytes:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.sock.recv(65536)
            if not chunk:
                out, self.buf = self.buf, b""
                return out
            self.buf += chunk
        raise TimeoutError(f"still open; got {self.buf!r}")

    def handshake(self, nick: str, supports: str = "NoGetINFO NoHello UserIP2 TTHSearch ZPipe0 "
                  "HubTopic ") -> bytes:
        """Read $Lock, answer $Supports/$Key/$ValidateNick; returns the $Lock line."""
        lock = self.read_until(b"|")
        assert re.fullmatch(rb"\$Lock EXTENDEDPROTOCOL_NMDC_\d{4} Pk=Verlihub 1\.7\.0\.0\|", lock)
        key = nmdc.lock_to_key(nmdc.lock_token(lock[:-1].decode("latin-1")))
        self.send(f"$Supports {supports}|$Key {key}|$ValidateNick {nick}|")
        return lock

    def read_login(self) -> bytes:
        """After the client's MyINFO: everything up to the end of the nick list, which comes after
        the banner and the "Your information" block (A15)."""
        got = self.read_until(b"<Verlihub> Your information:")
        got += self.read_until(b"\r\n|")
        got += self.read_until(b"$OpList ")
        return got + self.read_until(b"|")

    def close(self) -> None:
        self.sock.close()
