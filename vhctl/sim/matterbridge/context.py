"""What every connection handler shares: the settings, the runtime faults, the record, the router.

Settings are fixed at construction; faults are flipped from any thread and read on the loop thread.
"""

from __future__ import annotations

import asyncio
import random
import threading
from dataclasses import dataclass, field

from vhctl.sim.matterbridge.record import Record
from vhctl.sim.matterbridge.router import Router


@dataclass(frozen=True)
class Settings:
    """The constructor's knobs (see the package docstring for what each emulates)."""

    host: str = "127.0.0.1"
    token: str | None = None
    gateway: str = "gateway1"
    account: str = "api.vhctl"
    buffer: int = 1000
    stream_interval: float = 0.2
    stream_swallow: bool = True
    ping_interval: float = 54.0
    pong_timeout: float = 60.0
    write_timeout: float = 10.0
    client_queue: int = 256
    max_client_frame: int = 512
    late_greeting: float = 0.0
    late_greeting_window: float = 0.05
    remote_nick_format: str = "{NICK}"
    show_join_part: bool = False
    ws_sndbuf: int | None = None


class Faults:
    """Chaos switches: a delay before every answer, failing POSTs, and a black hole."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.delay = 0.0
        self._fail_posts = 0
        self._hung = threading.Event()
        self.refuse_websocket = False  # /api/websocket answers 404, as before the route existed

    def set_delay(self, seconds: float) -> None:
        self.delay = max(0.0, float(seconds))

    def fail_posts(self, n: int) -> None:
        with self._lock:
            self._fail_posts = max(0, int(n))

    def take_post_failure(self) -> bool:
        """True (and one fewer left) when this POST is to get a 500."""
        with self._lock:
            if self._fail_posts:
                self._fail_posts -= 1
                return True
            return False

    def blackhole(self, on: bool) -> None:
        if on:
            self._hung.set()
        else:
            self._hung.clear()

    @property
    def hung(self) -> bool:
        return self._hung.is_set()

    async def wait_unhung(self) -> None:
        """Return once the black hole is off: a hung process answers nothing meanwhile."""
        while self._hung.is_set():
            await asyncio.sleep(0.02)

    async def gate(self) -> None:
        """Before any HTTP answer: the slow-answer delay, then the black hole."""
        if self.delay:
            await asyncio.sleep(self.delay)
        await self.wait_unhung()


@dataclass
class Context:
    """One run of the server (a restart makes a new one with a new router: an empty ring, M54)."""

    settings: Settings
    faults: Faults
    record: Record
    router: Router
    rng: random.Random
    transports: set[asyncio.WriteTransport] = field(default_factory=set)
    stream_clients: set[object] = field(default_factory=set)  # connected /api/stream readers
