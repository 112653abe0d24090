"""What the hub does with each client message (Verlihub's cDCProto): the login handshake, chat,
PMs, MyINFO, and where each hook fires, in the order observed on the real hub (A3, A4, F21, F25-F32).

Bad input gets the hub's treatment (a close with a reason), never an exception out of here.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable

from vhctl.sim import flood, nmdc, welcome
from vhctl.sim.hub import (
    CR_BADNICK, CR_INVALID_KEY, CR_INVALID_USER, CR_KICKED, CR_LOGIN_ERR, CR_PASSWORD, CR_PLUGIN,
    CR_QUIT, CR_SYNTAX, CR_TAG_INVALID, CR_USERLIMIT, MAX_MESSAGE, OP_CLASS, VIP_CLASS, User)

if TYPE_CHECKING:
    from vhctl.sim.hub import Conn, Hub

#: Messages a connection may send before its login is complete; anything else closes it.
_LOGIN_MESSAGES = frozenset(("Supports", "Key", "ValidateNick", "MyPass", "Version", "GetNickList",
                             "GetINFO", "MyINFO", "BotINFO", "MyHubURL", "ExtJSON"))


class Proto:
    """The message handlers of one hub."""

    def __init__(self, hub: "Hub") -> None:
        self.hub = hub
        self.handlers: dict[str, Callable[["Conn", str], None]] = {
            "Supports": self.on_supports, "Key": self.on_key, "ValidateNick": self.on_validate_nick,
            "MyPass": self.on_mypass, "Version": self.on_version,
            "GetNickList": self.on_get_nick_list, "MyINFO": self.on_myinfo,
            "GetINFO": self.on_get_info, "To:": self.on_pm, "MCTo:": self.on_mcto,
            "ConnectToMe": self.on_ctm, "RevConnectToMe": self.on_rctm, "Search": self.on_search,
            "SR": self.on_sr, "Quit": self.on_quit, "BotINFO": self.on_simple_hook,
            "MyHubURL": self.on_simple_hook, "ExtJSON": self.on_simple_hook,
        }

    # --- input ---------------------------------------------------------------------------------

    def on_connect(self, conn: "Conn") -> None:
        """OnNewConn (before $Lock, F31); a block refuses the connection."""
        hub = self.hub
        hub.conns.add(conn)
        if not hub.hook("OnNewConn", conn.ip):
            hub.close(conn, CR_PLUGIN)
            return
        conn.lock = nmdc.make_lock()
        conn.send(conn.lock + "|")

    def on_data(self, conn: "Conn", data: bytes | str) -> None:
        """Bytes from the client: cut at ``|`` and handle each message."""
        if conn.closed:
            return
        conn.buffer += data.decode("latin-1") if isinstance(data, bytes) else data
        messages, conn.buffer = nmdc.split_messages(conn.buffer)
        for msg in messages:
            if conn.closed:
                return
            if len(msg) > MAX_MESSAGE:
                self.hub.close(conn, CR_SYNTAX)
                return
            self.treat(conn, msg)
        if len(conn.buffer) > MAX_MESSAGE and not conn.closed:
            self.hub.close(conn, CR_SYNTAX)

    def treat(self, conn: "Conn", msg: str) -> None:
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
            self.hub.close(conn, CR_LOGIN_ERR if kind in _LOGIN_MESSAGES or kind == "<"
                           else CR_SYNTAX)
            return
        if user is not None and not user.in_list and kind not in _LOGIN_MESSAGES:
            self.hub.close(conn, CR_LOGIN_ERR)
            return
        if user is not None and not self.hub.hook("OnParsedMsgAny", user.nick, msg):
            return
        if kind == "<":
            self.on_chat(conn, msg)
            return
        handler = self.handlers.get(kind)
        if handler is not None:
            handler(conn, msg)
        elif user is not None and user.in_list:
            self.hub.hook("OnUnknownMsg", user.nick, msg)

    # --- handshake -----------------------------------------------------------------------------

    def on_supports(self, conn: "Conn", msg: str) -> None:
        features = msg[len("$Supports "):].split(" ")
        reply = nmdc.supports_reply(features)
        conn.features = set(reply.split())
        if self.hub.hook("OnParsedMsgSupports", conn.ip, msg, reply):
            conn.send(f"$Supports {reply}|")

    def on_key(self, conn: "Conn", msg: str) -> None:
        conn.key_ok = msg[len("$Key "):] == nmdc.lock_to_key(nmdc.lock_token(conn.lock))
        if not conn.key_ok and self.hub.config.int("drop_invalid_key"):
            self.hub.close(conn, CR_INVALID_KEY)

    def on_validate_nick(self, conn: "Conn", msg: str) -> None:
        hub = self.hub
        if conn.user is not None:
            return
        nick = msg[len("$ValidateNick "):]
        problem = nmdc.nick_problem(nick, hub.config.int("max_nick"))
        if problem:
            self._deny(conn, nick, f"Your nick contains {problem}." if problem.startswith("forbid")
                       else f"Your nick is {problem}.", CR_BADNICK)
            return
        if nick in hub.users or nick in hub.logging_in:
            self._deny(conn, nick, "Your nick is already in use.", CR_INVALID_USER)
            return
        ban = hub.find_ban(nick, conn.ip)
        if ban is not None and ban.temp:
            self._refuse_temp_banned(conn, ban.until, ban.reason)
            return
        if ban is not None:
            self._deny(conn, nick, f"You are banned from this hub.\r\nReason: {ban.reason}",
                       CR_KICKED)
            return
        reg = hub.reg.get(nick)
        if hub.users_count >= hub.config.int("max_users") and (reg is None or reg.cls < OP_CLASS):
            hub.hub_says(conn, "User limit exceeded, the hub is full.")
            hub.close(conn, CR_USERLIMIT)
            return
        hub.users_count += 1
        conn.counted = True
        conn.user = User(nick, 0, conn, conn.ip, conn.cc or hub.geo.cc(conn.ip))
        hub.logging_in[nick] = conn
        conn.awaiting_pass = reg is not None
        conn.send(f"$HubName {hub.hub_name_line()}|" +
                  ("$GetPass|" if conn.awaiting_pass else f"$Hello {nick}|"))
        if not hub.hook("OnParsedMsgValidateNick", msg):
            hub.close(conn, CR_PLUGIN)

    def _refuse_temp_banned(self, conn: "Conn", until: float, reason: str) -> None:
        """A17: the remaining time and reason, then $ForceMove to the configured redirect, which
        the simulator sends only when it is a loopback address."""
        hub = self.hub
        left = welcome.format_period(int((until - time.time()) * 1000))
        hub.hub_says(conn, f"You're still temporarily prohibited from entering the hub for {left} "
                           f"because: {reason}")
        redirect = hub.config["redir_host0"]
        if redirect and nmdc.is_loopback_address(redirect):
            conn.send(f"$ForceMove {redirect}|")
        hub.close(conn, CR_KICKED)

    def _deny(self, conn: "Conn", nick: str, why: str, reason: int) -> None:
        self.hub.hub_says(conn, why)
        conn.send(f"$ValidateDenide {nick}|")
        self.hub.close(conn, reason)

    def on_mypass(self, conn: "Conn", msg: str) -> None:
        hub = self.hub
        user = conn.user
        if user is None or not conn.awaiting_pass:
            return
        if not hub.hook("OnParsedMsgMyPass", user.nick, msg):
            hub.close(conn, CR_PLUGIN)
            return
        reg = hub.reg.get(user.nick)
        if reg is None or msg[len("$MyPass "):] != reg.password:
            conn.send("$BadPass|")
            hub.close(conn, CR_PASSWORD)
            return
        conn.awaiting_pass = False
        user.cls = reg.cls
        conn.send(f"$Hello {user.nick}|")
        if user.cls >= hub.config.int("oplist_class"):
            conn.send(f"$LogedIn {user.nick}|")

    def on_version(self, conn: "Conn", msg: str) -> None:
        self.hub.hook("OnParsedMsgVersion", conn.ip, msg)

    def on_get_nick_list(self, conn: "Conn", _msg: str) -> None:
        """Answered at once once logged in; during the login it is kept until the banner is out,
        so the list then holds the user's own MyINFO and an $OpList naming it (A15)."""
        if conn.user is not None and conn.user.in_list:
            self.send_nick_list(conn)
        else:
            conn.nick_list_wanted = True

    def send_nick_list(self, conn: "Conn") -> None:
        """Clients with NoGetINFO get every MyINFO, others the $NickList; both then $OpList."""
        if conn.discard:
            return
        hub = self.hub
        if "NoGetINFO" in conn.features:
            head = "".join(u.fake_myinfo + "|" for u in hub.users.values() if u.fake_myinfo)
        else:
            head = nmdc.nick_list("NickList", hub.users)
        conn.send(head + nmdc.nick_list("OpList", hub.op_list()))

    # --- MyINFO and the end of the login -------------------------------------------------------

    def on_myinfo(self, conn: "Conn", msg: str) -> None:
        hub = self.hub
        user = conn.user
        assert user is not None
        parts = nmdc.split_myinfo(msg)
        if parts is None or parts[0] != user.nick or conn.awaiting_pass:
            hub.close(conn, CR_SYNTAX if not conn.awaiting_pass else CR_LOGIN_ERR)
            return
        nick = user.nick
        if not hub.hook("OnValidateTag", nick, parts[2]):
            hub.close(conn, CR_TAG_INVALID)
            return
        share = nmdc.share_value(parts[5])          # F68: the total moves before the hooks
        hub.total_share += share - user.share
        user.share = share
        first = not user.myinfo and not user.in_list
        if first and not hub.hook("OnFirstMyINFO", *parts):
            hub.close_later(conn, 1.0, CR_KICKED)
            return
        if not hub.hook("OnParsedMsgMyINFO", *parts):
            return
        user.myinfo = user.fake_myinfo = msg
        user.passive = nmdc.tag_mode(parts[2]) in ("P", "5")
        if first:
            self.login_done(conn)
        else:
            hub._broadcast(msg + "|")

    def login_done(self, conn: "Conn") -> None:
        """Into the list: everyone sees the MyINFO, OnUserInList, OnUserLogin, the banner."""
        hub = self.hub
        user = conn.user
        assert user is not None
        nick = user.nick
        hub.logging_in.pop(nick, None)
        user.in_list = True
        hub.users[nick] = user
        if not conn.discard:
            hub.receivers[nick] = conn
        hello = f"$Hello {nick}|"
        hub._broadcast(hello, lambda u: "NoHello" not in u.conn.features)  # type: ignore[union-attr]
        data = user.myinfo + "|"
        if user.cls >= hub.config.int("oplist_class"):
            data += nmdc.nick_list("OpList", [nick])
        hub._broadcast(data)
        hub.hook("OnUserInList", nick)
        if not hub.hook("OnUserLogin", nick):
            hub.close(conn, CR_PLUGIN, delay_quit=True)   # A4: others get $Quit ~0.9 s later
            return
        if conn.closed:
            return
        if hub.config.int("send_user_info"):
            self.send_banner(conn)
        if conn.nick_list_wanted:
            conn.nick_list_wanted = False
            self.send_nick_list(conn)

    def send_banner(self, conn: "Conn") -> None:
        """The login messages from the hub-security bot, before the nick list (A1, A15)."""
        if conn.discard or conn.user is None:
            return
        hub = self.hub
        conn.send("".join(nmdc.chat(hub.security_nick, line)
                          for line in welcome.banner(hub, conn.user)))

    # --- chat and private messages -------------------------------------------------------------

    def on_chat(self, conn: "Conn", msg: str) -> None:
        """F25 order: nick check, chat delay, commands, gag, same message, OnParsedMsgChat."""
        hub = self.hub
        user = conn.user
        assert user is not None
        parsed = nmdc.parse_chat(msg)
        if parsed is None or parsed[0] != user.nick:
            hub.hub_says(conn, f"Your nick is not {parsed[0] if parsed else ''} but {user.nick}.")
            hub.close_later(conn, 1.0, CR_SYNTAX)
            return
        text = parsed[1]
        if flood.chat_flooded(hub, user) or not self._chat_delay_ok(conn, user):
            return
        if hub.commands.parse(conn, text, 0):
            return
        if user.restricted("nochat"):
            hub.hub_says(conn, "You're not allowed to use main chat right now.")
            return
        if hub.chat_rules and user.cls < OP_CLASS and msg == user.last_chat:
            hub.hub_says(conn, "Your message wasn't sent because it equals your previous message.")
            return
        user.last_chat = msg
        if not hub.hook("OnParsedMsgChat", user.nick, text):
            return
        hub._broadcast(msg + "|")

    def _chat_delay_ok(self, conn: "Conn", user: User) -> bool:
        """``int_chat_ms`` for users below VIP; the clock restarts on every try (A1)."""
        hub = self.hub
        limit = hub.config.int("int_chat_ms")
        now = time.monotonic() * 1000
        waited = now - user.last_chat_ms
        user.last_chat_ms = now
        if not hub.chat_rules or user.cls >= VIP_CLASS or not limit or waited >= limit:
            return True
        hub.hub_says(conn, f"Your message wasn't sent because minimum chat delay is {limit} ms "
                           f"but you waited only {welcome.format_period(int(waited))}.")
        return False

    def on_pm(self, conn: "Conn", msg: str) -> None:
        """F26: OnParsedMsgPM first; then the bot's handler or delivery to the user."""
        hub = self.hub
        user = conn.user
        assert user is not None
        parsed = nmdc.parse_pm(msg)
        if parsed is None:
            return
        to, sender, _sign, text = parsed
        if sender != user.nick:
            hub.close(conn, CR_SYNTAX)
            return
        target = hub.user(to)
        if target is None:
            return
        if target.robot:
            if not hub.hook("OnParsedMsgPM", user.nick, text, to):
                return
            if to == hub.security_nick:
                hub.commands.parse(conn, text, 1)
            elif to == hub.opchat_nick and user.cls >= hub.config.int("opchat_class"):
                if hub.hook("OnOpChatMessage", user.nick, text):
                    hub.send_to_opchat(text, user.nick, exclude=user.nick)
            return
        if user.restricted("nopm") or not hub.hook("OnParsedMsgPM", user.nick, text, to):
            return
        assert target.conn is not None
        target.conn.send(msg + "|")

    def on_mcto(self, conn: "Conn", msg: str) -> None:
        hub = self.hub
        user = conn.user
        assert user is not None
        parsed = nmdc.parse_mcto(msg)
        if parsed is None or parsed[1] != user.nick:
            return
        to, sender, text = parsed
        target = hub.online(to)
        if target is None or not hub.hook("OnParsedMsgMCTo", user.nick, text, to):
            return
        assert target.conn is not None
        target.conn.send(msg + "|" if "MCTo" in target.conn.features else nmdc.chat(sender, text))

    # --- the rest of the protocol: relayed with their hooks ------------------------------------

    def on_get_info(self, conn: "Conn", msg: str) -> None:
        target = self.hub.user(msg[len("$GetINFO "):].split(" ", 1)[0])
        if target is not None and target.fake_myinfo:
            conn.send(target.fake_myinfo + "|")

    def on_ctm(self, conn: "Conn", msg: str) -> None:
        hub = self.hub
        user = conn.user
        fields = msg.split(" ")
        if user is None or len(fields) < 3 or user.restricted("noctm"):
            return
        target = hub.online(fields[1])
        ip, _, port = fields[2].rpartition(":")
        if target is None or target is user or not hub.hook(
                "OnParsedMsgConnectToMe", user.nick, fields[1], ip, port):
            return
        target.conn.send(msg + "|")  # type: ignore[union-attr]

    def on_rctm(self, conn: "Conn", msg: str) -> None:
        hub = self.hub
        user = conn.user
        fields = msg.split(" ")
        if user is None or len(fields) != 3 or fields[1] != user.nick or user.restricted("noctm"):
            return
        target = hub.online(fields[2])
        if target is None or target is user or not hub.hook(
                "OnParsedMsgRevConnectToMe", user.nick, fields[2]):
            return
        target.conn.send(msg + "|")  # type: ignore[union-attr]

    def on_search(self, conn: "Conn", msg: str) -> None:
        hub = self.hub
        user = conn.user
        if user is None or user.restricted("nosearch") or not hub.hook(
                "OnParsedMsgSearch", user.nick, msg):
            return
        passive = msg.startswith("$Search Hub:")
        hub._broadcast(msg + "|", lambda u: u is not user and not (passive and u.passive))

    def on_sr(self, conn: "Conn", msg: str) -> None:
        hub = self.hub
        user = conn.user
        head, sep, to = msg.rpartition("\x05")
        target = hub.online(to) if sep else None
        if user is None or target is None or not hub.hook("OnParsedMsgSR", user.nick, msg):
            return
        target.conn.send(head + "|")  # type: ignore[union-attr]

    def on_quit(self, conn: "Conn", _msg: str) -> None:
        self.hub.close(conn, CR_QUIT)

    def on_simple_hook(self, conn: "Conn", msg: str) -> None:
        """$BotINFO, $MyHubURL, $ExtJSON: stored where the vh API reads them, hook called."""
        user = conn.user
        if user is None:
            return
        kind = msg[1:].split(" ", 1)[0]
        if kind == "MyHubURL":
            user.hub_url = msg[len("$MyHubURL "):]
        elif kind == "ExtJSON":
            user.ext_json = msg[len("$ExtJSON "):]
        self.hub.hook(f"OnParsedMsg{kind}", user.nick, msg)
