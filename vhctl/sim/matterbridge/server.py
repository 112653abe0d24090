"""The stand-in's lifecycle: its own thread and asyncio loop, the listener, kill and restart.

A stop is a kill (M53, M80): the listener and every connection are aborted at once, so the kernel
sends FIN with no final chunk and no close frame, and user-space buffers are lost. A restart is a new
process on the same port: a new router, so an empty ring and a ``Buffer`` that applies again (M54).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import random
import threading
import time
from typing import Any, Callable, Iterable, TypeVar

from vhctl.sim.matterbridge import chatter
from vhctl.sim.matterbridge.context import Context, Faults, Settings
from vhctl.sim.matterbridge.http import HttpConnection
from vhctl.sim.matterbridge.record import Record
from vhctl.sim.matterbridge.router import Router

T = TypeVar("T")
INJECT_DEFAULTS = {"protocol": "irc", "channel": "#hub", "account": "irc.demo"}
START_TIMEOUT = 10.0


class MatterbridgeStandIn:
    """One api account of a Matterbridge on loopback (the package docstring has the whole API)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, seed: int | None = None,
                 **settings: Any) -> None:
        self.settings = Settings(host=host, **settings)
        self.port = port
        self.faults = Faults()
        self.record = Record()
        self._rng = random.Random(seed)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ctx: Context | None = None
        self._server: asyncio.AbstractServer | None = None
        self._chatter: tuple[float, int | None] | None = None
        self._chatter_task: asyncio.Task[None] | None = None
        self._lock = threading.Lock()

    # --- lifecycle

    @property
    def url(self) -> str:
        return f"http://{self.settings.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.settings.host}:{self.port}/api/websocket"

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> MatterbridgeStandIn:
        """Listen (on ``port``, or a free one the first time) and return once connections are accepted."""
        with self._lock:
            if self._thread is not None:
                return self
            ready: concurrent.futures.Future[None] = concurrent.futures.Future()
            self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True,
                                            name=f"matterbridge-standin:{self.port}")
            self._thread.start()
            try:
                ready.result(START_TIMEOUT)
            except BaseException:
                self._thread.join(START_TIMEOUT)
                self._thread = None
                raise
        return self

    def stop(self) -> None:
        """Die like a killed process: every socket dropped now, nothing flushed. Idempotent."""
        with self._lock:
            thread, loop = self._thread, self._loop
            if thread is None or loop is None:
                return
            asyncio.run_coroutine_threadsafe(self._kill(), loop).result(START_TIMEOUT)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(START_TIMEOUT)
            self._thread = self._loop = self._ctx = self._server = None

    def restart(self, delay: float = 0.0) -> MatterbridgeStandIn:
        """Kill, stay down ``delay`` seconds, come back on the same port with an empty ring (M54)."""
        self.stop()
        if delay:
            time.sleep(delay)  # the test asked for the outage to last this long
        self.record.count("restarts")
        return self.start()

    def __enter__(self) -> MatterbridgeStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self, ready: concurrent.futures.Future[None]) -> None:
        loop = asyncio.new_event_loop()
        try:
            self._server = loop.run_until_complete(self._listen())
        except BaseException as exc:  # noqa: BLE001  (handed to the starting thread, which raises it)
            ready.set_exception(exc)
            loop.close()
            return
        self._loop = loop
        ready.set_result(None)
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _listen(self) -> asyncio.AbstractServer:
        s = self.settings
        self._ctx = Context(settings=s, faults=self.faults, record=self.record, rng=self._rng,
                            router=Router(gateway=s.gateway, account=s.account, buffer=s.buffer,
                                          record=self.record, remote_nick_format=s.remote_nick_format,
                                          show_join_part=s.show_join_part))
        server = await asyncio.start_server(self._accept, s.host, self.port, reuse_address=True)
        self.port = server.sockets[0].getsockname()[1]
        if self._chatter is not None:
            self._chatter_task = asyncio.create_task(chatter.run(self._ctx.router, *self._chatter))
        return server

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        ctx = self._ctx
        if ctx is None:
            writer.transport.abort()
            return
        ctx.transports.add(writer.transport)
        try:
            await HttpConnection(ctx, reader, writer).serve()
        except asyncio.CancelledError:
            pass  # killed: asyncio's stream callback would report a cancelled handler as an error
        finally:
            ctx.transports.discard(writer.transport)

    async def _kill(self) -> None:
        if self._server is not None:
            self._server.close()
        if self._ctx is not None:
            for transport in list(self._ctx.transports):
                transport.abort()  # the kernel closes the socket: FIN, nothing more (M53, M80)
        me = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not me]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=START_TIMEOUT)

    # --- calls into the loop

    def _call(self, fn: Callable[[], T]) -> T:
        loop = self._loop
        if loop is None:
            raise RuntimeError("the Matterbridge stand-in is not running")

        async def call() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), loop).result(START_TIMEOUT)

    def _router(self) -> Router:
        assert self._ctx is not None
        return self._ctx.router

    def inject(self, text: str, username: str, protocol: str = "irc", channel: str = "#hub",
               account: str = "irc.demo", event: str = "", userid: str = "", avatar: str = "",
               parent_id: str = "", extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """A remote user's message routed to our account; returns it as our account receives it."""
        return self._call(lambda: self._router().inject(
            text=text, username=username, protocol=protocol, channel=channel, account=account,
            event=event, userid=userid, avatar=avatar, parent_id=parent_id, extra=extra))

    def inject_many(self, texts: Iterable[str], username: str, rate: float | None = None,
                    timeout: float = 600.0, **source: Any) -> int:
        """Many remote lines in one call (for benches): each one routed as ``inject`` does, the loop
        yielding between them so writers keep up, at most ``rate`` per second if given."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("the Matterbridge stand-in is not running")
        items = list(texts)

        async def run() -> int:
            router, gap = self._router(), (1.0 / rate if rate else 0.0)
            start = loop.time()
            for n, text in enumerate(items):
                router.inject(text=text, username=username, **{**INJECT_DEFAULTS, **source})
                await asyncio.sleep(max(0.0, start + (n + 1) * gap - loop.time()))
            return len(items)

        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout)

    def ring(self) -> list[dict[str, Any]]:
        return self._call(lambda: self._router().ring.snapshot())

    @property
    def ws_clients(self) -> int:
        return self._call(lambda: len(self._router().clients)) if self._loop else 0

    @property
    def stream_clients(self) -> int:
        return self._call(lambda: len(self._ctx.stream_clients) if self._ctx else 0) if self._loop else 0

    def wait_until(self, predicate: Callable[[MatterbridgeStandIn], bool], timeout: float = 10.0) -> None:
        """Poll ``predicate(self)`` until true (for states with no counter, e.g. clients connected)."""
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() > deadline:
                raise TimeoutError("the stand-in never reached the awaited state")
            time.sleep(0.01)

    # --- the record

    def received(self) -> list[dict[str, Any]]:
        return self.record.received()

    def wait_received(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        return self.record.wait_received(count, timeout)

    def counters(self) -> dict[str, int]:
        return self.record.counters()

    def wait_counter(self, name: str, value: int, timeout: float = 10.0) -> int:
        return self.record.wait_counter(name, value, timeout)

    # --- faults

    def set_delay(self, seconds: float) -> None:
        self.faults.set_delay(seconds)

    def fail_posts(self, n: int) -> None:
        self.faults.fail_posts(n)

    def blackhole(self, on: bool = True) -> None:
        self.faults.blackhole(on)

    def drop_websockets(self) -> int:
        """Cut every WebSocket of our account as a network fault would (Matterbridge stays up, its ring
        keeps filling, M82, M86); returns how many were cut."""
        def cut() -> int:
            clients = list(self._router().clients)
            for client in clients:
                client.cut()
            return len(clients)
        return self._call(cut)

    def handed(self) -> list[dict[str, Any]]:
        return self.record.handed()

    def refuse_websocket(self, on: bool = True) -> None:
        """New upgrades get 404 (a build or proxy without the route); open sessions stay."""
        self.faults.refuse_websocket = on

    # --- the demo's remote users

    def start_chatter(self, interval: float = 4.0, seed: int | None = None) -> None:
        """Remote users say a line every ``interval`` seconds, now and after every restart."""
        self.stop_chatter()
        self._chatter = (interval, seed)
        if self._loop is not None:
            def begin() -> None:
                self._chatter_task = asyncio.ensure_future(chatter.run(self._router(), interval, seed))
            self._call(begin)

    def stop_chatter(self) -> None:
        self._chatter = None
        task = self._chatter_task
        self._chatter_task = None
        if task is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(task.cancel)
