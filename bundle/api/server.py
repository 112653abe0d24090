"""One uvicorn server on a thread of its own, that really stops.

The reference script's `!api stop` left the port listening (A10): its thread was never told to end.
Here the listening socket is bound by us before uvicorn starts (so "port in use" is a clear error at
once, and port 0 resolves to the port really bound), uvicorn runs with ``Server.run(sockets=[sock])``
on its own thread, and stopping sets ``should_exit``, ends the event streams, joins the thread and
closes the socket. Who is served under a flood is ``admission``'s business (uvicorn's own
``limit_concurrency`` is off: it answered every request, ``/health`` too, with 503 while idle sockets
were held). uvicorn gets no logging config of its own (``log_config=None``): it must not
reconfigure the logging of a process that is the hub (single mode shares it with every script).

The GIL: the hub thread needs it for every hook, and a busy server thread gives it up only when
another thread has waited for the interpreter's switch interval (5 ms by default). While serving, the
interval is lowered to ``SWITCH_INTERVAL`` so a hook waits about 1 ms at most for a busy API (measured
in bench/api_bench.py); the previous value comes back when the server stops. This is process-wide:
``effects.SWITCH_INTERVAL`` makes it.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import threading
import time
from typing import Any, Callable, Optional

from vhctl_hub.api.admission import ConnectionGate, Limits, RequestLimit
from vhctl_hub.effects import LoweredSwitchInterval

#: How long a start may take until the server accepts connections, seconds.
START_TIMEOUT = 15.0
#: How long a stop waits for the server thread, seconds (the runtime's bound is ~2 s per component).
STOP_TIMEOUT = 1.8
BACKLOG = 512
#: Longest GIL hold of a busy thread while the API serves, seconds (CPython's default is 0.005).
SWITCH_INTERVAL = 0.001


class ServerError(RuntimeError):
    """The server could not start; ``str()`` is one line for the operator."""


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (0 = any free port); ServerError with the reason."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise ServerError(f"cannot use api.host {host!r}: {exc.strerror}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restart at once despite TIME_WAIT
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise ServerError(describe_bind_error(host, port, exc)) from None
    return sock


def describe_bind_error(host: str, port: int, exc: OSError) -> str:
    """What a failed bind means, in one line."""
    if exc.errno == errno.EADDRINUSE:
        return f"port {port} on {host} is already in use by another program; choose another port"
    if exc.errno == errno.EACCES:
        return f"port {port} needs root (ports below 1024 are privileged); choose a port from 1024 to 65535"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{host} is not an address of this machine (api.host)"
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"


def url_of(host: str, port: int) -> str:
    """``http://host:port`` (IPv6 hosts in brackets)."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class ApiServer:
    """Start/stop from any thread except the hub's (both block for up to a few seconds).

    ``stack`` is the ``webstack.WebStack`` whose uvicorn module and HTTP protocol class are used."""

    def __init__(self, start_thread: Callable[..., threading.Thread], stack: Any,
                 limits: Optional[Limits] = None) -> None:
        self._start_thread = start_thread
        self._limits = limits or Limits()
        self._stack = stack
        self._lock = threading.Lock()
        self._server: Any = None
        self._thread: Optional[threading.Thread] = None
        self._sock: Optional[socket.socket] = None
        #: Set when the current (or last) run stops; event streams of that run watch it.
        self.stopping = threading.Event()
        self.host = ""
        self.port: Optional[int] = None
        self.started_at: Optional[float] = None
        self.failure: Optional[str] = None
        self._interval: Optional[LoweredSwitchInterval] = None
        #: The admission of the current (or last) run: connections and requests in progress.
        self.gate: Optional[ConnectionGate] = None
        self.requests: Optional[RequestLimit] = None

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    @property
    def url(self) -> Optional[str]:
        return url_of(self.host, self.port) if self.running and self.port is not None else None

    def start(self, app: Any, host: str, port: int) -> str:
        """Serve the ASGI ``app`` on ``host:port``; returns the URL once it accepts connections."""
        uvicorn = self._stack.uvicorn
        with self._lock:
            if self.running:
                raise ServerError(f"already running on {self.url}")
            sock = bind(host, port)
            gate, limit = ConnectionGate(self._limits), RequestLimit(app, self._limits)
            try:
                config = uvicorn.Config(
                    limit, loop=asyncio.SelectorEventLoop, http=gate.protocol(self._stack.http_protocol),
                    ws="none", lifespan="off",
                    log_config=None, log_level="warning", access_log=False, server_header=False,
                    proxy_headers=False, limit_concurrency=None, timeout_graceful_shutdown=1,
                    backlog=BACKLOG)
                server = uvicorn.Server(config)
            except Exception:
                sock.close()
                raise
            self._server, self._sock, self.stopping = server, sock, threading.Event()
            self.gate, self.requests = gate, limit
            self.host, self.port, self.failure = host, sock.getsockname()[1], None
            self._thread = self._start_thread(self._serve, "http", server, sock)
            deadline = time.monotonic() + START_TIMEOUT
            while not server.started:
                if not self._thread.is_alive() or time.monotonic() > deadline:
                    self._halt()
                    raise ServerError(f"the HTTP server did not start: {self.failure or 'timed out'}")
                time.sleep(0.01)
            self.started_at = time.time()
            self._interval = LoweredSwitchInterval(SWITCH_INTERVAL)
            return url_of(host, self.port)

    def stop(self) -> bool:
        """Stop serving and free the port; False when it was not running."""
        with self._lock:
            was_running = self.running
            self._halt()
            return was_running

    def _halt(self) -> None:
        server, thread = self._server, self._thread
        self.stopping.set()
        if server is not None:
            server.should_exit = True
        if thread is not None and thread is not threading.current_thread():
            thread.join(STOP_TIMEOUT)
            if thread.is_alive() and server is not None:
                server.force_exit = True
                thread.join(STOP_TIMEOUT)
        if self._sock is not None:
            self._sock.close()
        if self._interval is not None:
            self._interval.undo()
        self._interval = None
        self._server = self._thread = self._sock = None
        self.started_at = None

    def _serve(self, server: Any, sock: socket.socket) -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # noqa: BLE001 - SystemExit too: uvicorn exits on startup failure
            self.failure = f"{type(exc).__name__}: {exc}"
        finally:
            sock.close()
