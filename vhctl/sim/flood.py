"""Protocol-flood protection for main chat (A17): users up to ``max_class_proto_flood`` who send
more than ``proto_flood_chat_lim`` lines within ``proto_flood_chat_time`` seconds are reported to
the operators through OpChat, their IP is put in the hub's temporary ban list for
``proto_flood_tban_time`` seconds (in memory only: a restart lifts it) and the connection is closed.

Only what users send is counted: lines a script sends through vh are not chat and never limited.
"""

from __future__ import annotations

import time

from vhctl.sim.connections import Connections
from vhctl.sim.model import CR_KICKED, User
from vhctl.sim.moderation import Moderation
from vhctl.sim.sending import Sender
from vhctl.sim.state import HubState

REASON = "Protocol flood detected: Chat"


class ChatFlood:
    """The main-chat flood check of one hub."""

    def __init__(self, state: HubState, sender: Sender, moderation: Moderation,
                 connections: Connections) -> None:
        self.state = state
        self.sender = sender
        self.moderation = moderation
        self.connections = connections

    def flooded(self, user: User) -> bool:
        """Count one chat line from ``user``; True when it is the one that trips the limit (the
        caller then drops the line; the user is already reported, banned and being closed)."""
        config = self.state.config
        if not self.state.chat_rules or user.cls > config.number("max_class_proto_flood") \
                or user.conn is None:
            return False
        period = config.number("proto_flood_chat_time")
        now = time.monotonic()
        user.chat_times = [t for t in user.chat_times if now - t < period]
        user.chat_times.append(now)
        count = len(user.chat_times)
        if count <= config.number("proto_flood_chat_lim"):
            return False
        elapsed = int(now - user.chat_times[0])
        self.sender.send_to_opchat(f"{REASON} [{count}:{elapsed}:{period}] ][ Nick: {user.nick} "
                                   f"][ IP: {user.ip}.{user.cc or ''}")
        self.moderation.add_ban("", user.ip, config.number("proto_flood_tban_time"), REASON,
                                temp=True)
        user.chat_times = []
        self.connections.close(user.conn, CR_KICKED)
        return True
