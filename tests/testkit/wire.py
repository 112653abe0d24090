"""The bytes a DC client receives, kept whole for the end-to-end tests.

``WireLog`` is what every witness of the hub's wire is: the bytes in arrival order, filled by a
reader thread, searched by the test with offsets (``since``) so that each check looks only at what
came after an action. ``WireTap`` fills one as a TCP relay in front of a real client (microdc2);
a raw-socket client fills one with what it reads itself. ``wait_for_match`` is the one wait on a
pattern in growing text (a log, a screen, a wire)."""

from __future__ import annotations

import re
import socket
import threading
import time
from typing import AnyStr, Callable, List, Optional


def wait_for_match(read: Callable[[], AnyStr], pattern: AnyStr, since: int = 0, timeout: float = 10.0,
                   flags: int = 0, what: str = "the text") -> re.Match[AnyStr]:
    """The first match of ``pattern`` in ``read()`` after offset ``since``, polled until ``timeout``;
    the assertion names ``what`` was searched and shows what it held."""
    compiled = re.compile(pattern, flags)
    deadline = time.monotonic() + timeout
    while True:
        found = compiled.search(read(), since)
        if found:
            return found
        assert time.monotonic() < deadline, f"{what} never had {pattern!r}; it had:\n{read()[since:]!r}"
        time.sleep(0.05)


class WireLog:
    """Bytes a client received, in order; one reader thread appends, any thread reads."""

    def __init__(self) -> None:
        self._data = bytearray()
        self._lock = threading.Lock()

    @property
    def received(self) -> bytes:
        """Everything received so far (a copy)."""
        with self._lock:
            return bytes(self._data)

    def keep(self, chunk: bytes) -> None:
        with self._lock:
            self._data += chunk

    def wait_for(self, pattern: bytes, since: int = 0, timeout: float = 30.0) -> re.Match[bytes]:
        """The first match of ``pattern`` in the received bytes after offset ``since`` (the timeout is
        generous: the suite runs on a loaded machine, and only a failure waits that long)."""
        return wait_for_match(lambda: self.received, pattern, since, timeout, what="the wire")


def relay(src: socket.socket, dst: Optional[socket.socket], log: Optional[WireLog]) -> None:
    """Copy ``src`` to ``dst`` (if any) until either side closes, keeping what passes in ``log`` (if
    any); then shut both down, so that the other end sees the close."""
    try:
        while data := src.recv(65536):
            if log is not None:
                log.keep(data)
            if dst is not None:
                dst.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (src, dst):
            if sock is None:
                continue
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class WireTap(WireLog):
    """A TCP relay on 127.0.0.1 for ONE client: whatever the hub sends it is kept in ``received``.
    Either side closing closes the other, so the client sees the hub go away."""

    def __init__(self, hub_port: int) -> None:
        super().__init__()
        self._hub_port = hub_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._socks: List[socket.socket] = []
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        try:
            client, _ = self._listener.accept()
            hub = socket.create_connection(("127.0.0.1", self._hub_port), timeout=5)
        except OSError:         # closed before a client came, or the hub is gone
            return
        hub.settimeout(None)
        self._socks += [client, hub]
        for src, dst, log in ((client, hub, None), (hub, client, self)):
            thread = threading.Thread(target=relay, args=(src, dst, log), daemon=True)
            self._threads.append(thread)
            thread.start()

    def close(self) -> None:
        try:
            self._listener.shutdown(socket.SHUT_RDWR)   # wakes a thread still waiting in accept()
        except OSError:
            pass
        self._listener.close()
        for sock in self._socks:
            sock.close()
        for thread in self._threads:
            thread.join(2)
