"""The life of a connection on the hub side: opened over a transport, closed with its hooks in the
observed order (A3, A4), dropped without any hook when the process stops or dies (A13, A18), and
the timer's housekeeping (login timeouts, keep-alives).

What a connection *says* is ``proto``'s and ``login``'s business; this module only opens and ends
them and keeps the lists and counters right when they end. Hub thread only.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Optional

from vhctl.sim.model import (
    CR_TIMEOUT, KEEPALIVE_SECONDS, LOGIN_TIMEOUT_SECONDS, Conn, Hook)
from vhctl.sim.sending import Sender
from vhctl.sim.state import HubState


class Connections:
    """Opens and closes the connections of one hub."""

    def __init__(self, state: HubState, sender: Sender, hook: Hook,
                 call_later: Callable[..., None]) -> None:
        self.state = state
        self.sender = sender
        self.hook = hook
        self.call_later = call_later

    def open(self, transport: Any, ip: str, cc: Optional[str], discard: bool = False) -> Conn:
        """A new connection object (the protocol greets it: ``Proto.on_connect``)."""
        if cc:
            self.state.geo.declare(ip, cc)
        return Conn(transport, ip, cc, self.state.host_at_connect(ip), self.sender.defer, discard)

    def close(self, conn: Conn, reason: int, delay_quit: bool = False) -> None:
        """Close a connection: OnCloseConn, OnCloseConnEx, OnUserLogout (A3), then the user leaves
        the list and the others get ``$Quit`` (through the send cache when ``delay_quit``, A4)."""
        if conn.closed:
            return
        state = self.state
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
            state.users.pop(nick, None)
            state.receivers.pop(nick, None)
            self.sender.broadcast(f"$Quit {nick}|", delay=delay_quit)
        elif user is not None and state.logging_in.get(nick) is conn:
            del state.logging_in[nick]
        if conn.counted:
            state.users_count -= 1
            conn.counted = False
        if user is not None:
            state.total_share -= user.share
            user.share = 0
        state.conns.discard(conn)
        self.sender.forget(conn)
        conn.transport.close(True)

    def close_later(self, conn: Conn, seconds: float, reason: int) -> None:
        self.call_later(seconds, self.close, conn, reason)

    def close_by_nick(self, nick: str, nice_ms: int = 0, reason: int = 0) -> bool:
        """vh.CloseConnection (F49): at once, or after ``nice_ms`` (1 means one second)."""
        user = self.state.online(nick)
        if user is None or user.conn is None:
            return False
        if nice_ms:
            self.close_later(user.conn, (1000 if nice_ms == 1 else nice_ms) / 1000.0, reason)
        else:
            self.close(user.conn, reason)
        return True

    def drop_all(self, flush: bool) -> None:
        """Every socket closes and no hook runs: SIGTERM (``flush``, A18) or a crash (A13)."""
        for conn in list(self.state.conns):
            if flush:
                conn.flush()
            conn.closed = True
            if not flush:
                conn.close_reason = None
            conn.transport.close(flush)
        self.state.conns.clear()

    def housekeeping(self) -> None:
        """The timer's connection work: login timeouts, then keep-alives for quiet connections."""
        now = time.monotonic()
        for conn in list(self.state.conns):
            if conn.user is None or not conn.user.in_list:
                if now - conn.connected_at > LOGIN_TIMEOUT_SECONDS:
                    self.close(conn, CR_TIMEOUT)
            elif not conn.discard and now - conn.last_send >= KEEPALIVE_SECONDS:
                conn.send("|")
