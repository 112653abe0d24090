"""The hub core, "the C++ side" of Verlihub 1.7.0.0: users, robots, registered users, config,
counters (F67, F68), topic, the send primitives the vh module calls, and the hub's lifecycle.

Client messages are handled in ``proto`` (the event flow and where each hook fires, A3) and hub
commands in ``commands``; simulated users in ``users``. Everything here runs on the hub main thread
(``loop``); other threads come in through ``call``. Strings are hub-internal: one char per wire byte.
"""

from __future__ import annotations

import secrets
import sys
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Optional

from vhctl.sim import nmdc
from vhctl.sim.geo import Geo
from vhctl.sim.hubconf import T_UNKNOWN, HubConfig
from vhctl.sim.loop import Loop, LoopError
from vhctl.sim.syssite import SystemSite

if TYPE_CHECKING:
    from vhctl.sim.users import SimUser

# Close reasons (eCR_*; 21 is what the hub reports when a plugin closes a connection, A4).
CR_DEFAULT, CR_INVALID_USER, CR_KICKED, CR_QUIT, CR_TIMEOUT = 0, 1, 2, 4, 6
CR_USERLIMIT, CR_TAG_INVALID, CR_PASSWORD, CR_LOGIN_ERR, CR_SYNTAX = 8, 11, 12, 13, 14
CR_INVALID_KEY, CR_BADNICK, CR_PLUGIN = 15, 19, 21

# eBOT_* codes of IsRobotNickBad (F49.42).
BOT_OK, BOT_EXISTS, BOT_WITHOUT_NICK, BOT_BAD_CHARS, BOT_RESERVED_NICK = 0, 1, 2, 3, 4

# Hub ban flags (bit values, src/cban.h; F14 warns that vh.eBF_* are NOT these).
BF_NICKIP, BF_IP, BF_NICK = 1, 2, 4

VALID_CLASSES = frozenset((0, 1, 2, 3, 4, 5, 10))
OP_CLASS, VIP_CLASS = 3, 2
KEEPALIVE_SECONDS = 60.0
LOGIN_TIMEOUT_SECONDS = 120.0
MAX_MESSAGE = 64 * 1024
MASTER_NICK = "SimMaster"

_PERIOD_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
RESTRICTIONS = ("nochat", "nopm", "nosearch", "noctm")


class HubCrashed(BaseException):
    """The hub process "died" (A13): raised by ``Hub.crash`` on the hub thread; stops the loop.
    A BaseException so that no script's ``except Exception`` (nor the plugin's) can swallow it."""


class LoginError(RuntimeError):
    """A simulated user's login did not complete."""


class User:
    """A nick in the hub's user list: the user of a connection, or a robot (``conn`` None)."""

    __slots__ = ("nick", "cls", "conn", "myinfo", "fake_myinfo", "share", "in_list", "ip", "cc",
                 "passive", "last_chat_ms", "last_chat", "restrict_until", "hub_url", "ext_json",
                 "chat_times")

    def __init__(self, nick: str, cls: int, conn: Optional["Conn"], ip: str = "127.0.0.1",
                 cc: Optional[str] = None) -> None:
        self.nick = nick
        self.cls = cls
        self.conn = conn
        self.myinfo = ""          # as the client sent it (mMyINFO)
        self.fake_myinfo = ""     # as others see it (mFakeMyINFO)
        self.share = 0
        self.in_list = False
        self.ip = ip
        self.cc = cc
        self.passive = False
        self.last_chat_ms = 0.0
        self.last_chat = ""
        self.restrict_until: dict[str, float] = {}
        self.hub_url = ""
        self.ext_json = ""
        self.chat_times: list[float] = []   # recent main-chat lines, for flood protection (A17)

    @property
    def robot(self) -> bool:
        return self.conn is None

    def restricted(self, kind: str) -> bool:
        return self.restrict_until.get(kind, 0.0) > time.time()


class Conn:
    """One client connection (cConnDC) over a socket or a simulated transport.

    ``transport`` has ``write(bytes)`` and ``close(flush)``. ``discard`` connections (mass simulated
    users with recording off) are sent nothing at all, which keeps login storms linear.
    """

    def __init__(self, hub: "Hub", transport: Any, ip: str, cc: Optional[str],
                 discard: bool = False) -> None:
        self.hub = hub
        self.transport = transport
        self.ip = ip
        self.cc = cc
        self.discard = discard
        self.lock = ""
        self.key_ok: Optional[bool] = None
        self.features: set[str] = set()
        self.user: Optional[User] = None
        self.awaiting_pass = False
        self.nick_list_wanted = False    # $GetNickList came during the login (A15)
        self.counted = False
        self.closed = False
        self.close_reason: Optional[int] = None
        self.buffer = ""
        self.pending: list[str] = []
        self.connected_at = time.monotonic()
        self.last_send = self.connected_at
        #: AddrHost: resolved at connect when the hub's dns_lookup is on (cAsyncConn), else by
        #: vh.GetUserHost's own lookup (F49.19); "" when unresolved.
        self.host = hub.reverse_lookup(ip) if hub.dns_lookup else ""

    @property
    def nick(self) -> str:
        return self.user.nick if self.user else ""

    def send(self, text: str, flush: bool = True) -> None:
        """Queue ``text`` for the client; ``flush=False`` leaves it until the next timer tick."""
        if self.closed or self.discard:
            return
        self.pending.append(text)
        if flush:
            self.flush()
        else:
            self.hub._dirty.add(self)

    def flush(self) -> None:
        if self.pending and not self.closed:
            data = "".join(self.pending)
            self.pending.clear()
            self.last_send = time.monotonic()
            self.transport.write(data.encode("latin-1"))


class RegUser:
    __slots__ = ("cls", "password")

    def __init__(self, cls: int, password: str) -> None:
        self.cls = cls
        self.password = password


class Ban:
    """A ban; ``temp`` ones are the hub's in-memory temporary ban list (flood protection, A17),
    which refuses logins with the remaining time instead of the ban list's text."""

    __slots__ = ("nick", "ip", "until", "reason", "temp")

    def __init__(self, nick: str, ip: str, until: float, reason: str, temp: bool = False) -> None:
        self.nick, self.ip, self.until, self.reason, self.temp = nick, ip, until, reason, temp


def _default_plugin(hub: "Hub") -> Any:
    from vhctl.sim.plugin import Plugin  # the sim-plugin helper's module; imported late on purpose

    return Plugin(hub)


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
        self.config_name = "config"
        self.config = HubConfig(self.basedir / "sim-hub-db.json",
                                {"hub_encoding": hub_encoding, **(config or {})})
        self.chat_rules = chat_rules
        self.echo_stderr = echo_stderr
        self.listen_port = listen_port
        self.listen_host = listen_host
        self.port: Optional[int] = None
        self.geo = Geo()
        self.system_site = SystemSite(self.basedir)   # Debian's dist-packages stand-ins (A19)
        #: ip -> host name for the simulator's reverse DNS (see ``reverse_lookup``).
        self.reverse_dns: dict[str, str] = {}
        self.stderr_lines: list[str] = []
        self.errors: list[str] = []      # the simulator's own bugs (exceptions in hub code)
        self.crashed: Optional[str] = None
        self.dns_delay = 0.05       # vh.GetUserHost's blocking reverse lookup (F49.19), plugin side
        self.started_at = time.time()
        self.users: dict[str, User] = {}         # the hub user list: in-list users and robots
        self.receivers: dict[str, Conn] = {}     # in-list connections that get broadcasts
        self.logging_in: dict[str, Conn] = {}    # nicks validated, login not complete
        self.conns: set[Conn] = set()
        self.reg: dict[str, RegUser] = {}
        self.bans: list[Ban] = []
        self.users_count = 0                     # mUserCountTot (F67)
        self.total_share = 0                     # mTotalShare (F68)
        self._dirty: set[Conn] = set()
        self._send_cache: list[tuple[str, Callable[[User], bool]]] = []
        self._parse_command_first: Optional[str] = None
        self._master: Optional["SimUser"] = None
        self._master_password = secrets.token_urlsafe(12)
        self._stopped = False
        self._plugin_closed = False
        self._loop = Loop(self._on_tick, timer_period, self._internal_error,
                          lambda exc: isinstance(exc, HubCrashed))
        self._add_hub_robots()
        from vhctl.sim.commands import Commands
        from vhctl.sim.proto import Proto

        self.proto = Proto(self)
        self.commands = Commands(self)
        self.plugin = (plugin_factory or _default_plugin)(self)

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> "Hub":
        """Start the main thread (and the NMDC listener if ``listen_port`` is not None)."""
        if self.listen_port is not None:
            self.port = self._loop.listen(self.listen_host, self.listen_port, self._accept)
        self.started_at = time.time()
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
                    self._loop.call(self._drop_all)
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
        self._broadcast(nmdc.chat(self.security_nick, notice))
        self.hook("OnPublicBotMessage", self.security_nick, notice, 0, 10)
        in_list = [u.conn for u in self.users.values() if u.conn is not None]
        for conn in [*reversed(in_list), *(c for c in self.conns if c not in in_list)]:
            self.close(conn, CR_DEFAULT)
        self.hook("OnUnLoad", code)
        self._stopped = True
        self._loop.stop()

    def __enter__(self) -> "Hub":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

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

    def crash(self, reason: str) -> None:
        """The hub dies like the real one on fatal script behaviour (A13): every client loses its
        connection without any hook, the loop stops. Raises HubCrashed; never returns."""
        self.crashed = reason
        self.stderr(reason)
        for conn in list(self.conns):
            conn.closed = True
            conn.close_reason = None
            conn.transport.close(False)
        self.conns.clear()
        raise HubCrashed(reason)

    def stderr(self, text: str) -> None:
        """The hub's stderr: kept in ``stderr_lines`` and echoed unless ``echo_stderr`` is off."""
        self.stderr_lines.extend(text.splitlines() or [""])
        if self.echo_stderr:
            print(text, file=sys.stderr, flush=True)

    def _check_alive(self) -> None:
        if self.crashed is not None:
            raise HubCrashed(f"the hub crashed: {self.crashed}")

    def _internal_error(self, exc: BaseException) -> None:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        self.errors.append(text)
        self.stderr(f"SIM-HUB internal error: {text}")

    def _drop_all(self) -> None:
        for conn in list(self.conns):
            conn.flush()
            conn.closed = True
            conn.transport.close(True)
        self.conns.clear()

    # --- connections ---------------------------------------------------------------------------

    def _accept(self, sock: Any) -> None:
        holder: list[Conn] = []
        transport = self._loop.add_socket(sock, lambda data: self.proto.on_data(holder[0], data),
                                          lambda: self.close(holder[0], CR_DEFAULT))
        conn = Conn(self, transport, transport.peer_ip, None)
        holder.append(conn)
        self.proto.on_connect(conn)

    def new_conn(self, transport: Any, ip: str, cc: Optional[str], discard: bool) -> Conn:
        """A connection over a simulated transport (``users``); runs OnNewConn and sends $Lock."""
        if cc:
            self.geo.declare(ip, cc)
        conn = Conn(self, transport, ip, cc, discard)
        self.proto.on_connect(conn)
        return conn

    def close(self, conn: Conn, reason: int, delay_quit: bool = False) -> None:
        """Close a connection: OnCloseConn, OnCloseConnEx, OnUserLogout (A3), then the user leaves
        the list and the others get ``$Quit`` (through the send cache when ``delay_quit``, A4)."""
        if conn.closed:
            return
        conn.flush()
        conn.closed = True
        conn.close_reason = reason
        user = conn.user
        nick = user.nick if user else ""
        self.hook("OnCloseConn", conn.ip)
        self.hook("OnCloseConnEx", conn.ip, reason, nick)
        if user is not None and user.in_list:
            self.hook("OnUserLogout", nick)
            user.in_list = False
            self.users.pop(nick, None)
            self.receivers.pop(nick, None)
            self._broadcast(f"$Quit {nick}|", delay=delay_quit)
        elif user is not None and self.logging_in.get(nick) is conn:
            del self.logging_in[nick]
        if conn.counted:
            self.users_count -= 1
            conn.counted = False
        if user is not None:
            self.total_share -= user.share
            user.share = 0
        self.conns.discard(conn)
        self._dirty.discard(conn)
        conn.transport.close(True)

    def close_later(self, conn: Conn, seconds: float, reason: int) -> None:
        self.call_later(seconds, self.close, conn, reason)

    # --- the timer -----------------------------------------------------------------------------

    def _on_tick(self) -> None:
        """One hub tick (F37): flush the send caches, keep-alives, login timeouts, then OnTimer."""
        self.flush_caches()
        now = time.monotonic()
        for conn in list(self.conns):
            if conn.user is None or not conn.user.in_list:
                if now - conn.connected_at > LOGIN_TIMEOUT_SECONDS:
                    self.close(conn, CR_TIMEOUT)
            elif not conn.discard and now - conn.last_send >= KEEPALIVE_SECONDS:
                conn.send("|")
        self.hook("OnTimer", int(time.time() * 1000) / 1000.0)

    def flush_caches(self) -> None:
        cache, self._send_cache = self._send_cache, []
        for data, wanted in cache:
            self._broadcast(data, wanted)
        dirty, self._dirty = self._dirty, set()
        for conn in dirty:
            conn.flush()

    # --- plugin --------------------------------------------------------------------------------

    def hook(self, name: str, *args: Any) -> bool:
        """All scripts' hook ``name``; False when one blocked (F19)."""
        return self.plugin.hook(name, *args)

    # --- users, robots, lookups ----------------------------------------------------------------

    @property
    def security_nick(self) -> str:
        return self.config["hub_security"]

    @property
    def opchat_nick(self) -> str:
        return self.config["opchat_name"]

    def _add_hub_robots(self) -> None:
        tag = f"<Verlihub V:{nmdc.HUB_VERSION},M:A,H:0/0/1,S:0>"
        for nick, desc in ((self.security_nick, self.config["hub_security_desc"]),
                           (self.opchat_nick, self.config["opchat_desc"])):
            bot = User(nick, 10, None)
            bot.fake_myinfo = nmdc.build_myinfo(nick, desc, tag, "\x01", "", 0)
            bot.in_list = True
            self.users[nick] = bot

    def user(self, nick: str) -> Optional[User]:
        """A user in the list (logged in) or a robot."""
        return self.users.get(nick)

    def online(self, nick: str) -> Optional[User]:
        """A logged-in user with a connection (not a robot)."""
        user = self.users.get(nick)
        return user if user is not None and user.conn is not None else None

    def is_robot(self, nick: str) -> bool:
        user = self.users.get(nick)
        return user is not None and user.robot

    def nick_list(self) -> list[str]:
        return list(self.users)

    def op_list(self) -> list[str]:
        limit = self.config.int("oplist_class")
        return [n for n, u in self.users.items() if u.cls >= limit]

    def bot_list(self) -> list[str]:
        return [n for n, u in self.users.items() if u.robot]

    def get_myinfo(self, nick: str) -> Optional[tuple[str, str, str, str, str, str]]:
        """F49.10: the real MyINFO, else the one shown to others, split per F28."""
        user = self.users.get(nick)
        if user is None:
            return None
        text = user.myinfo or user.fake_myinfo
        if not text:
            return (nick, "", "", "", "", str(user.share))
        return nmdc.split_myinfo(text)

    def user_class(self, nick: str) -> int:
        user = self.users.get(nick)
        return user.cls if user is not None else -2

    def user_ip(self, nick: str) -> Optional[str]:
        user = self.users.get(nick)
        return None if user is None else user.ip

    def user_cc(self, nick: str) -> Optional[str]:
        user = self.users.get(nick)
        return None if user is None or user.robot else user.cc

    @property
    def dns_lookup(self) -> bool:
        """The hub variable dns_lookup (mUseDNS): resolve each connection's host when it connects."""
        return self.config.get("dns_lookup") == "1"

    def reverse_lookup(self, ip: str) -> str:
        """The simulator's resolver: the names declared with ``login(host=...)``, else "" (A5: the
        lab hub resolved nothing for 127.0.0.1)."""
        return self.reverse_dns.get(ip, "")

    def user_host(self, nick: str, lookup: bool) -> Optional[str]:
        """AddrHost of a connected user, after resolving it now if ``lookup`` (the plugin's
        GetUserHost with dns_lookup off); None for robots and unknown nicks."""
        user = self.online(nick)
        if user is None:
            return None
        if lookup:
            user.conn.host = self.reverse_lookup(user.conn.ip)
        return user.conn.host

    def user_hub_url(self, nick: str) -> Optional[str]:
        user = self.online(nick)
        return None if user is None else user.hub_url

    def user_ext_json(self, nick: str) -> Optional[str]:
        user = self.online(nick)
        return None if user is None else user.ext_json

    def ip_cc(self, ip: str) -> Optional[str]:
        return self.geo.cc(ip)

    def ip_cn(self, ip: str) -> Optional[str]:
        return self.geo.country(ip)

    def ip_asn(self, ip: str) -> Optional[str]:
        return self.geo.asn(ip)

    def geoip(self, ip: str) -> Optional[dict]:
        return self.geo.record(ip)

    def robot_nick_bad(self, nick: str) -> int:
        if not nick:
            return BOT_WITHOUT_NICK
        if nmdc.nick_problem(nick, self.config.int("max_nick")):
            return BOT_BAD_CHARS
        if nick in (self.security_nick, self.opchat_nick):
            return BOT_RESERVED_NICK
        if nick in self.users or nick in self.logging_in:
            return BOT_EXISTS
        return BOT_OK

    def add_robot(self, nick: str, cls: int, desc: str, speed: str, email: str, share: str) -> bool:
        """F49.43 / A5: show a bot to everyone; its MyINFO has no tag and no flag byte."""
        if self.robot_nick_bad(nick) != BOT_OK:
            return False
        if cls < 0 or (cls > 5 and cls != 10):
            cls = 0
        bot = User(nick, cls, None)
        bot.fake_myinfo = nmdc.build_myinfo(nick, desc, "", speed, email, share)
        bot.in_list = True
        self.users = {nick: bot, **self.users}   # A5 shows a new bot first in the lists
        data = bot.fake_myinfo + "|"
        if cls >= self.config.int("oplist_class"):
            data += nmdc.nick_list("OpList", [nick])
        self._broadcast(data)
        return True

    def del_robot(self, nick: str) -> bool:
        bot = self.users.get(nick)
        if bot is None or not bot.robot or nick in (self.security_nick, self.opchat_nick):
            return False
        del self.users[nick]
        self._broadcast(f"$Quit {nick}|")
        return True

    # --- config --------------------------------------------------------------------------------

    def get_config(self, conf: str, var: str) -> Optional[str]:
        """A hub variable (``conf == "config"``) or a SetupList entry; None if there is none."""
        if conf == self.config_name:
            return self.config.get(var)
        return self.config.get_setup(conf, var)

    def set_config(self, conf: str, var: str, value: str, nick: Optional[str] = None) -> bool:
        """Set a variable; OnSetConfig (A3) may veto. Persisted, like the real DB write (A13)."""
        who = nick or self.security_nick
        if conf != self.config_name:
            self.config.store_setup(conf, var, value)
            return True
        kind = self.config.type_of(var)
        old = self.config.get(var)
        if kind == T_UNKNOWN or old is None:
            self.hook("OnSetConfig", who, conf, var, value, "", T_UNKNOWN)
            return False
        new = self.config.convert(var, value)
        if new is None or not self.hook("OnSetConfig", who, conf, var, value, old, kind):
            return False
        self.config.store(var, new)
        return True

    def topic(self, new: Optional[str] = None) -> str:
        """F49.54: the topic ("" if none); a new one is kept in memory and announced."""
        if new is not None and len(new) < 1024:
            self.config.store("hub_topic", new, persist=False)
            self._broadcast(f"$HubName {self.hub_name_line()}|")
        return self.config["hub_topic"]

    def hub_name_line(self) -> str:
        topic = self.config["hub_topic"]
        name = self.config["hub_name"]
        return f"{name} - {topic}" if topic else name

    # --- sending -------------------------------------------------------------------------------

    def _broadcast(self, data: str, wanted: Optional[Callable[[User], bool]] = None,
                   delay: bool = False) -> None:
        """Send ``data`` to every logged-in connection (``wanted`` filters by user)."""
        if delay:
            self._send_cache.append((data, wanted or (lambda _u: True)))
            return
        raw = data.encode("latin-1")
        now = time.monotonic()
        for conn in list(self.receivers.values()):
            if conn.closed or (wanted is not None and not wanted(conn.user)):  # type: ignore[arg-type]
                continue
            if conn.pending:
                conn.flush()
            conn.last_send = now
            conn.transport.write(raw)

    def send_to_user(self, data: str, nick: str, delay: int = 0) -> bool:
        user = self.online(nick)
        if user is None or user.conn is None:
            return False
        user.conn.send(nmdc.with_pipe(data), flush=not delay)
        return True

    def send_to_all(self, data: str, min_class: int, max_class: int, delay: int = 0) -> bool:
        if min_class > max_class:
            return False
        self._broadcast(nmdc.with_pipe(data), lambda u: min_class <= u.cls <= max_class,
                        bool(delay))
        return True

    def send_to_active(self, data: str, min_class: int = 0, max_class: int = 10,
                       delay: int = 0) -> bool:
        return self._send_to_mode(False, data, min_class, max_class, delay)

    def send_to_passive(self, data: str, min_class: int = 0, max_class: int = 10,
                        delay: int = 0) -> bool:
        return self._send_to_mode(True, data, min_class, max_class, delay)

    def _send_to_mode(self, passive: bool, data: str, min_class: int, max_class: int,
                      delay: int) -> bool:
        if min_class > max_class:
            return False
        self._broadcast(nmdc.with_pipe(data),
                        lambda u: u.passive == passive and min_class <= u.cls <= max_class,
                        bool(delay))
        return True

    def send_pm_to_all(self, data: str, from_nick: str, min_class: int, max_class: int) -> bool:
        if min_class > max_class:
            return False
        for conn in list(self.receivers.values()):
            user = conn.user
            if user is not None and min_class <= user.cls <= max_class:
                conn.send(nmdc.with_pipe(f"$To: {user.nick} From: {from_nick} $<{from_nick}> {data}"))
        return True

    def usermc(self, message: str, nick: str, from_nick: Optional[str] = None) -> bool:
        """``<from> message|`` to one user only (F49.49)."""
        return self.send_to_user(f"<{from_nick or self.security_nick}> {message}", nick)

    def pm(self, message: str, nick: str, from_nick: Optional[str] = None,
           sign_nick: Optional[str] = None) -> bool:
        """``$To: nick From: from $<sign> message|`` (F49.50)."""
        sender = from_nick or self.security_nick
        return self.send_to_user(f"$To: {nick} From: {sender} $<{sign_nick or sender}> {message}",
                                 nick)

    def send_to_opchat(self, message: str, from_nick: Optional[str] = None,
                       exclude: str = "") -> bool:
        """F49.1: a PM from OpChat to every OpChat member (class >= opchat_class)."""
        opchat = self.opchat_nick
        sign = from_nick if from_nick and self.online(from_nick) else opchat
        limit = self.config.int("opchat_class")
        for conn in list(self.receivers.values()):
            user = conn.user
            if user is not None and user.cls >= limit and user.nick != exclude:
                conn.send(nmdc.with_pipe(f"$To: {user.nick} From: {opchat} $<{sign}> {message}"))
        return True

    def hub_says(self, conn: Conn, text: str) -> None:
        """A main-chat line from the hub-security bot to one connection (DCPublicHS)."""
        conn.send(nmdc.chat(self.security_nick, text))

    # --- moderation ----------------------------------------------------------------------------

    def close_connection(self, nick: str, nice_ms: int = 0, reason: int = 0) -> bool:
        user = self.online(nick)
        if user is None or user.conn is None:
            return False
        if nice_ms:
            self.close_later(user.conn, (1000 if nice_ms == 1 else nice_ms) / 1000.0, reason)
        else:
            self.close(user.conn, reason)
        return True

    def kick_user(self, op_nick: str, nick: str, reason: str, redirect: str = "",
                  op_note: str = "", user_note: str = "") -> bool:
        """Kick with close, PM and a temporary ban (F49.35); ``redirect`` is not emulated."""
        victim = self.online(nick)
        if self.user(op_nick) is None or victim is None or victim.conn is None:
            return False
        if not self.hook("OnOperatorKicks", op_nick, nick, reason):
            return False
        victim.conn.send(nmdc.private(nick, op_nick, f"You are being kicked because: {reason}"))
        self.add_ban(nick, victim.ip, self.config.int("tban_kick"), reason)
        self.close_later(victim.conn, 1.0, CR_KICKED)
        return True

    def ban(self, op_nick: str, nick: str, reason: str, seconds: int, ban_type: int) -> bool:
        """F49.34: ban an online user (hub bit flags) and close it after 1 s."""
        victim = self.online(nick)
        if victim is None or victim.conn is None:
            return False
        if not self.hook("OnNewBan", op_nick, victim.ip, nick, reason):
            return False
        by_nick = bool(ban_type & (BF_NICKIP | BF_NICK)) or not ban_type & BF_IP
        by_ip = bool(ban_type & (BF_NICKIP | BF_IP))
        self.add_ban(nick if by_nick else "", victim.ip if by_ip else "", seconds, reason)
        self.close_later(victim.conn, 1.0, CR_KICKED)
        return True

    def add_ban(self, nick: str, ip: str, seconds: int, reason: str, temp: bool = False) -> None:
        until = time.time() + seconds if seconds > 0 else float("inf")
        self.bans.append(Ban(nick, ip, until, reason, temp))

    def find_ban(self, nick: str, ip: str) -> Optional[Ban]:
        now = time.time()
        self.bans = [b for b in self.bans if b.until > now]
        for ban in self.bans:
            if (ban.nick and ban.nick == nick) or (ban.ip and ban.ip == ip):
                return ban
        return None

    def del_nick_temp_ban(self, nick: str) -> bool:
        before = len(self.bans)
        self.bans = [b for b in self.bans if b.nick != nick]
        return len(self.bans) != before

    def del_ip_temp_ban(self, ip: str) -> bool:
        before = len(self.bans)
        self.bans = [b for b in self.bans if b.ip != ip]
        return len(self.bans) != before

    def user_restrictions(self, nick: str, nochat: str = "", nopm: str = "", nosearch: str = "",
                          noctm: str = "") -> bool:
        """F49.53: "" unchanged, "0" lift, "1" one week, else a period like "1h" or "2d"."""
        user = self.online(nick)
        if user is None:
            return False
        changes: dict[str, Optional[float]] = {}
        for kind, value in zip(RESTRICTIONS, (nochat, nopm, nosearch, noctm)):
            if value in ("", None):
                continue
            if value == "0":
                changes[kind] = None
                continue
            seconds = 604800 if value == "1" else _period_seconds(value)
            if seconds is None:
                return False
            changes[kind] = time.time() + seconds
        for kind, until in changes.items():
            if until is None:
                user.restrict_until.pop(kind, None)
            else:
                user.restrict_until[kind] = until
        return any(user.restricted(k) for k in RESTRICTIONS)

    # --- registered users ----------------------------------------------------------------------

    def register(self, nick: str, cls: int, password: str) -> None:
        """Put a nick in the reg list directly (hub setup, no hook)."""
        self.reg[nick] = RegUser(cls, password)

    def add_reg_user(self, nick: str, cls: int, password: Optional[str] = None,
                     op_nick: Optional[str] = None) -> bool:
        if cls not in VALID_CLASSES or not nick or nick in self.reg:
            return False
        if not self.hook("OnNewReg", op_nick or self.security_nick, nick, cls):
            return False
        self.reg[nick] = RegUser(cls, password or "")
        return True

    def del_reg_user(self, nick: str) -> bool:
        return self.reg.pop(nick, None) is not None

    def set_reg_class(self, nick: str, cls: int) -> bool:
        if cls not in VALID_CLASSES or nick not in self.reg:
            return False
        self.reg[nick].cls = cls
        return True

    # --- MyINFO edits by scripts ---------------------------------------------------------------

    def set_myinfo(self, nick: str, desc: Optional[str] = None, tag: Optional[str] = None,
                   speed: Optional[str] = None, email: Optional[str] = None,
                   share: Optional[str] = None) -> bool:
        """F49.11: rebuild what others see (the fake MyINFO) and announce it."""
        user = self.users.get(nick)
        if user is None:
            return False
        parts = nmdc.split_myinfo(user.fake_myinfo) or (nick, "", "", "", "", str(user.share))
        new = [v if v is not None else old
               for v, old in zip((desc, tag, speed, email, share), parts[1:])]
        user.fake_myinfo = nmdc.build_myinfo(nick, *new)
        self._broadcast(user.fake_myinfo + "|")
        return True

    def set_myinfo_flag(self, nick: str, flag: int, unset: bool = False) -> bool:
        user = self.users.get(nick)
        parts = nmdc.split_myinfo(user.fake_myinfo) if user else None
        if user is None or parts is None or flag < 1:
            return False
        speed = parts[3] or "\x01"
        status = ord(speed[-1])
        status = status & ~flag if unset else status | flag
        return self.set_myinfo(nick, speed=speed[:-1] + chr(status & 0xFF))

    def unset_myinfo_flag(self, nick: str, flag: int) -> bool:
        return self.set_myinfo_flag(nick, flag, unset=True)

    def set_user_ip(self, nick: str, ip: str) -> bool:
        user = self.online(nick)
        if user is None or not ip:
            return False
        user.ip = ip
        return True

    def parse_command(self, nick: str, command: str, in_pm: int) -> bool:
        """F49.38, hub bug included: every call re-runs the FIRST command ever passed."""
        if self._parse_command_first is None:
            self._parse_command_first = command
        user = self.online(nick)
        if user is None or user.conn is None:
            return False
        self.commands.parse(user.conn, self._parse_command_first, int(in_pm))
        return True

    # --- test / demo harness -------------------------------------------------------------------

    def login(self, nick: str, **kwargs: Any) -> "SimUser":
        """Log a simulated user in (see ``users.SimUser.login`` for the arguments)."""
        from vhctl.sim.users import SimUser

        return self.call(SimUser.login, self, nick, kwargs)

    def login_many(self, specs: Iterable[tuple[str, dict]]) -> list["SimUser"]:
        """Many logins in one hand-off to the hub thread (storms)."""
        from vhctl.sim.users import SimUser

        return self.call(lambda: [SimUser.login(self, n, kw) for n, kw in specs], timeout=600)

    def master(self) -> "SimUser":
        """The built-in master account (class 10), logged in on first use."""
        def get() -> "SimUser":
            if self._master is None or not self._master.connected:
                from vhctl.sim.users import SimUser

                self.register(MASTER_NICK, 10, self._master_password)
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


def _period_seconds(text: str) -> Optional[int]:
    """"30s", "5m", "1h", "2d", "1w" (a bare number is seconds); None if unreadable."""
    text = text.strip().lower()
    if text.isdigit():
        return int(text)
    if len(text) > 1 and text[:-1].isdigit() and text[-1] in _PERIOD_UNITS:
        return int(text[:-1]) * _PERIOD_UNITS[text[-1]]
    return None

