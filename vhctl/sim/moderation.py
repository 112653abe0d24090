"""Moderation: kicks and bans (with their hooks, F49.34, F49.35), the ban list that refuses logins
(temporary bans from flood protection included, A17), and per-user restrictions (F49.53).

Hub thread only.
"""

from __future__ import annotations

import time
from typing import Optional

from vhctl.sim import nmdc
from vhctl.sim.connections import Connections
from vhctl.sim.model import BF_IP, BF_NICK, BF_NICKIP, CR_KICKED, RESTRICTIONS, Ban, Hook
from vhctl.sim.state import HubState

_PERIOD_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class Moderation:
    """The ban list and the operator actions of one hub."""

    def __init__(self, state: HubState, connections: Connections, hook: Hook) -> None:
        self.state = state
        self.connections = connections
        self.hook = hook
        self.bans: list[Ban] = []

    def kick_user(self, op_nick: str, nick: str, reason: str, redirect: str = "",
                  op_note: str = "", user_note: str = "") -> bool:
        """Kick with close, PM and a temporary ban (F49.35); ``redirect`` is not emulated."""
        victim = self.state.online(nick)
        if self.state.user(op_nick) is None or victim is None or victim.conn is None:
            return False
        if not self.hook("OnOperatorKicks", op_nick, nick, reason):
            return False
        victim.conn.send(nmdc.private(nick, op_nick, f"You are being kicked because: {reason}"))
        self.add_ban(nick, victim.ip, self.state.config.number("tban_kick"), reason)
        self.connections.close_later(victim.conn, 1.0, CR_KICKED)
        return True

    def ban(self, op_nick: str, nick: str, reason: str, seconds: int, ban_type: int) -> bool:
        """F49.34: ban an online user (hub bit flags) and close it after 1 s."""
        victim = self.state.online(nick)
        if victim is None or victim.conn is None:
            return False
        if not self.hook("OnNewBan", op_nick, victim.ip, nick, reason):
            return False
        by_nick = bool(ban_type & (BF_NICKIP | BF_NICK)) or not ban_type & BF_IP
        by_ip = bool(ban_type & (BF_NICKIP | BF_IP))
        self.add_ban(nick if by_nick else "", victim.ip if by_ip else "", seconds, reason)
        self.connections.close_later(victim.conn, 1.0, CR_KICKED)
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
        user = self.state.online(nick)
        if user is None:
            return False
        changes: dict[str, Optional[float]] = {}
        for kind, value in zip(RESTRICTIONS, (nochat, nopm, nosearch, noctm)):
            if value in ("", None):
                continue
            if value == "0":
                changes[kind] = None
                continue
            seconds = 604800 if value == "1" else period_seconds(value)
            if seconds is None:
                return False
            changes[kind] = time.time() + seconds
        for kind, until in changes.items():
            if until is None:
                user.restrict_until.pop(kind, None)
            else:
                user.restrict_until[kind] = until
        return any(user.restricted(k) for k in RESTRICTIONS)


def period_seconds(text: str) -> Optional[int]:
    """"30s", "5m", "1h", "2d", "1w" (a bare number is seconds); None if unreadable."""
    text = text.strip().lower()
    if text.isdigit():
        return int(text)
    if len(text) > 1 and text[:-1].isdigit() and text[-1] in _PERIOD_UNITS:
        return int(text[:-1]) * _PERIOD_UNITS[text[-1]]
    return None
