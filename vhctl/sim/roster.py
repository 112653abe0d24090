"""What scripts change in the lists everyone sees: robots (F49.42, F49.43, A5), the MyINFO others
are shown (F49.11), registrations that run OnNewReg, the topic (F49.54) and hub variables, which
OnSetConfig may veto (A3).

Each change is announced the way the real hub does it. Hub thread only.
"""

from __future__ import annotations

from typing import Optional

from vhctl.sim import nmdc
from vhctl.sim.hubconf import T_UNKNOWN
from vhctl.sim.model import BOT_OK, VALID_CLASSES, Hook, RegUser, User
from vhctl.sim.sending import Sender
from vhctl.sim.state import HubState


class Roster:
    """Script-driven edits of one hub's lists and settings."""

    def __init__(self, state: HubState, sender: Sender, hook: Hook) -> None:
        self.state = state
        self.sender = sender
        self.hook = hook

    # --- robots --------------------------------------------------------------------------------

    def add_robot(self, nick: str, cls: int, desc: str, speed: str, email: str, share: str) -> bool:
        """F49.43 / A5: show a bot to everyone; its MyINFO has no tag and no flag byte."""
        state = self.state
        if state.robot_nick_bad(nick) != BOT_OK:
            return False
        if cls < 0 or (cls > 5 and cls != 10):
            cls = 0
        bot = User(nick, cls, None)
        bot.fake_myinfo = nmdc.build_myinfo(nick, desc, "", speed, email, share)
        bot.in_list = True
        state.users = {nick: bot, **state.users}   # A5 shows a new bot first in the lists
        data = bot.fake_myinfo + "|"
        if cls >= state.config.number("oplist_class"):
            data += nmdc.nick_list("OpList", [nick])
        self.sender.broadcast(data)
        return True

    def del_robot(self, nick: str) -> bool:
        state = self.state
        bot = state.users.get(nick)
        if bot is None or not bot.robot or nick in (state.security_nick, state.opchat_nick):
            return False
        del state.users[nick]
        self.sender.broadcast(f"$Quit {nick}|")
        return True

    # --- MyINFO edits --------------------------------------------------------------------------

    def set_myinfo(self, nick: str, desc: Optional[str] = None, tag: Optional[str] = None,
                   speed: Optional[str] = None, email: Optional[str] = None,
                   share: Optional[str] = None) -> bool:
        """F49.11: rebuild what others see (the fake MyINFO) and announce it."""
        user = self.state.users.get(nick)
        if user is None:
            return False
        parts = nmdc.split_myinfo(user.fake_myinfo) or (nick, "", "", "", "", str(user.share))
        new = [v if v is not None else old
               for v, old in zip((desc, tag, speed, email, share), parts[1:])]
        user.fake_myinfo = nmdc.build_myinfo(nick, *new)
        self.sender.broadcast(user.fake_myinfo + "|")
        return True

    def set_myinfo_flag(self, nick: str, flag: int, unset: bool = False) -> bool:
        user = self.state.users.get(nick)
        parts = nmdc.split_myinfo(user.fake_myinfo) if user else None
        if user is None or parts is None or flag < 1:
            return False
        speed = parts[3] or "\x01"
        status = ord(speed[-1])
        status = status & ~flag if unset else status | flag
        return self.set_myinfo(nick, speed=speed[:-1] + chr(status & 0xFF))

    def unset_myinfo_flag(self, nick: str, flag: int) -> bool:
        return self.set_myinfo_flag(nick, flag, unset=True)

    # --- registrations, topic, config ----------------------------------------------------------

    def add_reg_user(self, nick: str, cls: int, password: Optional[str] = None,
                     op_nick: Optional[str] = None) -> bool:
        state = self.state
        if cls not in VALID_CLASSES or not nick or nick in state.reg:
            return False
        if not self.hook("OnNewReg", op_nick or state.security_nick, nick, cls):
            return False
        state.reg[nick] = RegUser(cls, password or "")
        return True

    def topic(self, new: Optional[str] = None) -> str:
        """F49.54: the topic ("" if none); a new one is kept in memory and announced."""
        config = self.state.config
        if new is not None and len(new) < 1024:
            config.store("hub_topic", new, persist=False)
            self.sender.broadcast(f"$HubName {self.state.hub_name_line()}|")
        return config["hub_topic"]

    def set_config(self, conf: str, var: str, value: str, nick: Optional[str] = None) -> bool:
        """Set a variable; OnSetConfig (A3) may veto. Persisted, like the real DB write (A13)."""
        state = self.state
        config = state.config
        who = nick or state.security_nick
        if conf != state.config_name:
            config.store_setup(conf, var, value)
            return True
        kind = config.type_of(var)
        old = config.get(var)
        if kind == T_UNKNOWN or old is None:
            self.hook("OnSetConfig", who, conf, var, value, "", T_UNKNOWN)
            return False
        new = config.convert(var, value)
        if new is None or not self.hook("OnSetConfig", who, conf, var, value, old, kind):
            return False
        config.store(var, new)
        return True
