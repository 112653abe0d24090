"""What the hub does with each client message once it is read (Verlihub's cDCProto): the cut at
``|``, the rule of which messages may come before the login is complete, chat, PMs, searches and
connection requests, and where each hook fires, in the order observed on the real hub (A3, A4, F21,
F25-F30). The login messages themselves are ``login``'s.

Bad input gets the hub's treatment (a close with a reason), never an exception out of here.
"""

from __future__ import annotations

import time
from typing import Callable

from vhctl.sim import nmdc, welcome
from vhctl.sim.commands import Commands
from vhctl.sim.connections import Connections
from vhctl.sim.flood import ChatFlood
from vhctl.sim.login import Login
from vhctl.sim.model import (
    CR_LOGIN_ERR, CR_PLUGIN, CR_QUIT, CR_SYNTAX, MAX_MESSAGE, OP_CLASS, VIP_CLASS, Conn, Hook, User)
from vhctl.sim.sending import Sender
from vhctl.sim.state import HubState

#: Messages a connection may send before its login is complete; anything else closes it.
_LOGIN_MESSAGES = frozenset(("Supports", "Key", "ValidateNick", "MyPass", "Version", "GetNickList",
                             "GetINFO", "MyINFO", "BotINFO", "MyHubURL", "ExtJSON"))


class Proto:
    """The message handlers of one hub."""

    def __init__(self, state: HubState, sender: Sender, connections: Connections, hook: Hook,
                 login: Login, commands: Commands, flood: ChatFlood) -> None:
        self.state = state
        self.sender = sender
        self.connections = connections
        self.hook = hook
        self.commands = commands
        self.flood = flood
        self.handlers: dict[str, Callable[[Conn, str], None]] = {
            "Supports": login.on_supports, "Key": login.on_key,
            "ValidateNick": login.on_validate_nick, "MyPass": login.on_mypass,
            "Version": login.on_version, "GetNickList": login.on_get_nick_list,
            "MyINFO": login.on_myinfo, "GetINFO": self.on_get_info, "To:": self.on_pm,
            "MCTo:": self.on_mcto, "ConnectToMe": self.on_ctm, "RevConnectToMe": self.on_rctm,
            "Search": self.on_search, "SR": self.on_sr, "Quit": self.on_quit,
            "BotINFO": self.on_simple_hook, "MyHubURL": self.on_simple_hook,
            "ExtJSON": self.on_simple_hook,
        }

    # --- input ---------------------------------------------------------------------------------

    def on_connect(self, conn: Conn) -> None:
        """OnNewConn (before $Lock, F31); a block refuses the connection."""
        state = self.state
        state.conns.add(conn)
        if not self.hook("OnNewConn", conn.ip):
            self.connections.close(conn, CR_PLUGIN)
            return
        conn.lock = nmdc.make_lock()
        conn.send(conn.lock + "|")

    def on_data(self, conn: Conn, data: bytes | str) -> None:
        """Bytes from the client: cut at ``|`` and handle each message."""
        if conn.closed:
            return
        conn.buffer += data.decode("latin-1") if isinstance(data, bytes) else data
        messages, conn.buffer = nmdc.split_messages(conn.buffer)
        for msg in messages:
            if conn.closed:
                return
            if len(msg) > MAX_MESSAGE:
                self.connections.close(conn, CR_SYNTAX)
                return
            self.treat(conn, msg)
        if len(conn.buffer) > MAX_MESSAGE and not conn.closed:
            self.connections.close(conn, CR_SYNTAX)

    def treat(self, conn: Conn, msg: str) -> None:
        """One message: OnParsedMsgAny for known users (A3), then its handler."""
        if not msg:
            return  # keep-alive
        if msg.startswith("<"):
            kind = "<"
        elif msg.startswith("$"):
            kind = msg[1:].split(" ", 1)[0]
        else:
            kind = ""
        user = conn.user
        if user is None and kind not in ("Supports", "Key", "ValidateNick"):
            self.connections.close(conn, CR_LOGIN_ERR if kind in _LOGIN_MESSAGES or kind == "<"
                           else CR_SYNTAX)
            return
        if user is not None and not user.in_list and kind not in _LOGIN_MESSAGES:
            self.connections.close(conn, CR_LOGIN_ERR)
            return
        if user is not None and not self.hook("OnParsedMsgAny", user.nick, msg):
            return
        if kind == "<":
            self.on_chat(conn, msg)
            return
        handler = self.handlers.get(kind)
        if handler is not None:
            handler(conn, msg)
        elif user is not None and user.in_list:
            self.hook("OnUnknownMsg", user.nick, msg)

    # --- chat and private messages -------------------------------------------------------------

    def on_chat(self, conn: Conn, msg: str) -> None:
        """F25 order: nick check, chat delay, commands, gag, same message, OnParsedMsgChat."""
        state = self.state
        user = conn.user
        assert user is not None
        parsed = nmdc.parse_chat(msg)
        if parsed is None or parsed[0] != user.nick:
            claimed = parsed[0] if parsed else ""
            self.sender.hub_says(conn, f"Your nick is not {claimed} but {user.nick}.")
            self.connections.close_later(conn, 1.0, CR_SYNTAX)
            return
        text = parsed[1]
        if self.flood.flooded(user) or not self._chat_delay_ok(conn, user):
            return
        if self.commands.parse(conn, text, 0):
            return
        if user.restricted("nochat"):
            self.sender.hub_says(conn, "You're not allowed to use main chat right now.")
            return
        if state.chat_rules and user.cls < OP_CLASS and msg == user.last_chat:
            self.sender.hub_says(conn, "Your message wasn't sent because it equals your previous "
                                       "message.")
            return
        user.last_chat = msg
        if not self.hook("OnParsedMsgChat", user.nick, text):
            return
        self.sender.broadcast(msg + "|")

    def _chat_delay_ok(self, conn: Conn, user: User) -> bool:
        """``int_chat_ms`` for users below VIP; the clock restarts on every try (A1)."""
        state = self.state
        limit = state.config.number("int_chat_ms")
        now = time.monotonic() * 1000
        waited = now - user.last_chat_ms
        user.last_chat_ms = now
        if not state.chat_rules or user.cls >= VIP_CLASS or not limit or waited >= limit:
            return True
        waited_text = welcome.format_period(int(waited))
        self.sender.hub_says(conn, f"Your message wasn't sent because minimum chat delay is {limit} "
                                   f"ms but you waited only {waited_text}.")
        return False

    def on_pm(self, conn: Conn, msg: str) -> None:
        """F26: OnParsedMsgPM first; then the bot's handler or delivery to the user."""
        state = self.state
        user = conn.user
        assert user is not None
        parsed = nmdc.parse_pm(msg)
        if parsed is None:
            return
        to, sender, _sign, text = parsed
        if sender != user.nick:
            self.connections.close(conn, CR_SYNTAX)
            return
        target = state.user(to)
        if target is None:
            return
        if target.robot:
            if not self.hook("OnParsedMsgPM", user.nick, text, to):
                return
            if to == state.security_nick:
                self.commands.parse(conn, text, 1)
            elif to == state.opchat_nick and user.cls >= state.config.number("opchat_class"):
                if self.hook("OnOpChatMessage", user.nick, text):
                    self.sender.send_to_opchat(text, user.nick, exclude=user.nick)
            return
        if user.restricted("nopm") or not self.hook("OnParsedMsgPM", user.nick, text, to):
            return
        assert target.conn is not None
        target.conn.send(msg + "|")

    def on_mcto(self, conn: Conn, msg: str) -> None:
        state = self.state
        user = conn.user
        assert user is not None
        parsed = nmdc.parse_mcto(msg)
        if parsed is None or parsed[1] != user.nick:
            return
        to, sender, text = parsed
        target = state.online(to)
        if target is None or not self.hook("OnParsedMsgMCTo", user.nick, text, to):
            return
        assert target.conn is not None
        target.conn.send(msg + "|" if "MCTo" in target.conn.features else nmdc.chat(sender, text))

    # --- the rest of the protocol: relayed with their hooks ------------------------------------

    def on_get_info(self, conn: Conn, msg: str) -> None:
        target = self.state.user(msg[len("$GetINFO "):].split(" ", 1)[0])
        if target is not None and target.fake_myinfo:
            conn.send(target.fake_myinfo + "|")

    def on_ctm(self, conn: Conn, msg: str) -> None:
        state = self.state
        user = conn.user
        fields = msg.split(" ")
        if user is None or len(fields) < 3 or user.restricted("noctm"):
            return
        target = state.online(fields[1])
        ip, _, port = fields[2].rpartition(":")
        if target is None or target is user or not self.hook(
                "OnParsedMsgConnectToMe", user.nick, fields[1], ip, port):
            return
        target.conn.send(msg + "|")  # type: ignore[union-attr]

    def on_rctm(self, conn: Conn, msg: str) -> None:
        state = self.state
        user = conn.user
        fields = msg.split(" ")
        if user is None or len(fields) != 3 or fields[1] != user.nick or user.restricted("noctm"):
            return
        target = state.online(fields[2])
        if target is None or target is user or not self.hook(
                "OnParsedMsgRevConnectToMe", user.nick, fields[2]):
            return
        target.conn.send(msg + "|")  # type: ignore[union-attr]

    def on_search(self, conn: Conn, msg: str) -> None:
        user = conn.user
        if user is None or user.restricted("nosearch") or not self.hook(
                "OnParsedMsgSearch", user.nick, msg):
            return
        passive = msg.startswith("$Search Hub:")
        self.sender.broadcast(msg + "|", lambda u: u is not user and not (passive and u.passive))

    def on_sr(self, conn: Conn, msg: str) -> None:
        state = self.state
        user = conn.user
        head, sep, to = msg.rpartition("\x05")
        target = state.online(to) if sep else None
        if user is None or target is None or not self.hook("OnParsedMsgSR", user.nick, msg):
            return
        target.conn.send(head + "|")  # type: ignore[union-attr]

    def on_quit(self, conn: Conn, _msg: str) -> None:
        self.connections.close(conn, CR_QUIT)

    def on_simple_hook(self, conn: Conn, msg: str) -> None:
        """$BotINFO, $MyHubURL, $ExtJSON: stored where the vh API reads them, hook called."""
        user = conn.user
        if user is None:
            return
        kind = msg[1:].split(" ", 1)[0]
        if kind == "MyHubURL":
            user.hub_url = msg[len("$MyHubURL "):]
        elif kind == "ExtJSON":
            user.ext_json = msg[len("$ExtJSON "):]
        self.hook(f"OnParsedMsg{kind}", user.nick, msg)
