"""The REST API as a runtime component: `!api start|stop|status|help`, lifecycle, status.

What runs where:
- hub thread: ``__init__`` (imports the web stack, see ``webstack``), the command handlers (parse, then
  hand the slow part to a thread), ``on_tick`` (one attribute write);
- component threads: binding and starting the server, stopping it, keeping the token current;
- the server's event-loop thread: every HTTP request, reading only snapshots and the event feed.

The server starts with the component (so it comes back by itself after `!pyreload` or a hub restart)
unless an operator stopped it with `!api stop`. A failure to start (port in use, A10, missing package)
never unregisters the component: it is reported once (hub log, OpChat, status) and `!api start PORT`
can try again; `!api` always answers.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Dict, Mapping, Optional

from vhctl_hub.api.auth import TokenKeeper
from vhctl_hub.api.metrics import RequestCounter
from vhctl_hub.api.server import ApiServer, ServerError
from vhctl_hub.api.views import Views, iso_utc
from vhctl_hub.api.webstack import WebStack
from vhctl_hub.commands import CommandCall, CommandSet
from vhctl_hub.component import Component, Context
from vhctl_hub.config import PORT_RULE, port_problem
from vhctl_hub.effects import freeze_long_lived
from vhctl_hub.hublog import log_exception
from vhctl_hub.snapshot import HubSnapshot

#: How long `!api start` waits for the runtime to start the component (just after a load), seconds.
START_WAIT = 3.0


def parse_port(text: str) -> Optional[int]:
    """A port from a command argument, by the config's rule (``PORT_RULE``); None when it is not one."""
    text = text.strip()
    if not text.isdigit() or len(text) > 5:
        return None
    port = int(text)
    return None if port_problem(port) else port


class ApiComponent(Component):
    """The hub's REST API (see the package docstring)."""

    name = "api"
    needs_cache = True

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.settings = ctx.settings.api
        self.stack = WebStack()
        if self.settings.chat_events:
            ctx.events.enable_chat()
        self.server = ApiServer(ctx.start_thread, self.stack)
        self.keeper = TokenKeeper(ctx.log)
        self.requests = RequestCounter()
        self._served_before = 0
        self._keeper_stop = threading.Event()
        self._keeper_thread: Optional[threading.Thread] = None
        self._wanted = True   # an operator's `!api stop` clears it
        self._active = threading.Event()  # set from the runtime's start() to stop(): only then may a server run
        self._confirmed = time.time()
        self._busy = threading.Lock()  # one start/stop at a time
        self.app = self._build_app() if self.stack.error is None else None
        if self.app is not None:
            frozen, took = freeze_long_lived()
            if frozen:
                ctx.log(f"{frozen} long-lived objects moved out of the garbage collector's way "
                        f"({took * 1e3:.0f} ms, once per process)")

    # ---------------------------------------------------------------- runtime lifecycle
    def start(self) -> None:
        """Supervisor thread: serve on ``api.port`` unless an operator stopped the API."""
        if self.stack.error is not None:
            self.ctx.notice(self.stack.explain(), once_per_process=True)
            return
        with self._busy:
            self._active.set()
            if not self._wanted or self.server.running:
                return
            try:
                self.ctx.log(f"serving on {self._serve(self.settings.port)}")
            except ServerError as exc:
                self.ctx.notice(f"api cannot start: {exc} (to try another port: !api start PORT)")

    def stop(self) -> None:
        """Any thread: stop serving, free the port, end our threads, let the app be freed."""
        with self._busy:
            self._active.clear()
            self._halt()
        self.stack.release_apps()

    def on_tick(self, now: float) -> None:
        """Hub thread: the cache is confirmed current as of now (it only republishes on change)."""
        self._confirmed = time.time()

    def status(self) -> Dict[str, Any]:
        """Extra status fields (no token, only its state)."""
        return {"url": self.server.url, "serving": self.server.running, "auth": self.keeper.state,
                "requests": self.requests.total(),
                "web_stack": "loaded" if self.stack.error is None else self.stack.explain()}

    # ---------------------------------------------------------------- serving (component threads)
    def cache_age(self, snapshot: HubSnapshot) -> float:
        """Seconds since the hub thread last confirmed what ``snapshot`` says."""
        return max(0.0, time.time() - max(snapshot.taken_at, self._confirmed))

    def health(self) -> Optional[Mapping[str, Any]]:
        """The runtime's lag and hook timings (any thread)."""
        health = getattr(self.ctx, "health", None)  # absent on the hand-made contexts of unit tests
        return health() if health is not None else None

    def _build_app(self) -> Any:
        """Hub thread, at registration: ~50 ms once per load, so no server thread imports lazily."""
        module = self.stack.app
        return module.build_app(module.AppDeps(
            views=Views(self.ctx.cache.snapshot), keeper=self.keeper, requests=self.requests,
            feed=self.ctx.events, settings=self.settings, cache_age=self.cache_age, health=self.health,
            stopping=lambda: self.server.stopping))

    def _serve(self, port: int) -> str:
        self.keeper.refresh()
        url = self.server.start(self.app, self.settings.host, port)
        self._served_before = self.requests.total()  # `!api status` counts this start's requests
        self.ctx.status.set(last_error=None, last_error_at=None)  # an old failure is not this run's
        self._keeper_stop = threading.Event()
        self._keeper_thread = self.ctx.start_thread(self.keeper.run, "token", self._keeper_stop)
        self.ctx.status.set(serving=True, port=self.server.port, url=url)
        return url

    def _halt(self) -> bool:
        was_running = self.server.stop()
        self._keeper_stop.set()
        self.keeper.wake()
        thread = self._keeper_thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(2.0)
        self._keeper_thread = None
        self.ctx.status.set(serving=False, port=None, url=None)
        return was_running

    # ---------------------------------------------------------------- chat commands
    def commands(self) -> CommandSet:
        cmds = CommandSet("api", min_class=self.settings.command_class, summary="the hub's REST API")
        cmds.sub("start", "[port]", f"start the API (port {self.settings.port} unless given; {PORT_RULE})")(
            self._cmd_start)
        cmds.sub("stop", "", "stop the API and free its port")(self._cmd_stop)
        cmds.sub("status", "", "whether the API runs, where, and whether a token is set")(self._cmd_status)
        return cmds

    def _cmd_start(self, call: CommandCall) -> Optional[str]:
        if self.stack.error is not None:
            return self.stack.explain()
        if len(call.args) > 1:
            return f"usage: {call.prefix}api start [port]"
        port = self.settings.port
        if call.args:
            parsed = parse_port(call.args[0])
            if parsed is None:
                return (f"{call.prefix}api start: {call.args[0]!r} is not a port number; "
                        f"give {PORT_RULE}")
            port = parsed
        self.ctx.start_thread(self._start_for, "start", port, call.reply)
        return None

    def _start_for(self, port: int, reply: Callable[[str], None]) -> None:
        try:
            self._active.wait(START_WAIT)  # right after `!pyload` the runtime may not have started us yet
            with self._busy:
                if not self._active.is_set():
                    reply("API not started: the script is starting or stopping right now; try again shortly")
                    return
                self._wanted = True
                if self.server.running:
                    moving = port not in (0, self.server.port)
                    reply(f"API already running on {self.server.url}"
                          + (f"; stop it first (!api stop) to move it to port {port}" if moving else ""))
                    return
                url = self._serve(port)
            reply(f"API running on {url} (documentation: {url}/docs)")
        except ServerError as exc:
            self.ctx.status.error(f"api cannot start: {exc}")
            reply(f"API not started: {exc}")
        except Exception as exc:  # noqa: BLE001 - the operator must always get an answer
            log_exception("api start failed", exc)
            reply(f"API not started: {type(exc).__name__}: {exc}")

    def _cmd_stop(self, call: CommandCall) -> Optional[str]:
        self.ctx.start_thread(self._stop_for, "stop", call.reply)
        return None

    def _stop_for(self, reply: Callable[[str], None]) -> None:
        try:
            with self._busy:
                self._wanted = False
                port = self.server.port
                was_running = self._halt()
            reply(f"API stopped; port {port} is free again" if was_running else "API is not running")
        except Exception as exc:  # noqa: BLE001 - the operator must always get an answer
            log_exception("api stop failed", exc)
            reply(f"API stop failed: {type(exc).__name__}: {exc}")

    def _cmd_status(self, call: CommandCall) -> str:
        if self.stack.error is not None:
            return self.stack.explain()
        server = self.server
        if server.running:
            served = self.requests.total() - self._served_before
            return (f"API running on {server.url} since {iso_utc(server.started_at)}, "
                    f"{served} request{'' if served == 1 else 's'} served; token: {self.keeper.state}")
        why = self.ctx.status.get("last_error") or server.failure
        return (f"API stopped{f' (last error: {why})' if why else ''}; "
                f"start it with {call.prefix}api start [port]")
