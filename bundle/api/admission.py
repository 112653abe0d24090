"""Who gets served when more clients come than the API should hold: connection and request admission.

uvicorn's own ``limit_concurrency`` counts connections and requests together and answers every request
with a plain-text 503 once it is reached, ``/health`` included; idle connections count against it and
are never timed out before their first request. So 256 idle sockets (a 20-line script) switched the
API off. Here instead:

- A connection with no request in progress (none sent yet, headers trickling in, or idle after a
  response) is closed after ``Limits.idle_timeout`` seconds: idle and half-open sockets cost nothing for long.
- When a new connection would pass a cap (per client address, and in all), the oldest idle
  connection of that client (or of anyone, for the total) makes room for it; a connection younger
  than ``Limits.grace`` is never evicted (it may not have been read yet). Only when none can go is
  the new one refused, with a JSON 503 and ``Retry-After``. Honest clients send their request at
  once, so they are busy or young, never the ones evicted.
- A response the client has not read for ``Limits.write_stall_timeout`` seconds (a slow or stuck reader) ends
  its connection.
- Requests in progress are capped (``Limits.max_requests``); ``/health`` has a reserve of its
  own, so a monitor still gets its answer while the general limit is hit.

Everything here runs on the server's event loop thread (no locks). The protocol attribute read is
``cycle`` (the request/response cycle in progress, or None) of uvicorn's HTTP protocols, h11 and
httptools alike.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Dict, Optional

#: What an overloaded client is told to wait, seconds.
RETRY_AFTER = 1


@dataclass(frozen=True)
class Limits:
    """The bounds (the README's Reliability section gives the reasons)."""

    #: Connections from one client address (every local client shares 127.0.0.1).
    per_client: int = 256
    #: Connections in all (each is a file descriptor of the hub process).
    max_connections: int = 1024
    #: Seconds a new connection has to send its request before it may be evicted to make room: in a
    #: burst of connects the server accepts many before it reads the first request.
    grace: float = 2.0
    #: Seconds a connection may stay without a request in progress.
    idle_timeout: float = 10.0
    #: Seconds a response may wait for its client to read before the connection ends.
    write_stall_timeout: float = 20.0
    #: Requests in progress at once (event streams included); more get 503.
    max_requests: int = 256
    #: Extra requests in progress that only /health may use.
    health_reserve: int = 32
    #: How often idle and stalled connections are looked for, seconds.
    sweep_every: float = 1.0


BUSY_BODY = b'{"detail":"the API is busy; retry in a second"}'
REFUSAL = (b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: "
           + str(RETRY_AFTER).encode() + b"\r\ncontent-length: " + str(len(BUSY_BODY)).encode()
           + b"\r\nconnection: close\r\n\r\n" + BUSY_BODY)


class _Watch:
    """What the gate remembers of one connection between sweeps."""

    __slots__ = ("protocol", "client", "opened_at", "idle_since", "cycle", "stalled_since", "buffered")

    def __init__(self, protocol: Any, client: str, now: float) -> None:
        self.protocol = protocol
        self.client = client
        self.opened_at = now
        self.idle_since: Optional[float] = now
        self.cycle: Any = None
        self.stalled_since: Optional[float] = None
        self.buffered = 0

    def busy(self) -> bool:
        cycle = getattr(self.protocol, "cycle", None)
        return cycle is not None and not getattr(cycle, "response_complete", True)

    def transport(self) -> Any:
        return getattr(self.protocol, "transport", None)


class ConnectionGate:
    """The connections of one server run; ``protocol(cls)`` makes uvicorn's protocol report to it."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        #: Open connections in the order they came (dicts keep it): the oldest idle is found first.
        self._open: Dict[int, _Watch] = {}
        self._per_client: Dict[str, int] = {}
        self._sweeping = False
        #: Counters: connections seen, refused, evicted, timed out (idle), ended for not reading.
        self.counts = {"seen": 0, "refused": 0, "evicted": 0, "idle_closed": 0, "stalled_closed": 0}

    def protocol(self, base: type) -> type:
        """A subclass of uvicorn's HTTP protocol class ``base`` that is admitted by this gate."""
        gate = self

        class Admitted(base):  # type: ignore[misc, valid-type]
            def connection_made(self, transport: Any) -> None:  # asyncio's protocol API
                super().connection_made(transport)
                gate.opened(self, transport)

            def connection_lost(self, exc: Optional[BaseException]) -> None:
                gate.closed(self)
                super().connection_lost(exc)

        Admitted.__name__ = f"Admitted{base.__name__}"
        return Admitted

    @property
    def open_connections(self) -> int:
        return len(self._open)

    def opened(self, protocol: Any, transport: Any) -> None:
        peer = transport.get_extra_info("peername")
        client = str(peer[0]) if isinstance(peer, tuple) and peer else "?"
        now = time.monotonic()
        self.counts["seen"] += 1
        if self._per_client.get(client, 0) >= self.limits.per_client and not self._evict(client, now):
            self._refuse(transport)
            return
        if len(self._open) >= self.limits.max_connections and not self._evict(None, now):
            self._refuse(transport)
            return
        self._open[id(protocol)] = _Watch(protocol, client, now)
        self._per_client[client] = self._per_client.get(client, 0) + 1
        if not self._sweeping:
            self._sweeping = True
            protocol.loop.call_later(self.limits.sweep_every, self._sweep, protocol.loop)

    def closed(self, protocol: Any) -> None:
        self._forget(id(protocol))

    def _forget(self, key: int) -> None:
        watch = self._open.pop(key, None)
        if watch is not None:
            left = self._per_client[watch.client] - 1
            if left:
                self._per_client[watch.client] = left
            else:
                del self._per_client[watch.client]

    def _refuse(self, transport: Any) -> None:
        self.counts["refused"] += 1
        transport.write(REFUSAL)
        transport.close()

    def _evict(self, client: Optional[str], now: float) -> bool:
        """Close the oldest idle connection (of ``client``, or of anyone) past its grace; False when
        there is none.

        The oldest come first in ``_open`` and are nearly always idle ones (honest clients send their
        request at once), so under a flood this looks at a few connections, not at all of them."""
        settled = now - self.limits.grace
        for watch in self._open.values():
            if watch.opened_at > settled:
                return False  # the rest are younger still
            if (client is None or watch.client == client) and not watch.busy():
                self.counts["evicted"] += 1
                self._end(watch, abort=False)
                return True
        return False

    def _end(self, watch: _Watch, abort: bool) -> None:
        self._forget(id(watch.protocol))
        transport = watch.transport()
        if transport is not None and not transport.is_closing():
            transport.abort() if abort else transport.close()

    def _sweep(self, loop: Any) -> None:
        now = time.monotonic()
        for watch in list(self._open.values()):
            if watch.busy():
                watch.idle_since = None
                self._check_stall(watch, now)
                continue
            cycle = getattr(watch.protocol, "cycle", None)
            if watch.idle_since is None or cycle is not watch.cycle:
                watch.idle_since, watch.cycle, watch.stalled_since = now, cycle, None
            elif now - watch.idle_since >= self.limits.idle_timeout:
                self.counts["idle_closed"] += 1
                self._end(watch, abort=False)
        if self._open:
            loop.call_later(self.limits.sweep_every, self._sweep, loop)
        else:
            self._sweeping = False

    def _check_stall(self, watch: _Watch, now: float) -> None:
        transport = watch.transport()
        buffered = transport.get_write_buffer_size() if transport is not None else 0
        if buffered == 0 or buffered < watch.buffered:
            watch.stalled_since, watch.buffered = None, buffered
            return
        watch.buffered = buffered
        if watch.stalled_since is None:
            watch.stalled_since = now
        elif now - watch.stalled_since >= self.limits.write_stall_timeout:
            self.counts["stalled_closed"] += 1
            self._end(watch, abort=True)


class RequestLimit:
    """ASGI middleware: at most ``limit`` requests in progress, ``/health`` with a reserve of its own."""

    def __init__(self, app: Any, limits: Limits) -> None:
        self.app = app
        self.limits = limits
        self.in_progress = 0
        self.refused = 0

    async def __call__(self, scope: Dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        room = self.limits.max_requests + (self.limits.health_reserve if scope.get("path") == "/health" else 0)
        if self.in_progress >= room:
            self.refused += 1
            await send({"type": "http.response.start", "status": 503,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"retry-after", str(RETRY_AFTER).encode()),
                                    (b"content-length", str(len(BUSY_BODY)).encode())]})
            await send({"type": "http.response.body", "body": BUSY_BODY})
            return
        self.in_progress += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_progress -= 1
