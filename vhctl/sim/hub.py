"""The simulated hub as the demo and the tests drive it: ``Hub`` builds the parts of Verlihub
1.7.0.0 ("the C++ side") with their collaborators, runs its lifecycle (start, ``!quit``, SIGTERM, a
crash), hands work to the hub's main thread, and logs simulated users in.

The parts, each with one job (see the package docstring): ``state`` what the hub knows, ``sending``
how it sends, ``connections`` how connections open and end, ``login`` the login handshake and its
outcomes, ``proto`` every other client message, ``commands`` the trigger-char commands,
``moderation`` kicks, bans and restrictions, ``roster`` what scripts change in the lists and
settings. The plugin (``plugin_factory``, by default the Python plugin) gets this hub; the vh module
calls the parts' primitives.

Everything but ``call``/``call_soon`` and the lifecycle runs on the hub main thread (``loop``).
Strings are hub-internal: one char per wire byte.
"""

from __future__ import annotations

import secrets
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

from vhctl.sim import nmdc
from vhctl.sim.commands import Commands
from vhctl.sim.connections import Connections
from vhctl.sim.flood import ChatFlood
from vhctl.sim.hubconf import HubConfig
from vhctl.sim.login import Login
from vhctl.sim.loop import Loop, LoopError
from vhctl.sim.model import (
    CR_DEFAULT, CR_INVALID_KEY, CR_PLUGIN, CR_TIMEOUT, LOGIN_TIMEOUT_SECONDS, MAX_MESSAGE, Conn,
    HubCrashed, LoginError, User)
from vhctl.sim.moderation import Moderation
from vhctl.sim.plugin import Plugin
from vhctl.sim.proto import Proto
from vhctl.sim.roster import Roster
from vhctl.sim.sending import Sender
from vhctl.sim.state import HubState
from vhctl.sim.syssite import SystemSite
from vhctl.sim.users import SimUser

MASTER_NICK = "SimMaster"

# The hub's records and codes live in ``model``; these are imported from here by the tests and the
# demo, which drive the hub as one thing.
__all__ = ["CR_INVALID_KEY", "CR_PLUGIN", "CR_TIMEOUT", "Hub", "HubCrashed",
           "LOGIN_TIMEOUT_SECONDS", "LoginError", "MASTER_NICK", "MAX_MESSAGE"]


class Hub:
    """A minimal, faithful Verlihub 1.7.0.0 with its Python plugin (see the package docstring)."""

    def __init__(self, basedir: Path | str, mode: str = "single", hub_encoding: str = "CP1252",
                 timer_period: float = 1.0, listen_port: Optional[int] = None,
                 listen_host: str = "127.0.0.1", config: Optional[dict[str, str]] = None,
                 chat_rules: bool = True, echo_stderr: bool = True,
                 plugin_factory: Optional[Callable[["Hub"], Any]] = None) -> None:
        if mode not in ("single", "sub"):
            raise ValueError(f"mode must be 'single' or 'sub', not {mode!r}")
        self.basedir = Path(basedir)
        self.scripts_dir = self.basedir / "scripts"
        self.basedir.mkdir(parents=True, exist_ok=True)
        self.mode = mode
        self.echo_stderr = echo_stderr
        self.listen_port = listen_port
        self.listen_host = listen_host
        self.port: Optional[int] = None
        self.system_site = SystemSite(self.basedir)   # Debian's dist-packages stand-ins (A19)
        self.stderr_lines: list[str] = []
        self.errors: list[str] = []      # the simulator's own bugs (exceptions in hub code)
        self.crashed: Optional[str] = None
        self.dns_delay = 0.05       # vh.GetUserHost's blocking reverse lookup (F49.19), plugin side
        self._master: Optional[SimUser] = None
        self._master_password = secrets.token_urlsafe(12)
        self._stopped = False
        self._plugin_closed = False
        self._loop = Loop(self._on_tick, timer_period, self._internal_error,
                          lambda exc: isinstance(exc, HubCrashed))
        config_db = HubConfig(self.basedir / "sim-hub-db.json",
                              {"hub_encoding": hub_encoding, **(config or {})})
        self.state = HubState(self.basedir, config_db, chat_rules)
        self.sender = Sender(self.state)
        self.connections = Connections(self.state, self.sender, self.hook, self.call_later)
        self.moderation = Moderation(self.state, self.connections, self.hook)
        self.roster = Roster(self.state, self.sender, self.hook)
        self.commands = Commands(self.state, self.sender, self.hook, self.operator_command,
                                 self.moderation, self.roster, self.quit)
        login = Login(self.state, self.sender, self.connections, self.moderation, self.hook)
        flood = ChatFlood(self.state, self.sender, self.moderation, self.connections)
        self.proto = Proto(self.state, self.sender, self.connections, self.hook, login,
                           self.commands, flood)
        self.plugin = (plugin_factory or Plugin)(self)

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> "Hub":
        """Start the main thread (and the NMDC listener if ``listen_port`` is not None)."""
        if self.listen_port is not None:
            self.port = self._loop.listen(self.listen_host, self.listen_port, self._accept)
        self.state.started_at = time.time()
        self._loop.start()
        self._loop.call(self.system_site.add)
        autoload = getattr(self.plugin, "autoload", None)
        if autoload is not None:
            self._loop.call(autoload)   # F12: the plugin loads <basedir>/scripts/*.py at start
        return self

    def stop(self) -> None:
        """The hub gets SIGTERM (A18): the loop stops, every socket closes, and no hook is called at
        all (no OnUnLoad, no logout, no OnTimer after). Also joins the main thread after ``!quit``
        (``quit``). Calling it again does nothing."""
        if not self._stopped:
            self._stopped = True
            if self._loop.running:
                try:
                    self._loop.call(self.connections.drop_all, True)
                except (LoopError, HubCrashed, TimeoutError):
                    pass
        self._loop.stop()
        close = getattr(self.plugin, "close", None)
        if close is not None and not self._plugin_closed:
            self._plugin_closed = True
            close()
        self.system_site.remove()

    def shutdown(self, code: int = 0) -> None:
        """The clean stop, like ``!quit`` (A18): ``quit(code)`` on the hub thread, then ``stop()``
        joins it. Tests and the demo stop this way so that the scripts' OnUnLoad ends their threads."""
        if self.running and self.crashed is None:
            try:
                self.call(self.quit, code, timeout=30)
            except (LoopError, HubCrashed, TimeoutError):
                pass
        self.stop()

    def quit(self, code: int = 0) -> None:
        """Hub thread: what ``!quit`` does (A18). Everyone gets the notice, OnPublicBotMessage; each
        user is closed in reverse login order with its close and logout hooks (reason 0), then
        OnUnLoad(code), and the loop ends: no OnTimer comes after."""
        notice = "Please note, hub will be stopped now."
        security = self.state.security_nick
        self.sender.broadcast(nmdc.chat(security, notice))
        self.hook("OnPublicBotMessage", security, notice, 0, 10)
        in_list = [u.conn for u in self.state.users.values() if u.conn is not None]
        for conn in [*reversed(in_list), *(c for c in self.state.conns if c not in in_list)]:
            self.connections.close(conn, CR_DEFAULT)
        self.hook("OnUnLoad", code)
        self._stopped = True
        self._loop.stop()

    def crash(self, reason: str) -> None:
        """The hub dies like the real one on fatal script behaviour (A13): every client loses its
        connection without any hook, the loop stops. Raises HubCrashed; never returns."""
        self.crashed = reason
        self.stderr(reason)
        self.connections.drop_all(False)
        raise HubCrashed(reason)

    def __enter__(self) -> "Hub":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stderr(self, text: str) -> None:
        """The hub's stderr: kept in ``stderr_lines`` and echoed unless ``echo_stderr`` is off."""
        self.stderr_lines.extend(text.splitlines() or [""])
        if self.echo_stderr:
            print(text, file=sys.stderr, flush=True)

    def _internal_error(self, exc: BaseException) -> None:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        self.errors.append(text)
        self.stderr(f"SIM-HUB internal error: {text}")

    def _check_alive(self) -> None:
        if self.crashed is not None:
            raise HubCrashed(f"the hub crashed: {self.crashed}")

    # --- the main thread -----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._loop.running

    @property
    def main_thread_id(self) -> Optional[int]:
        return self._loop.thread_id

    def on_main_thread(self) -> bool:
        return self._loop.on_loop_thread()

    @property
    def timer_period(self) -> float:
        return self._loop.period

    @timer_period.setter
    def timer_period(self, seconds: float) -> None:
        self._loop.period = seconds

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float = 10) -> Any:
        """Run ``fn(*args)`` on the hub main thread and return its result (any thread)."""
        self._check_alive()
        return self._loop.call(fn, *args, timeout=timeout)

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Queue ``fn(*args)`` for the hub main thread; returns a Future."""
        self._check_alive()
        return self._loop.call_soon(fn, *args)

    def call_later(self, delay: float, fn: Callable[..., Any], *args: Any) -> None:
        """Hub thread only: run ``fn(*args)`` on the hub thread after ``delay`` seconds."""
        self._loop.call_later(delay, fn, *args)

    def tick(self) -> None:
        """Run one timer tick (send-cache flush, keep-alives, OnTimer) now."""
        self._check_alive()
        self._loop.tick_now()

    def _on_tick(self) -> None:
        """One hub tick (F37): flush the send caches, keep-alives, login timeouts, then OnTimer."""
        self.sender.flush_caches()
        self.connections.housekeeping()
        self.hook("OnTimer", int(time.time() * 1000) / 1000.0)

    # --- the plugin ----------------------------------------------------------------------------

    def hook(self, name: str, *args: Any) -> bool:
        """All scripts' hook ``name``; False when one blocked (F19)."""
        return self.plugin.hook(name, *args)

    def operator_command(self, nick: str, full_command: str) -> bool:
        """The OnOperatorCommand stage: the plugin's console, then the scripts (F5, A3)."""
        return self.plugin.operator_command(nick, full_command)

    # --- connections ---------------------------------------------------------------------------

    def _accept(self, sock: Any) -> None:
        holder: list[Conn] = []
        transport = self._loop.add_socket(sock, lambda data: self.proto.on_data(holder[0], data),
                                          lambda: self.close(holder[0], CR_DEFAULT))
        holder.append(self.new_conn(transport, transport.peer_ip, None, False))

    def new_conn(self, transport: Any, ip: str, cc: Optional[str], discard: bool) -> Conn:
        """A connection over ``transport``; runs OnNewConn and sends $Lock."""
        conn = self.connections.open(transport, ip, cc, discard)
        self.proto.on_connect(conn)
        return conn

    def close(self, conn: Conn, reason: int, delay_quit: bool = False) -> None:
        """Close a connection with its hooks (``Connections.close``)."""
        self.connections.close(conn, reason, delay_quit)

    # --- what the demo and other suites read and change directly -------------------------------

    @property
    def security_nick(self) -> str:
        return self.state.security_nick

    @property
    def users_count(self) -> int:
        return self.state.users_count

    @users_count.setter
    def users_count(self, count: int) -> None:
        """Hub thread: tests fake a connection that is counted but not in the list yet."""
        self.state.users_count = count

    @property
    def total_share(self) -> int:
        return self.state.total_share

    def user(self, nick: str) -> Optional[User]:
        return self.state.user(nick)

    def op_list(self) -> list[str]:
        return self.state.op_list()

    def get_myinfo(self, nick: str) -> Optional[tuple[str, str, str, str, str, str]]:
        return self.state.get_myinfo(nick)

    def register(self, nick: str, cls: int, password: str) -> None:
        self.state.register(nick, cls, password)

    def add_robot(self, nick: str, cls: int, desc: str, speed: str, email: str, share: str) -> bool:
        return self.roster.add_robot(nick, cls, desc, speed, email, share)

    def del_robot(self, nick: str) -> bool:
        return self.roster.del_robot(nick)

    # --- test / demo harness -------------------------------------------------------------------

    def login(self, nick: str, **kwargs: Any) -> SimUser:
        """Log a simulated user in (see ``users.SimUser.login`` for the arguments)."""
        return self.call(SimUser.login, self, nick, kwargs)

    def login_many(self, specs: Iterable[tuple[str, dict]]) -> list[SimUser]:
        """Many logins in one hand-off to the hub thread (storms)."""
        return self.call(lambda: [SimUser.login(self, n, kw) for n, kw in specs], timeout=600)

    def master(self) -> SimUser:
        """The built-in master account (class 10), logged in on first use."""
        def get() -> SimUser:
            if self._master is None or not self._master.connected:
                self.state.register(MASTER_NICK, 10, self._master_password)
                self._master = SimUser.login(self, MASTER_NICK, {"user_class": 10, "share": 0})
            return self._master
        return self.call(get)

    def command(self, text: str, in_pm: bool = False) -> str:
        """Type ``text`` as the built-in master; the hub-security replies, one per line."""
        master = self.master()
        return self.call(master.command_reply, text, in_pm)

    def pyload(self, path: str | Path) -> str:
        return self.command(f"!pyload {path}")

    def pyunload(self, id_or_path: str | int | Path) -> str:
        return self.command(f"!pyunload {id_or_path}")

    def pyreload(self, id_or_path: str | int | Path) -> str:
        return self.command(f"!pyreload {id_or_path}")
