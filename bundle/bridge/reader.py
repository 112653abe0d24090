"""Matterbridge to the hub: the reader thread, over ``/api/websocket`` (``/api/stream`` if refused).

Why the WebSocket: it neither throttles nor takes messages out of the shared ring (M56-M57, M86),
unlike the stream (5 msg/s, competing readers, 4 lost per reconnect on v1.26.0: M34-M36) and
polling (lossy, M32-M33, never used). The client is ``websockets``' sync client: well kept, no
asyncio loop in the hub process, and it loads in every interpreter of a sub-interpreter hub (A24).
How it is used, after section P of the spec:
- no subprotocol and no compression offered (M65); no size limit on frames we receive (M87);
- the greeting is recognised by its content wherever it comes (M67, ``relay.is_greeting``);
- pings are answered by the library (only pongs keep us connected, M79), and our own pings every
  ``PING_EVERY`` s with a ``PING_TIMEOUT`` deadline find a dead or black-holed link; a torn frame
  never completes, so the same deadline ends it (M85);
- frames are read continuously on this thread and handed on at once (M85's 256-frame queue never
  fills on the server's side);
- after a gap (a connection that had received frames was lost), once the new connection has
  received its first frame, what Matterbridge routed meanwhile is read back from its ring
  (``ringread``), before any newer frame is handed on.
Nothing is sent over the WebSocket: client frames over 512 bytes kill it (M74); lines go by POST.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from vhctl_hub.bridge.backoff import Backoff
from vhctl_hub.bridge.link import Link, LinkReport
from vhctl_hub.bridge.poster import auth_refusal
from vhctl_hub.bridge.relay import is_greeting
from vhctl_hub.bridge.ringread import Recovery, router_time

PING_EVERY = 20.0
PING_TIMEOUT = 20.0
OPEN_TIMEOUT = 10.0
#: How often the reader looks at the stop flag and for changed settings, seconds.
SLICE = 0.5
#: The stream sends nothing while idle (M29): a read this long without a line reconnects, seconds.
STREAM_IDLE = 600.0
#: What ``!bridge status`` says about the fallback.
STREAM_LIMITS = ("the WebSocket was refused, so messages come over /api/stream: at most 5 per second, "
                 "and up to 4 lost at each reconnect on Matterbridge 1.26")

Deliver = Callable[[dict], None]


class Reader:
    """The reader thread's loop: connect, read until the link dies, back off, again, forever."""

    def __init__(self, link: Link, report: LinkReport, backoff: Backoff, deliver: Deliver,
                 stop: threading.Event, notice: Callable[[str], None],
                 recovery: Optional[Recovery] = None, on_join: Optional[Callable[[], None]] = None,
                 may_stream: Callable[[], bool] = lambda: True) -> None:
        self.link = link
        self.report = report
        self.backoff = backoff
        self.deliver = deliver
        self.stop = stop
        self._notice = notice
        self._recovery = recovery
        self._on_join = on_join
        #: Whether the stream fallback may be used now (not while another instance still reads: M35).
        self._may_stream = may_stream
        self._told: Optional[str] = None
        self._conn: Any = None
        #: Router time (Unix s) since which a gap may have left messages in the ring, or None.
        self.gap_since: Optional[float] = None
        #: Whether the current WebSocket has received a frame (from then on nothing routed is missed).
        self.joined = False
        self._last_stamp: Optional[str] = None

    def run(self) -> None:
        while not self.stop.is_set():
            generation = self.link.generation
            outcome, why = self._websocket()
            if outcome == "refused" and self._may_stream():
                outcome, why = self._stream()
            if self.stop.is_set():
                break
            if outcome == "changed" or self.link.generation != generation:
                self.backoff.reset()
                continue
            delay = self.backoff.cap if outcome == "auth" else self.backoff.next_delay()
            self.report.failed(f"receiving from Matterbridge: {why}", delay,
                               "auth_failed" if outcome == "auth" else "retrying")
            if why != self._told:
                self._told = why
                self._notice(f"cannot receive from Matterbridge: {why}")
            self._wait(delay, generation)
        self.report.state("stopped")

    def close(self) -> None:
        """Any thread: end a blocking read at once (the loop then sees the stop flag)."""
        conn = self._conn
        if conn is not None:
            try:
                sock = getattr(conn, "sock", None)  # the stream's socket: a shutdown wakes its readline,
                if sock is not None:                # and the reader closes it (http.client is not
                    sock.shutdown(socket.SHUT_RDWR)  # safe to close from another thread)
                else:
                    conn.close()
            except Exception:  # noqa: BLE001 - closing a dying connection may fail any way
                pass

    # ---------------------------------------------------------------- WebSocket
    def _websocket(self) -> tuple:
        link = self.link
        generation = link.generation
        self.report.state("connecting", transport="websocket")
        try:
            ws = connect(link.ws_url(), additional_headers=link.headers(), max_size=None,
                         compression=None, open_timeout=OPEN_TIMEOUT, ping_interval=PING_EVERY,
                         ping_timeout=PING_TIMEOUT, close_timeout=1.0, user_agent_header="vhctl-bridge")
        except InvalidStatus as exc:
            status, body = exc.response.status_code, exc.response.body or b""
            if auth_refusal(status, body):
                return "auth", f"Matterbridge refused the token (HTTP {status}); set it with !bridge token"
            return "refused", f"the WebSocket was refused (HTTP {status})"
        except Exception as exc:  # noqa: BLE001 - refused, reset, timeout, bad handshake: all retried
            return "retry", _describe(exc)
        self._conn = ws
        try:
            with ws:  # websockets wants its client used as a context manager; closes on the way out
                self.report.state("connected", transport="websocket", since=time.time())
                self.report.count("connects")
                self.backoff.reset()
                self._told = None
                while not self.stop.is_set() and link.generation == generation:
                    try:
                        frame = ws.recv(timeout=SLICE)
                    except TimeoutError:
                        frame = None
                    if frame is not None and not self.joined:
                        self._join()
                    if self.joined and self.gap_since is not None:
                        self._read_back()
                    if frame is not None:
                        self._frame(frame)
            return "changed", ""
        except ConnectionClosed as exc:
            self.report.count("disconnects")
            return "retry", f"the connection was lost ({_describe(exc)})"
        finally:
            self._conn = None
            self._left()

    def _join(self) -> None:
        """The first frame of a connection: from now on every routed message reaches us (M67, M83)."""
        self.joined = True
        if self._on_join is not None:
            self._on_join()

    def _read_back(self) -> None:
        """Connected after a gap: what was routed meanwhile, from the ring, before newer frames."""
        since, self.gap_since = self.gap_since, None
        if self._recovery is not None:
            self._recovery.run(since)

    def gap_start(self) -> Optional[float]:
        """Router time since which messages may wait in the ring for us: now if connected."""
        return router_time(self._last_stamp) if self.joined else self.gap_since

    def _left(self) -> None:
        """A WebSocket that had frames ended: a gap starts at the last router time seen."""
        if self.joined and self.gap_since is None:
            self.gap_since = router_time(self._last_stamp)
        self.joined = False

    def _frame(self, frame: Any) -> None:
        if isinstance(frame, bytes):  # the server never sends binary frames (M68)
            self.report.count("malformed")
            return
        try:
            msg = json.loads(frame)
        except ValueError:
            msg = None
        if not isinstance(msg, dict):
            self.report.count("malformed")
            return
        stamp = msg.get("timestamp")
        if isinstance(stamp, str):
            self._last_stamp = stamp
        if is_greeting(msg):
            self.report.state("connected", greeted=True)
            return
        self.deliver(msg)

    # ---------------------------------------------------------------- stream fallback
    def _stream(self) -> tuple:
        """GET /api/stream with http.client (its buffered readline), one JSON object per line (M27)."""
        link = self.link
        generation = link.generation
        parts = urlsplit(link.url)
        factory = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        conn = factory(parts.netloc, timeout=OPEN_TIMEOUT)
        self._conn = conn
        self.report.state("connecting", transport="stream", limits=STREAM_LIMITS)
        try:
            conn.request("GET", f"{parts.path}/api/stream", headers=link.headers())
            resp = conn.getresponse()
            if resp.status != 200:
                body = resp.read(200)
                if auth_refusal(resp.status, body):
                    return "auth", f"Matterbridge refused the token (HTTP {resp.status}); set it with !bridge token"
                return "retry", f"neither the WebSocket nor the stream is served (HTTP {resp.status})"
            if conn.sock is not None:
                conn.sock.settimeout(STREAM_IDLE)
            self.report.state("connected", transport="stream", since=time.time(), limits=STREAM_LIMITS)
            self.report.count("connects")
            self.backoff.reset()
            while not self.stop.is_set() and link.generation == generation:
                line = resp.readline()
                if not line:  # EOF, with or without the final chunk (M53)
                    self.report.count("disconnects")
                    return "retry", "the stream ended"
                self._frame(line.decode("utf-8", "replace"))
            return "changed", ""
        except (OSError, http.client.HTTPException) as exc:
            if self.stop.is_set():
                return "changed", ""
            return "retry", _describe(exc)
        finally:
            self._conn = None
            conn.close()

    def _wait(self, delay: float, generation: int) -> None:
        deadline = time.monotonic() + delay
        while not self.stop.is_set() and self.link.generation == generation:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.stop.wait(min(SLICE, left))


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]
