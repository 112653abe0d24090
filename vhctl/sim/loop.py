"""The hub's one main thread: a selectors loop, the periodic timer and a thread-safe hand-off.

Verlihub is single-threaded: socket I/O, protocol parsing, the timer and every plugin hook run on one
thread (F24, F36, F39). This loop is that thread. Other threads (tests, the demo, script threads that
behave) reach it only through ``call``/``call_soon``, which queue work and wake the loop through a
socketpair.

The timer fires when ``period`` seconds have passed since the previous tick STARTED; a tick that
comes late is not made up for (ticks are skipped, never queued: F36, A8).
"""

from __future__ import annotations

import heapq
import itertools
import queue
import selectors
import socket
import threading
import time
from concurrent.futures import Future
from typing import Any, Callable, Optional

READ_SIZE = 65536


class LoopError(RuntimeError):
    """The loop is not running (never started, stopped, or the hub crashed)."""


class SocketTransport:
    """One non-blocking client socket: buffered writes, reads delivered to ``on_data``."""

    def __init__(self, loop: "Loop", sock: socket.socket, on_data: Callable[[bytes], None],
                 on_eof: Callable[[], None]) -> None:
        self.loop = loop
        self.sock = sock
        self.on_data = on_data
        self.on_eof = on_eof
        self.peer_ip = sock.getpeername()[0]
        self._out = bytearray()
        self._closing = False
        self.closed = False
        self._mask = selectors.EVENT_READ
        sock.setblocking(False)
        loop.selector.register(sock, self._mask, self._ready)

    def write(self, data: bytes) -> None:
        """Queue ``data`` and send as much as the socket takes now."""
        if self.closed or self._closing:
            return
        self._out += data
        self._flush()

    def close(self, flush: bool = True) -> None:
        """Close now, or once the queued output is sent (``flush``)."""
        if self.closed:
            return
        self._closing = True
        if not flush or not self._out:
            self._teardown()

    def _flush(self) -> None:
        try:
            sent = self.sock.send(self._out)
        except BlockingIOError:
            sent = 0
        except OSError:
            self._lost(deferred=True)   # we may be deep inside the hub's handling of someone else
            return
        del self._out[:sent]
        self._want(selectors.EVENT_READ | (selectors.EVENT_WRITE if self._out else 0))
        if not self._out and self._closing:
            self._teardown()

    def _want(self, mask: int) -> None:
        """Tell the selector what to wait for, only when that changes (one syscall saved a write)."""
        if mask != self._mask:
            self._mask = mask
            self.loop.selector.modify(self.sock, mask, self._ready)

    def _ready(self, mask: int) -> None:
        if mask & selectors.EVENT_WRITE and not self.closed:
            self._flush()
        if mask & selectors.EVENT_READ and not self.closed:
            try:
                data = self.sock.recv(READ_SIZE)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if data:
                if not self._closing:
                    self.on_data(data)
            else:
                self._lost()

    def _lost(self, deferred: bool = False) -> None:
        """The peer went away (EOF or a socket error): tell the owner unless it was closing us."""
        self._out.clear()
        closing = self._closing
        self._teardown()
        if closing:
            return
        if deferred:
            self.loop.call_later(0, self.on_eof)
        else:
            self.on_eof()

    def _teardown(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.loop.selector.unregister(self.sock)
        except (KeyError, ValueError):
            pass
        self.sock.close()


class Loop:
    """The main loop. ``on_tick()`` runs every ``period`` seconds. An exception a callback raises
    stops the loop if ``is_fatal(exc)`` (a hub crash), else goes to ``on_error(exc)`` (logged), unless
    a ``call`` caller receives it."""

    def __init__(self, on_tick: Callable[[], None], period: float,
                 on_error: Callable[[BaseException], None],
                 is_fatal: Callable[[BaseException], bool], name: str = "vh-hub-main") -> None:
        self.on_tick = on_tick
        self.period = period
        self.on_error = on_error
        self.is_fatal = is_fatal
        self.name = name
        self.selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self.selector.register(self._wake_r, selectors.EVENT_READ, self._drain_wakeups)
        self._calls: "queue.SimpleQueue[tuple[Callable[..., Any], tuple, Optional[Future]]]" = \
            queue.SimpleQueue()
        self._timers: list[tuple[float, int, Callable[..., Any], tuple]] = []
        self._seq = itertools.count()
        self._listeners: list[socket.socket] = []
        self._thread: Optional[threading.Thread] = None
        self._running = threading.Event()
        self._stopping = False
        self._shutdown_lock = threading.Lock()
        self._closed = False
        self.thread_id: Optional[int] = None
        self.last_tick = 0.0

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the main thread and return once it runs."""
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        self._running.wait()

    def stop(self, timeout: float = 10) -> None:
        """Stop the loop, join the thread, close every socket the loop owns."""
        self._stopping = True
        self._wake()
        thread = self._thread
        if thread is threading.current_thread():
            return
        if thread is not None:
            try:
                thread.join(timeout)
                return
            except RuntimeError:  # not started: a Ctrl-C came inside start()
                pass
        self._shutdown()  # the thread never ran: nobody else closes what the loop owns

    @property
    def running(self) -> bool:
        return self._running.is_set() and not self._stopping

    def on_loop_thread(self) -> bool:
        return threading.get_ident() == self.thread_id

    # --- hand-off ------------------------------------------------------------------------------

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Run ``fn(*args)`` on the loop thread soon; the Future gets its result (any thread).
        An exception nobody waits for is reported to ``on_error``."""
        return self._submit(fn, args, awaited=False)

    def _submit(self, fn: Callable[..., Any], args: tuple, awaited: bool) -> Future:
        if not self.running:
            raise LoopError("the hub loop is not running")
        fut: Future = Future()
        fut.awaited = awaited  # type: ignore[attr-defined]
        self._calls.put((fn, args, fut))
        self._wake()
        return fut

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float = 10) -> Any:
        """Run ``fn(*args)`` on the loop thread and return its result (or raise its exception).
        Runs inline when already on the loop thread."""
        if self.on_loop_thread():
            return fn(*args)
        return self._submit(fn, args, awaited=True).result(timeout)

    def call_later(self, delay: float, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the loop thread after ``delay`` seconds (loop thread only)."""
        heapq.heappush(self._timers, (time.monotonic() + delay, next(self._seq), fn, args))

    def tick_now(self) -> None:
        """Run one timer tick now (any thread) and restart the period from here."""
        self.call(self._tick)

    # --- sockets -------------------------------------------------------------------------------

    def listen(self, host: str, port: int, on_accept: Callable[[socket.socket], None]) -> int:
        """Listen on ``host:port`` (0 = any free port); returns the port."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
        self._listeners.append(sock)

        def accept(_mask: int) -> None:
            try:
                client, _addr = sock.accept()
            except (BlockingIOError, OSError):
                return
            on_accept(client)

        self.selector.register(sock, selectors.EVENT_READ, accept)
        return sock.getsockname()[1]

    def add_socket(self, sock: socket.socket, on_data: Callable[[bytes], None],
                   on_eof: Callable[[], None]) -> SocketTransport:
        return SocketTransport(self, sock, on_data, on_eof)

    # --- the loop ------------------------------------------------------------------------------

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except (BlockingIOError, OSError):
            pass

    def _drain_wakeups(self, _mask: int) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def _run(self) -> None:
        self.thread_id = threading.get_ident()
        self.last_tick = time.monotonic()
        self._running.set()
        try:
            while not self._stopping:
                self._step()
        finally:
            self._shutdown()

    def _step(self) -> None:
        now = time.monotonic()
        deadline = self.last_tick + self.period
        if self._timers:
            deadline = min(deadline, self._timers[0][0])
        for key, mask in self.selector.select(max(0.0, deadline - now)):
            self._guard(key.data, mask)
        while True:
            try:
                fn, args, fut = self._calls.get_nowait()
            except queue.Empty:
                break
            self._run_call(fn, args, fut)
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now and not self._stopping:
            _when, _seq, fn, args = heapq.heappop(self._timers)
            self._guard(fn, *args)
        if time.monotonic() >= self.last_tick + self.period and not self._stopping:
            self._guard(self._tick)

    def _tick(self) -> None:
        self.last_tick = time.monotonic()
        self.on_tick()

    def _run_call(self, fn: Callable[..., Any], args: tuple, fut: Optional[Future]) -> None:
        if fut is not None and not fut.set_running_or_notify_cancel():
            return
        try:
            result = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            if fut is not None:
                fut.set_exception(exc)
            if self.is_fatal(exc):
                self._stopping = True
            elif not getattr(fut, "awaited", False):
                self.on_error(exc)
            return
        if fut is not None:
            fut.set_result(result)

    def _guard(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run a callback; what it raises goes to ``on_error`` instead of killing the loop."""
        try:
            fn(*args)
        except BaseException as exc:  # noqa: BLE001 - the hub must survive its callbacks
            if self.is_fatal(exc):
                self._stopping = True
            else:
                self.on_error(exc)

    def _shutdown(self) -> None:
        """Close what the loop owns, once, from its thread or from ``stop`` if it never ran (then the
        thread may still be starting: the lock leaves it to whichever comes first)."""
        with self._shutdown_lock:
            if self._closed:
                return
            self._closed = True
        self._running.clear()
        self._stopping = True
        while True:
            try:
                _fn, _args, fut = self._calls.get_nowait()
            except queue.Empty:
                break
            if fut is not None and fut.set_running_or_notify_cancel():
                fut.set_exception(LoopError("the hub loop stopped"))
        for key in list(self.selector.get_map().values()):
            try:
                key.fileobj.close()  # type: ignore[union-attr]
            except OSError:
                pass
        self.selector.close()
        self._wake_w.close()
