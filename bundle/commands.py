"""Chat commands such as ``!api status``: parsing, permissions, help, replies.

The hub hands commands to ``OnHubCommand(nick, command, user_class, in_pm, prefix)`` with the trigger
character already stripped and passed in ``prefix`` (F42); any trigger the hub accepts works. Every
script sees every command, so a first word that is not ours passes through (return 1: the hub and
other scripts go on, and ``!py*`` keeps working, F7). A command that is ours is always "handled"
(return 0), also when refused or unknown, so the hub adds no "Unknown hub command" line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Sequence, Union

from vhctl_hub.hublog import log_exception
from vhctl_hub.snapshot import class_name
from vhctl_hub.text import nmdc_unescape

Reply = Union[None, str, Sequence[str]]
Handler = Callable[["CommandCall"], Reply]

HANDLED = 0
NOT_MINE = 1


@dataclass
class CommandCall:
    """One command invocation, as a handler sees it."""

    nick: str
    args: List[str]
    text: str
    user_class: int
    in_pm: bool
    prefix: str
    reply: Callable[[str], None] = field(repr=False)


@dataclass
class _Sub:
    name: str
    usage: str
    help: str
    handler: Handler


class CommandSet:
    """The subcommands under one first word (``api``, ``bridge``) and who may use them."""

    def __init__(self, word: str, min_class: int = 3, summary: str = "") -> None:
        self.word = word.lower()
        self.min_class = min_class
        self.summary = summary
        self._subs: Dict[str, _Sub] = {}

    def sub(self, name: str, usage: str = "", help: str = "") -> Callable[[Handler], Handler]:
        """Decorator: register ``handler`` for ``<prefix><word> <name> <usage>``."""

        def register(handler: Handler) -> Handler:
            self._subs[name.lower()] = _Sub(name.lower(), usage, help, handler)
            return handler

        return register

    def help_lines(self, prefix: str) -> List[str]:
        """The help text, one line per subcommand, using the trigger the user typed."""
        lines = [f"{prefix}{self.word}: {self.summary}".rstrip(": ")]
        for sub in [*self._subs.values(), _Sub("help", "", "show this help", _no_handler)]:
            usage = f" {sub.usage}" if sub.usage else ""
            lines.append(f"  {prefix}{self.word} {sub.name}{usage}  - {sub.help}")
        return lines

    def handle(self, nick: str, words: List[str], rest: str, user_class: int, in_pm: bool,
               prefix: str, reply: Callable[[str], None]) -> None:
        """Run the command (``words[0]`` is this set's word); replies go through ``reply``."""
        if user_class < self.min_class:
            reply(f"{prefix}{self.word}: only class {self.min_class} ({class_name(self.min_class)}) "
                  f"or higher may use this; you are class {user_class} ({class_name(user_class)}).")
            return
        name = words[1].lower() if len(words) > 1 else "help"
        sub = self._subs.get(name)
        if sub is None:
            intro = [] if name == "help" else [f"{prefix}{self.word}: unknown subcommand '{words[1]}'."]
            reply("\n".join(intro + self.help_lines(prefix)))
            return
        call = CommandCall(nick, [nmdc_unescape(w) for w in words[2:]], nmdc_unescape(rest),
                           user_class, in_pm, prefix, reply)
        try:
            result = sub.handler(call)
        except Exception as exc:  # noqa: BLE001 - a failing command must not break the hook
            log_exception(f"command {self.word} {name} failed", exc)
            reply(f"{prefix}{self.word} {name} failed: {type(exc).__name__}: {exc}")
            return
        if isinstance(result, str):
            reply(result)
        elif result:
            reply("\n".join(result))


def _no_handler(call: CommandCall) -> Reply:  # pragma: no cover - placeholder for the help line
    return None


def route(command_sets: Sequence[CommandSet], nick: str, command: str, user_class: int,
          in_pm: bool, prefix: str, reply: Callable[[str], None]) -> int:
    """Dispatch one OnHubCommand; returns HANDLED (0) or NOT_MINE (1)."""
    words = command.split()
    if not words:
        return NOT_MINE
    word = words[0].lower()
    for commands in command_sets:
        if commands.word == word:
            rest = command.split(None, 2)[2] if len(words) > 2 else ""
            commands.handle(nick, words, rest, user_class, in_pm, prefix, reply)
            return HANDLED
    return NOT_MINE
