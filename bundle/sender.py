"""Sending text into the hub, safely, from any thread.

Every text passes ``text.safe_lines`` (escaping, line splitting, length cap) and the hub-encoding
substitution; then it is sent with the vh functions that really work (F46): main chat as
``SendDataToAll("<bot> line", 0, 10)`` (``mc``/``SendToAll`` do not exist or do nothing, F49.7),
``pm(message, nick, from)`` and ``usermc(message, nick, from)`` with the (message, nick) order of the
source (F49.49-50). Called off the hub thread, the send is queued for it (F58).
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from vhctl_hub.text import HubCodec, safe_lines, valid_nick
from vhctl_hub.vhaccess import VhAccess
from vhctl_hub.workqueue import WorkQueue

#: Classes a main-chat post reaches: everyone (F65).
ALL_CLASSES = (0, 10)


class HubSender:
    """Thread-safe sends; ``vh_nick`` turns a displayed nick into the name vh knows (F53-F55)."""

    def __init__(self, vh: VhAccess, queue: WorkQueue, codec: Callable[[], HubCodec],
                 max_line: Callable[[], int], vh_nick: Callable[[str], str]) -> None:
        self._vh = vh
        self._queue = queue
        self._codec = codec
        self._max_line = max_line
        self._vh_nick = vh_nick

    def main_chat(self, bot_nick: str, text: str) -> None:
        """A main-chat line from ``bot_nick`` to everyone."""
        if not valid_nick(bot_nick):
            raise ValueError(f"not a usable nick for main chat: {bot_nick!r}")
        shown = self._codec().outgoing(bot_nick)
        self._on_hub(self._send_lines, text, lambda line: (
            "SendDataToAll", f"<{shown}> {line}", ALL_CLASSES[0], ALL_CLASSES[1]))

    def pm(self, nick: str, text: str, from_nick: Optional[str] = None) -> None:
        """A private message to ``nick`` (from the hub-security bot unless ``from_nick``)."""
        self._on_hub(self._send_to, "pm", nick, text, from_nick)

    def usermc(self, nick: str, text: str, from_nick: Optional[str] = None) -> None:
        """A main-chat line only ``nick`` sees (from the hub-security bot unless ``from_nick``)."""
        self._on_hub(self._send_to, "usermc", nick, text, from_nick)

    def reply(self, nick: str, text: str, in_pm: bool) -> None:
        """Answer a chat command where it came from: PM if it came by PM, else main chat to him only."""
        if in_pm:
            self.pm(nick, text)
        else:
            self.usermc(nick, text)

    def opchat(self, text: str) -> None:
        """A message to the operators' chat room."""
        self._on_hub(self._send_lines, text, lambda line: ("SendToOpChat", line))

    def _on_hub(self, fn: Callable[..., Any], *args: Any) -> None:
        if self._vh.on_hub_thread():
            fn(*args)
        else:
            self._queue.submit(fn, *args)

    def _send_to(self, func: str, nick: str, text: str, from_nick: Optional[str]) -> None:
        target = self._vh_nick(nick)
        if from_nick is None:
            self._send_lines(text, lambda line: (func, line, target))
        else:
            sender = self._codec().outgoing(from_nick)
            self._send_lines(text, lambda line: (func, line, target, sender))

    def _send_lines(self, text: str, call: Callable[[str], tuple]) -> None:
        codec = self._codec()
        for line in safe_lines(text, self._max_line()):
            name, *args = call(codec.outgoing(line))
            self._vh.call(name, *args)
