"""The hub's records and codes: a user in the list, a connection, a registered user, a ban, and the
numbers the real hub uses for close reasons, robot nick checks and ban kinds.

These are plain data with no behaviour beyond their own fields; every part of the hub shares
them, so they live below all of it (no part imports another through here).
"""

from __future__ import annotations

import time
from typing import Any, Callable, Optional

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
    users with recording off) are sent nothing at all, which keeps login storms linear. Output sent
    with ``flush=False`` waits for the next timer tick: ``defer`` tells the sender which connection
    to flush then.
    """

    def __init__(self, transport: Any, ip: str, cc: Optional[str], host: str,
                 defer: Callable[["Conn"], None], discard: bool = False) -> None:
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
        self.host = host
        self._defer = defer

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
            self._defer(self)

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


#: The plugin's hook call: ``hook(name, *args)`` -> False when some script blocked (F19).
Hook = Callable[..., bool]
