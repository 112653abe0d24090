"""What the hub knows, and the questions asked about it: the user list (in-list users and robots),
the connections, the registered users, the counters (F67, F68), the config, and the lookups the vh
API answers from them (nick lists, MyINFO, class, IP, country, host).

Nothing here sends a byte or calls a hook: the parts that do (``sending``, ``login``, ``moderation``
...) change this state and ask it questions. Hub thread only.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

from vhctl.sim import nmdc
from vhctl.sim.geo import Geo
from vhctl.sim.hubconf import HubConfig
from vhctl.sim.model import (
    BOT_BAD_CHARS, BOT_EXISTS, BOT_OK, BOT_RESERVED_NICK, BOT_WITHOUT_NICK, VALID_CLASSES, Conn,
    RegUser, User)


class HubState:
    """The lists, counters and config of one hub, with the lookups over them."""

    def __init__(self, basedir: Path, config: HubConfig, chat_rules: bool) -> None:
        self.basedir = basedir
        self.config = config
        self.config_name = "config"
        self.chat_rules = chat_rules
        self.geo = Geo()
        #: ip -> host name for the simulator's reverse DNS (see ``reverse_lookup``).
        self.reverse_dns: dict[str, str] = {}
        self.started_at = time.time()
        self.users: dict[str, User] = {}         # the hub user list: in-list users and robots
        self.receivers: dict[str, Conn] = {}     # in-list connections that get broadcasts
        self.logging_in: dict[str, Conn] = {}    # nicks validated, login not complete
        self.conns: set[Conn] = set()
        self.reg: dict[str, RegUser] = {}
        self.users_count = 0                     # mUserCountTot (F67)
        self.total_share = 0                     # mTotalShare (F68)
        self._add_hub_robots()

    # --- the hub's own names -------------------------------------------------------------------

    @property
    def security_nick(self) -> str:
        return self.config["hub_security"]

    @property
    def opchat_nick(self) -> str:
        return self.config["opchat_name"]

    def hub_name_line(self) -> str:
        topic = self.config["hub_topic"]
        name = self.config["hub_name"]
        return f"{name} - {topic}" if topic else name

    def _add_hub_robots(self) -> None:
        tag = f"<Verlihub V:{nmdc.HUB_VERSION},M:A,H:0/0/1,S:0>"
        for nick, desc in ((self.security_nick, self.config["hub_security_desc"]),
                           (self.opchat_nick, self.config["opchat_desc"])):
            bot = User(nick, 10, None)
            bot.fake_myinfo = nmdc.build_myinfo(nick, desc, tag, "\x01", "", 0)
            bot.in_list = True
            self.users[nick] = bot

    # --- the user list -------------------------------------------------------------------------

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
        limit = self.config.number("oplist_class")
        return [n for n, u in self.users.items() if u.cls >= limit]

    def bot_list(self) -> list[str]:
        return [n for n, u in self.users.items() if u.robot]

    def robot_nick_bad(self, nick: str) -> int:
        if not nick:
            return BOT_WITHOUT_NICK
        if nmdc.nick_problem(nick, self.config.number("max_nick")):
            return BOT_BAD_CHARS
        if nick in (self.security_nick, self.opchat_nick):
            return BOT_RESERVED_NICK
        if nick in self.users or nick in self.logging_in:
            return BOT_EXISTS
        return BOT_OK

    # --- one user ------------------------------------------------------------------------------

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

    def set_user_ip(self, nick: str, ip: str) -> bool:
        user = self.online(nick)
        if user is None or not ip:
            return False
        user.ip = ip
        return True

    def user_cc(self, nick: str) -> Optional[str]:
        user = self.users.get(nick)
        return None if user is None or user.robot else user.cc

    def user_hub_url(self, nick: str) -> Optional[str]:
        user = self.online(nick)
        return None if user is None else user.hub_url

    def user_ext_json(self, nick: str) -> Optional[str]:
        user = self.online(nick)
        return None if user is None else user.ext_json

    # --- names and places ----------------------------------------------------------------------

    @property
    def dns_lookup(self) -> bool:
        """The hub variable dns_lookup (mUseDNS): resolve each connection's host when it connects."""
        return self.config.get("dns_lookup") == "1"

    def reverse_lookup(self, ip: str) -> str:
        """The simulator's resolver: the names declared with ``login(host=...)``, else "" (A5: the
        lab hub resolved nothing for 127.0.0.1)."""
        return self.reverse_dns.get(ip, "")

    def host_at_connect(self, ip: str) -> str:
        """AddrHost of a new connection: resolved now only when dns_lookup is on (cAsyncConn)."""
        return self.reverse_lookup(ip) if self.dns_lookup else ""

    def user_host(self, nick: str, lookup: bool) -> Optional[str]:
        """AddrHost of a connected user, after resolving it now if ``lookup`` (the plugin's
        GetUserHost with dns_lookup off); None for robots and unknown nicks."""
        user = self.online(nick)
        if user is None or user.conn is None:
            return None
        if lookup:
            user.conn.host = self.reverse_lookup(user.conn.ip)
        return user.conn.host

    def ip_cc(self, ip: str) -> Optional[str]:
        return self.geo.cc(ip)

    def ip_cn(self, ip: str) -> Optional[str]:
        return self.geo.country(ip)

    def ip_asn(self, ip: str) -> Optional[str]:
        return self.geo.asn(ip)

    def geoip(self, ip: str) -> Optional[dict]:
        return self.geo.record(ip)

    # --- registered users ----------------------------------------------------------------------

    def register(self, nick: str, cls: int, password: str) -> None:
        """Put a nick in the reg list directly (hub setup, no hook)."""
        self.reg[nick] = RegUser(cls, password)

    def del_reg_user(self, nick: str) -> bool:
        return self.reg.pop(nick, None) is not None

    def set_reg_class(self, nick: str, cls: int) -> bool:
        if cls not in VALID_CLASSES or nick not in self.reg:
            return False
        self.reg[nick].cls = cls
        return True

    # --- config --------------------------------------------------------------------------------

    def get_config(self, conf: str, var: str) -> Optional[str]:
        """A hub variable (``conf == "config"``) or a SetupList entry; None if there is none."""
        if conf == self.config_name:
            return self.config.get(var)
        return self.config.get_setup(conf, var)
