"""The login handshake on the hub side (Verlihub's cDCProto for $Supports ... $MyINFO) and its
outcomes: accepted into the list with the banner and the nick list (A1, A15), or refused with the
hub's reason: bad or taken nick, ban, temporary ban with its remaining time (A17), full hub, wrong
password, invalid tag, a plugin's block (A3, A4, F31, F32).

Hub thread only.
"""

from __future__ import annotations

import time

from vhctl.sim import nmdc, welcome
from vhctl.sim.connections import Connections
from vhctl.sim.model import (
    CR_BADNICK, CR_INVALID_KEY, CR_INVALID_USER, CR_KICKED, CR_LOGIN_ERR, CR_PASSWORD, CR_PLUGIN,
    CR_SYNTAX, CR_TAG_INVALID, CR_USERLIMIT, OP_CLASS, Conn, Hook, User)
from vhctl.sim.moderation import Moderation
from vhctl.sim.sending import Sender
from vhctl.sim.state import HubState


class Login:
    """The login messages of one hub, and what each outcome sends."""

    def __init__(self, state: HubState, sender: Sender, connections: Connections,
                 moderation: Moderation, hook: Hook) -> None:
        self.state = state
        self.sender = sender
        self.connections = connections
        self.moderation = moderation
        self.hook = hook

    # --- handshake -----------------------------------------------------------------------------

    def on_supports(self, conn: Conn, msg: str) -> None:
        features = msg[len("$Supports "):].split(" ")
        reply = nmdc.supports_reply(features)
        conn.features = set(reply.split())
        if self.hook("OnParsedMsgSupports", conn.ip, msg, reply):
            conn.send(f"$Supports {reply}|")

    def on_key(self, conn: Conn, msg: str) -> None:
        conn.key_ok = msg[len("$Key "):] == nmdc.lock_to_key(nmdc.lock_token(conn.lock))
        if not conn.key_ok and self.state.config.number("drop_invalid_key"):
            self.connections.close(conn, CR_INVALID_KEY)

    def on_validate_nick(self, conn: Conn, msg: str) -> None:
        state = self.state
        if conn.user is not None:
            return
        nick = msg[len("$ValidateNick "):]
        problem = nmdc.nick_problem(nick, state.config.number("max_nick"))
        if problem:
            self._deny(conn, nick, f"Your nick contains {problem}." if problem.startswith("forbid")
                       else f"Your nick is {problem}.", CR_BADNICK)
            return
        if nick in state.users or nick in state.logging_in:
            self._deny(conn, nick, "Your nick is already in use.", CR_INVALID_USER)
            return
        ban = self.moderation.find_ban(nick, conn.ip)
        if ban is not None and ban.temp:
            self._refuse_temp_banned(conn, ban.until, ban.reason)
            return
        if ban is not None:
            self._deny(conn, nick, f"You are banned from this hub.\r\nReason: {ban.reason}",
                       CR_KICKED)
            return
        reg = state.reg.get(nick)
        full = state.users_count >= state.config.number("max_users")
        if full and (reg is None or reg.cls < OP_CLASS):
            self.sender.hub_says(conn, "User limit exceeded, the hub is full.")
            self.connections.close(conn, CR_USERLIMIT)
            return
        state.users_count += 1
        conn.counted = True
        conn.user = User(nick, 0, conn, conn.ip, conn.cc or state.geo.cc(conn.ip))
        state.logging_in[nick] = conn
        conn.awaiting_pass = reg is not None
        conn.send(f"$HubName {state.hub_name_line()}|" +
                  ("$GetPass|" if conn.awaiting_pass else f"$Hello {nick}|"))
        if not self.hook("OnParsedMsgValidateNick", msg):
            self.connections.close(conn, CR_PLUGIN)

    def _refuse_temp_banned(self, conn: Conn, until: float, reason: str) -> None:
        """A17: the remaining time and reason, then $ForceMove to the configured redirect, which
        the simulator sends only when it is a loopback address."""
        state = self.state
        left = welcome.format_period(int((until - time.time()) * 1000))
        self.sender.hub_says(conn, "You're still temporarily prohibited from entering the hub for "
                                   f"{left} because: {reason}")
        redirect = state.config["redir_host0"]
        if redirect and nmdc.is_loopback_address(redirect):
            conn.send(f"$ForceMove {redirect}|")
        self.connections.close(conn, CR_KICKED)

    def _deny(self, conn: Conn, nick: str, why: str, reason: int) -> None:
        self.sender.hub_says(conn, why)
        conn.send(f"$ValidateDenide {nick}|")
        self.connections.close(conn, reason)

    def on_mypass(self, conn: Conn, msg: str) -> None:
        state = self.state
        user = conn.user
        if user is None or not conn.awaiting_pass:
            return
        if not self.hook("OnParsedMsgMyPass", user.nick, msg):
            self.connections.close(conn, CR_PLUGIN)
            return
        reg = state.reg.get(user.nick)
        if reg is None or msg[len("$MyPass "):] != reg.password:
            conn.send("$BadPass|")
            self.connections.close(conn, CR_PASSWORD)
            return
        conn.awaiting_pass = False
        user.cls = reg.cls
        conn.send(f"$Hello {user.nick}|")
        if user.cls >= state.config.number("oplist_class"):
            conn.send(f"$LogedIn {user.nick}|")

    def on_version(self, conn: Conn, msg: str) -> None:
        self.hook("OnParsedMsgVersion", conn.ip, msg)

    def on_get_nick_list(self, conn: Conn, _msg: str) -> None:
        """Answered at once once logged in; during the login it is kept until the banner is out,
        so the list then holds the user's own MyINFO and an $OpList naming it (A15)."""
        if conn.user is not None and conn.user.in_list:
            self.send_nick_list(conn)
        else:
            conn.nick_list_wanted = True

    def send_nick_list(self, conn: Conn) -> None:
        """Clients with NoGetINFO get every MyINFO, others the $NickList; both then $OpList."""
        if conn.discard:
            return
        state = self.state
        if "NoGetINFO" in conn.features:
            head = "".join(u.fake_myinfo + "|" for u in state.users.values() if u.fake_myinfo)
        else:
            head = nmdc.nick_list("NickList", state.users)
        conn.send(head + nmdc.nick_list("OpList", state.op_list()))

    # --- MyINFO and the end of the login -------------------------------------------------------

    def on_myinfo(self, conn: Conn, msg: str) -> None:
        state = self.state
        user = conn.user
        assert user is not None
        parts = nmdc.split_myinfo(msg)
        if parts is None or parts[0] != user.nick or conn.awaiting_pass:
            self.connections.close(conn, CR_SYNTAX if not conn.awaiting_pass else CR_LOGIN_ERR)
            return
        nick = user.nick
        if not self.hook("OnValidateTag", nick, parts[2]):
            self.connections.close(conn, CR_TAG_INVALID)
            return
        share = nmdc.share_value(parts[5])          # F68: the total moves before the hooks
        state.total_share += share - user.share
        user.share = share
        first = not user.myinfo and not user.in_list
        if first and not self.hook("OnFirstMyINFO", *parts):
            self.connections.close_later(conn, 1.0, CR_KICKED)
            return
        if not self.hook("OnParsedMsgMyINFO", *parts):
            return
        user.myinfo = user.fake_myinfo = msg
        user.passive = nmdc.tag_mode(parts[2]) in ("P", "5")
        if first:
            self.login_done(conn)
        else:
            self.sender.broadcast(msg + "|")

    def login_done(self, conn: Conn) -> None:
        """Into the list: everyone sees the MyINFO, OnUserInList, OnUserLogin, the banner."""
        state = self.state
        user = conn.user
        assert user is not None
        nick = user.nick
        state.logging_in.pop(nick, None)
        user.in_list = True
        state.users[nick] = user
        if not conn.discard:
            state.receivers[nick] = conn
        hello = f"$Hello {nick}|"
        self.sender.broadcast(hello, lambda u: "NoHello" not in u.conn.features)  # type: ignore[union-attr]
        data = user.myinfo + "|"
        if user.cls >= state.config.number("oplist_class"):
            data += nmdc.nick_list("OpList", [nick])
        self.sender.broadcast(data)
        self.hook("OnUserInList", nick)
        if not self.hook("OnUserLogin", nick):
            # A4: the others get $Quit about 0.9 s later, through the send cache
            self.connections.close(conn, CR_PLUGIN, delay_quit=True)
            return
        if conn.closed:
            return
        if state.config.number("send_user_info"):
            self.send_banner(conn)
        if conn.nick_list_wanted:
            conn.nick_list_wanted = False
            self.send_nick_list(conn)

    def send_banner(self, conn: Conn) -> None:
        """The login messages from the hub-security bot, before the nick list (A1, A15)."""
        if conn.discard or conn.user is None:
            return
        state = self.state
        conn.send("".join(nmdc.chat(state.security_nick, line)
                          for line in welcome.banner(state, conn.user)))

