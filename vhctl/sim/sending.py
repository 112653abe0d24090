"""How the hub sends: to one user, to everyone (by class, by active/passive mode), PMs, OpChat, the
hub-security bot's lines, and the send cache that holds delayed data until the next timer tick (A4).

These are the primitives the vh module's Send* functions call (F49); they write to connections,
never change who is in the list. Hub thread only.
"""

from __future__ import annotations

import time
from typing import Callable, Optional

from vhctl.sim import nmdc
from vhctl.sim.model import Conn, User
from vhctl.sim.state import HubState

Wanted = Callable[[User], bool]


class Sender:
    """The send primitives of one hub, with its send cache and the connections to flush at tick."""

    def __init__(self, state: HubState) -> None:
        self.state = state
        self._cache: list[tuple[str, Wanted]] = []
        self._dirty: set[Conn] = set()

    # --- the send cache ------------------------------------------------------------------------

    def defer(self, conn: Conn) -> None:
        """``conn`` has output waiting for the next tick (``Conn.send(..., flush=False)``)."""
        self._dirty.add(conn)

    def forget(self, conn: Conn) -> None:
        """A closed connection is not flushed any more."""
        self._dirty.discard(conn)

    def flush_caches(self) -> None:
        """The tick's first work (F37): delayed broadcasts, then every deferred connection."""
        cache, self._cache = self._cache, []
        for data, wanted in cache:
            self.broadcast(data, wanted)
        dirty, self._dirty = self._dirty, set()
        for conn in dirty:
            conn.flush()

    # --- to many -------------------------------------------------------------------------------

    def broadcast(self, data: str, wanted: Optional[Wanted] = None, delay: bool = False) -> None:
        """Send ``data`` to every logged-in connection (``wanted`` filters by user)."""
        if delay:
            self._cache.append((data, wanted or (lambda _u: True)))
            return
        raw = data.encode("latin-1")
        now = time.monotonic()
        for conn in list(self.state.receivers.values()):
            if conn.closed or (wanted is not None and not wanted(conn.user)):  # type: ignore[arg-type]
                continue
            if conn.pending:
                conn.flush()
            conn.last_send = now
            conn.transport.write(raw)

    def send_to_all(self, data: str, min_class: int, max_class: int, delay: int = 0) -> bool:
        if min_class > max_class:
            return False
        self.broadcast(nmdc.with_pipe(data), lambda u: min_class <= u.cls <= max_class, bool(delay))
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
        self.broadcast(nmdc.with_pipe(data),
                       lambda u: u.passive == passive and min_class <= u.cls <= max_class,
                       bool(delay))
        return True

    def send_pm_to_all(self, data: str, from_nick: str, min_class: int, max_class: int) -> bool:
        if min_class > max_class:
            return False
        for conn in list(self.state.receivers.values()):
            user = conn.user
            if user is not None and min_class <= user.cls <= max_class:
                conn.send(nmdc.with_pipe(
                    f"$To: {user.nick} From: {from_nick} $<{from_nick}> {data}"))
        return True

    def send_to_opchat(self, message: str, from_nick: Optional[str] = None,
                       exclude: str = "") -> bool:
        """F49.1: a PM from OpChat to every OpChat member (class >= opchat_class)."""
        state = self.state
        opchat = state.opchat_nick
        sign = from_nick if from_nick and state.online(from_nick) else opchat
        limit = state.config.number("opchat_class")
        for conn in list(state.receivers.values()):
            user = conn.user
            if user is not None and user.cls >= limit and user.nick != exclude:
                conn.send(nmdc.with_pipe(f"$To: {user.nick} From: {opchat} $<{sign}> {message}"))
        return True

    # --- to one --------------------------------------------------------------------------------

    def send_to_user(self, data: str, nick: str, delay: int = 0) -> bool:
        user = self.state.online(nick)
        if user is None or user.conn is None:
            return False
        user.conn.send(nmdc.with_pipe(data), flush=not delay)
        return True

    def usermc(self, message: str, nick: str, from_nick: Optional[str] = None) -> bool:
        """``<from> message|`` to one user only (F49.49)."""
        return self.send_to_user(f"<{from_nick or self.state.security_nick}> {message}", nick)

    def pm(self, message: str, nick: str, from_nick: Optional[str] = None,
           sign_nick: Optional[str] = None) -> bool:
        """``$To: nick From: from $<sign> message|`` (F49.50)."""
        sender = from_nick or self.state.security_nick
        return self.send_to_user(f"$To: {nick} From: {sender} $<{sign_nick or sender}> {message}",
                                 nick)

    def hub_says(self, conn: Conn, text: str) -> None:
        """A main-chat line from the hub-security bot to one connection (DCPublicHS)."""
        conn.send(nmdc.chat(self.state.security_nick, text))
