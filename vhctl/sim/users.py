"""Simulated users: clients without a socket, driven from code, recording the exact bytes received.

A simulated user goes through the same handshake and event flow as a socket client (``$Lock`` ...
``$MyINFO``, every hook in order); only the transport differs. Text a test passes in is encoded the
way modern clients do it (UTF-8, like microdc2 and ncdc, A7) unless the user was given another
``encoding``; ``send_raw`` puts exact bytes on the "wire".

Mass users can log in with ``record=False``: the hub then sends them nothing at all, so a login
storm costs O(1) per login for them instead of O(users).
"""

from __future__ import annotations

import secrets
import time
from typing import Any, Callable, Optional, Protocol

from vhctl.sim import nmdc
from vhctl.sim.model import CR_DEFAULT, Conn, LoginError
from vhctl.sim.proto import Proto
from vhctl.sim.state import HubState

DEFAULT_SUPPORTS = "NoGetINFO NoHello UserIP2 TTHSearch ZPipe0 HubTopic"   # the A1 probe client
DEFAULT_TAG = "<++ V:0.868,M:A,H:1/0/0,S:3>"

LOGIN_DEFAULTS: dict[str, Any] = {
    "user_class": 0, "share": 1234567890, "desc": "d", "tag": DEFAULT_TAG, "speed": "100\x01",
    "email": "", "ip": "127.0.0.1", "cc": "L1", "host": None, "password": None, "record": True,
    "supports": DEFAULT_SUPPORTS, "encoding": "utf-8", "check": True, "version": "1,0091",
}


class UserHub(Protocol):
    """What a simulated user needs of its hub (``vhctl.sim.hub.Hub`` is one)."""

    state: HubState
    proto: Proto

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float = 10) -> Any: ...

    def new_conn(self, transport: Any, ip: str, cc: Optional[str], discard: bool) -> Conn: ...

    def close(self, conn: Conn, reason: int, delay_quit: bool = False) -> None: ...


class SimTransport:
    """Where the hub's output for a simulated user goes."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.chunks.append(data)

    def close(self, flush: bool = True) -> None:
        self.closed = True


class SimUser:
    """One simulated client. Its methods may be called from any thread."""

    def __init__(self, hub: UserHub, nick: str, conn: Conn, transport: SimTransport,
                 options: dict[str, Any]) -> None:
        self.hub = hub
        self.nick = nick
        self.conn = conn
        self.transport = transport
        self.encoding: str = options["encoding"]
        self.info = {k: options[k] for k in ("desc", "tag", "speed", "email", "share")}

    # --- login ---------------------------------------------------------------------------------

    @classmethod
    def login(cls, hub: UserHub, nick: str, kwargs: dict[str, Any]) -> "SimUser":
        """Hub thread: connect and run the whole handshake (see the module docstring)."""
        unknown = set(kwargs) - set(LOGIN_DEFAULTS)
        if unknown:
            raise TypeError(f"login() got unexpected arguments: {', '.join(sorted(unknown))}")
        opts = {**LOGIN_DEFAULTS, **kwargs}
        password = opts["password"]
        state = hub.state
        if opts["user_class"] > 0 and nick not in state.reg:
            password = password or secrets.token_urlsafe(9)
            state.register(nick, opts["user_class"], password)
        elif nick in state.reg and password is None:
            password = state.reg[nick].password
        if opts["host"] is not None:
            state.reverse_dns[opts["ip"]] = opts["host"]
        transport = SimTransport()
        conn = hub.new_conn(transport, opts["ip"], opts["cc"], discard=not opts["record"])
        user = cls(hub, nick, conn, transport, opts)
        key = nmdc.lock_to_key(nmdc.lock_token(conn.lock)) if conn.lock else ""
        user._feed(f"$Supports {opts['supports']} |$Key {key}|$ValidateNick {user._wire(nick)}|")
        if conn.awaiting_pass and not conn.closed:
            user._feed(f"$MyPass {user._wire(password or '')}|")
        user._feed(f"$Version {opts['version']}|$GetNickList|{user._myinfo()}|")
        ok = not conn.closed and conn.user is not None and conn.user.in_list
        if not ok and opts["check"]:
            raise LoginError(f"login of {nick!r} failed (close reason {conn.close_reason}); it "
                             f"received {user.received[-300:]!r}")
        return user

    # --- what the user does --------------------------------------------------------------------

    def say(self, text: str) -> None:
        """A main-chat line."""
        self.send_raw(f"<{self.nick}> {text}|")

    def pm(self, to: str, text: str) -> None:
        self.send_raw(f"$To: {to} From: {self.nick} $<{self.nick}> {text}|")

    def mcto(self, to: str, text: str) -> None:
        self.send_raw(f"$MCTo: {to} ${self.nick} {text}|")

    def myinfo(self, **fields: Any) -> None:
        """Send a changed MyINFO (desc, tag, speed, email, share)."""
        unknown = set(fields) - set(self.info)
        if unknown:
            raise TypeError(f"myinfo() got unexpected fields: {', '.join(sorted(unknown))}")
        self.info.update(fields)
        self.hub.call(self._feed, self._myinfo() + "|")

    def logout(self) -> None:
        """The client closes its connection (close reason 0, A3)."""
        self.hub.call(self.hub.close, self.conn, CR_DEFAULT)

    def send_raw(self, data: str | bytes) -> None:
        """Exact protocol data: bytes as they are, str encoded in this user's encoding."""
        raw = data if isinstance(data, bytes) else data.encode(self.encoding)
        self.hub.call(self._feed, raw.decode("latin-1"))

    # --- what the user got ---------------------------------------------------------------------

    @property
    def received(self) -> bytes:
        """Every byte the hub sent this user."""
        return b"".join(list(self.transport.chunks))

    def protocol_messages(self) -> list[str]:
        """``received`` cut at ``|`` the way a client does, decoded in this user's encoding."""
        text = self.received.decode(self.encoding, errors="replace")
        return text.split("|")[:-1]

    def messages(self) -> list[str]:
        """Chat lines and PMs received (without the ``|``)."""
        return [m for m in self.protocol_messages() if m.startswith("<") or m.startswith("$To:")]

    def clear(self) -> None:
        self.transport.chunks.clear()

    def wait_for(self, text: str, timeout: float = 5.0) -> bool:
        """Wait until ``text`` (decoded) appears in what was received; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.received.decode(self.encoding, errors="replace"):
                return True
            time.sleep(0.01)
        return False

    @property
    def connected(self) -> bool:
        return not self.conn.closed

    @property
    def close_reason(self) -> Optional[int]:
        return self.conn.close_reason

    @property
    def user_class(self) -> int:
        return self.conn.user.cls if self.conn.user else -2

    def command_reply(self, text: str, in_pm: bool = False) -> str:
        """Hub thread: type a command and return what the hub-security bot answered (main chat or
        PM), one reply per line, without the ``<Verlihub> `` framing."""
        mark = len(self.transport.chunks)
        if in_pm:
            self._feed(self._wire(f"$To: {self.hub.state.security_nick} From: {self.nick} "
                                  f"$<{self.nick}> {text}|"))
        else:
            self._feed(self._wire(f"<{self.nick}> {text}|"))
        got = b"".join(self.transport.chunks[mark:]).decode(self.encoding, errors="replace")
        sec = self.hub.state.security_nick
        replies = []
        for msg in got.split("|")[:-1]:
            chat = nmdc.parse_chat(msg)
            pm = nmdc.parse_pm(msg)
            if chat and chat[0] == sec:
                replies.append(chat[1])
            elif pm and pm[1] == sec:
                replies.append(pm[3])
        return "\n".join(replies)

    # --- internals -----------------------------------------------------------------------------

    def _wire(self, text: str) -> str:
        return text.encode(self.encoding).decode("latin-1")

    def _myinfo(self) -> str:
        i = self.info
        return self._wire(nmdc.build_myinfo(self.nick, i["desc"], i["tag"], i["speed"], i["email"],
                                            i["share"]))

    def _feed(self, data: str) -> None:
        self.hub.proto.on_data(self.conn, data)

    def __repr__(self) -> str:
        return f"<SimUser {self.nick} class={self.user_class} connected={self.connected}>"
