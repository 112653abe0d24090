"""What crosses the bridge in each direction, and how it is made safe on the way.

Hub -> Matterbridge (``outgoing``): the hook's text is the client's bytes as UTF-8 (F23) with the
NMDC escapes still in it; Matterbridge gets real text: ``&#36;`` -> ``$``, ``&#124;`` -> ``|``,
``&amp;`` -> ``&`` (F64). ``relayable`` decides which hub lines go out at all (no commands, no bots,
no ignored nicks).

Matterbridge -> hub (``inbound``): remote text and usernames may hold anything (M49-M50, M23), so:
- the greeting is recognised by its content wherever it comes (M67) and never shown;
- our own account's messages (other WebSocket clients of it loop back, M72) are recognised by the
  exact account id (M39-M40);
- a username is one line of printable text, at most ``MAX_USERNAME`` characters, with ``<``/``>``
  made into look-alike angle quotes so that it can never pose as a ``<nick>`` prefix;
- a text is cut at ``MAX_TEXT`` characters and ``MAX_LINES`` lines; each line gets the full
  ``[{protocol}] <{username}>`` prefix, so a remote line break cannot start a line that looks like
  someone else's. The hub sender then escapes ``$`` and ``|`` and removes control characters;
- an ``&`` that starts ``&#36;``, ``&#124;`` or ``&amp;`` is sent as ``&amp;``: DC clients undo
  those three in what they receive (microdc2 does, in one pass), so remote text that holds one
  literally is shown as typed, and every other ``&`` stays as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, List, Mapping, Optional, Sequence

from vhctl_hub.text import nmdc_unescape

#: Longest remote text relayed, characters (the rest is cut and counted).
MAX_TEXT = 4000
#: Most hub lines one remote message becomes.
MAX_LINES = 10
MAX_USERNAME = 64
#: First characters of hub command lines, never relayed.
COMMAND_PREFIXES = "+!/"
#: Events that carry no chat text for people (M43-M44); everything else with text is shown.
SILENT_EVENTS = frozenset({"user_typing", "msg_delete", "file_delete", "get_channel_members",
                           "rejoin_channels", "avatar_download"})
GREETING_EVENT = "api_connected"

_LINE_BREAK = re.compile("\r\n|\r|\n|\u2028|\u2029")
_CONTROL = re.compile("[\x00-\x1f\x7f]")
_ENTITY_START = re.compile("&(?=#36;|#124;|amp;)")


def outgoing(text: str) -> str:
    """A hub chat text as real text for Matterbridge."""
    return nmdc_unescape(text).replace("&amp;", "&")


def relayable(nick: str, text: str, bot_nicks: Sequence[str], ignored: Sequence[str]) -> bool:
    """Whether a hub main-chat line goes to Matterbridge (hub thread: only cheap checks)."""
    return text != "" and text[0] not in COMMAND_PREFIXES and nick not in bot_nicks and nick not in ignored


def is_greeting(msg: Mapping[str, Any]) -> bool:
    """The connect greeting: its event, with empty text and account (M28, M67)."""
    return msg.get("event") == GREETING_EVENT and not msg.get("text") and not msg.get("account")


@dataclass
class Inbound:
    """What one remote message becomes in the hub."""

    lines: List[str]
    truncated: bool = False


def clean_username(name: Any) -> str:
    """One printable line that cannot pose as a ``<nick>``."""
    text = _CONTROL.sub(" ", _LINE_BREAK.sub(" ", str(name or ""))).strip()
    text = literal(text.replace("<", "\u2039").replace(">", "\u203a"))
    if len(text) > MAX_USERNAME:
        text = text[:MAX_USERNAME - 1] + "\u2026"
    return text or "?"


def literal(text: str) -> str:
    """Remote text that DC clients show as it is: ``&`` escaped where it starts an entity they undo."""
    return _ENTITY_START.sub("&amp;", text)


def _field(msg: Mapping[str, Any], key: str) -> str:
    value = msg.get(key)
    return clean_username(value) if isinstance(value, str) and value else ""


def inbound(msg: Mapping[str, Any], template: str, own_account: str) -> Optional[Inbound]:
    """The hub lines for a message from Matterbridge, or None when it is not shown."""
    if is_greeting(msg) or msg.get("event") in SILENT_EVENTS:
        return None
    account = msg.get("account")
    if own_account and account == own_account:
        return None
    text = msg.get("text")
    text = text if isinstance(text, str) else ""
    text += _files(msg.get("Extra"))
    if not text.strip():
        return None
    truncated = len(text) > MAX_TEXT
    if truncated:
        text = text[:MAX_TEXT] + "\u2026"
    if msg.get("event") == "user_action":
        text = "* " + text
    parts = [ln for ln in _LINE_BREAK.split(text) if ln.strip()]
    if len(parts) > MAX_LINES:
        parts = parts[:MAX_LINES - 1] + [f"({len(parts) - MAX_LINES + 1} more lines not shown)"]
        truncated = True
    names = {"protocol": _field(msg, "protocol") or "?", "username": clean_username(msg.get("username")),
             "gateway": _field(msg, "gateway"), "channel": _field(msg, "channel"),
             "account": _field(msg, "account")}
    return Inbound([template.format(text=literal(_CONTROL.sub(" ", part).rstrip()), **names) for part in parts],
                   truncated)


def _files(extra: Any) -> str:
    """Attachments as text (M52): names and URLs only, never their data."""
    if not isinstance(extra, Mapping) or not isinstance(extra.get("file"), list):
        return ""
    shown = []
    for item in extra["file"][:5]:
        if isinstance(item, Mapping):
            name, url = item.get("Name"), item.get("URL")
            shown.append(" ".join(str(v) for v in (name, url) if isinstance(v, str) and v) or "a file")
    return "".join(f" [file: {s}]" for s in shown)
