"""Hub commands: the trigger-char parser (ParseForCommands, F40-F43, A1, A3, A4) and the few
commands of the hub's own console the simulator offers.

Flow for text starting with a trigger char, in main chat or in a PM to the hub-security bot:
every script's OnHubCommand; if all allow, the plugin's OnOperatorCommand stage (class >= 3: the
``!py*`` console, then the scripts) or the scripts' OnUserCommand; if all allow, the hub's own
commands; else ``Unknown hub command: ...`` in main-chat form to that user only. The text is never
broadcast as chat.
"""

from __future__ import annotations

from typing import Callable

from vhctl.sim import welcome
from vhctl.sim.model import OP_CLASS, Conn, Hook, User
from vhctl.sim.moderation import Moderation
from vhctl.sim.roster import Roster
from vhctl.sim.sending import Sender
from vhctl.sim.state import HubState


class Commands:
    """The command parser of one hub. ``operator_command`` is the plugin's OnOperatorCommand
    stage; ``quit`` stops the hub cleanly (``!quit``)."""

    def __init__(self, state: HubState, sender: Sender, hook: Hook,
                 operator_command: Callable[[str, str], bool], moderation: Moderation,
                 roster: Roster, quit: Callable[[int], None]) -> None:
        self.state = state
        self.sender = sender
        self.hook = hook
        self.operator_command = operator_command
        self.moderation = moderation
        self.roster = roster
        self.quit = quit
        self._script_command: str | None = None
        self.own: dict[str, tuple[int, Callable[[Conn, User, str], None]]] = {
            "help": (0, self.cmd_help), "myinfo": (0, self.cmd_myinfo),
            "topic": (OP_CLASS, self.cmd_topic), "kick": (OP_CLASS, self.cmd_kick),
            "quit": (10, self.cmd_quit),
        }

    def parse(self, conn: Conn, text: str, in_pm: int) -> bool:
        """True when ``text`` was a command (handled, blocked or unknown): it is then not chat."""
        user = conn.user
        if user is None or not text:
            return False
        prefix = text[0]
        config = self.state.config
        as_op = user.cls >= OP_CLASS and prefix in config["cmd_start_op"]
        if not as_op and prefix not in config["cmd_start_user"]:
            return False
        if not self.hook("OnHubCommand", user.nick, text[1:], user.cls, in_pm, prefix):
            return True
        if as_op:
            if not self.operator_command(user.nick, text):
                return True
        elif not self.hook("OnUserCommand", user.nick, text):
            return True
        if conn.closed or self.run_own(conn, user, text[1:]):
            return True
        self.sender.hub_says(conn, f"Unknown hub command: {text}")
        return True

    def parse_for_script(self, nick: str, command: str, in_pm: int) -> bool:
        """vh.ParseCommand (F49.38), hub bug included: every call re-runs the FIRST command ever
        passed."""
        if self._script_command is None:
            self._script_command = command
        user = self.state.online(nick)
        if user is None or user.conn is None:
            return False
        self.parse(user.conn, self._script_command, int(in_pm))
        return True

    def run_own(self, conn: Conn, user: User, command: str) -> bool:
        name, _, args = command.partition(" ")
        entry = self.own.get(name)
        if entry is None or user.cls < entry[0]:
            return False
        entry[1](conn, user, args.strip())
        return True

    # --- the commands --------------------------------------------------------------------------

    def cmd_help(self, conn: Conn, user: User, _args: str) -> None:
        """One message per class section, from the user's class down (A16)."""
        for text in welcome.help_messages(user.cls):
            self.sender.hub_says(conn, text)

    def cmd_myinfo(self, conn: Conn, user: User, _args: str) -> None:
        self.sender.hub_says(conn, welcome.information(self.state, user))

    def cmd_quit(self, _conn: Conn, _user: User, _args: str) -> None:
        """The clean stop (A18); ``Hub.stop`` then only joins the ended main thread."""
        self.quit(0)

    def cmd_topic(self, conn: Conn, _user: User, args: str) -> None:
        topic = self.roster.topic(args)
        self.sender.hub_says(conn, f"Topic is set to: {topic}" if topic else "Topic is empty.")

    def cmd_kick(self, conn: Conn, user: User, args: str) -> None:
        nick, _, reason = args.partition(" ")
        if self.moderation.kick_user(user.nick, nick, reason or "no reason"):
            self.sender.hub_says(conn, f"User kicked: {nick}")
        else:
            self.sender.hub_says(conn, f"User not found: {nick}")
