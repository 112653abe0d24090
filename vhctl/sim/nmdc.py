"""NMDC wire format as Verlihub 1.7 speaks it: pure functions, no state.

All text here is hub-internal: ``str`` with one char per wire byte (latin-1), like the hub's C++
``std::string``. Nothing here escapes chat: the hub relays chat exactly as received (F64, A1).
"""

from __future__ import annotations

import random
import re
from typing import Iterable, Optional

HUB_VERSION = "1.7.0.0"
LOCK_PREFIX = "EXTENDEDPROTOCOL_NMDC_"

#: Features this hub accepts in ``$Supports`` and echoes back (A1). Deliberately absent: QuickList,
#: SaltPass, TLS and IN change the login handshake in ways the simulator does not speak.
ACCEPTED_FEATURES = frozenset(
    "NoGetINFO NoHello UserIP2 TTHSearch ZPipe0 HubTopic OpPlus BotINFO MCTo UserCommand BotList "
    "ChatOnly TTHS Feed HubURL NickChange ClientNick".split())

#: Bytes the $Key algorithm must not put on the wire raw; sent as ``/%DCN000%/`` instead.
_KEY_ESCAPED = frozenset((0, 5, 36, 96, 124, 126))

#: What the hub's own escaper (F64) maps; vh.Encode is different (no NUL) and lives in the plugin.
_ESCAPES = {"\x00": "&#0;", "\x05": "&#5;", "$": "&#36;", "`": "&#96;", "|": "&#124;", "~": "&#126;"}
_UNESCAPE_RE = re.compile(r"&#(\d+);")

#: Characters a nick may never contain: they would break the protocol framing.
NICK_FORBIDDEN = frozenset(" $|<>\x00\r\n\t")
MAX_SHARE_DIGITS = 18

_CHAT_RE = re.compile(r"<([^>]*)> (.*)", re.S)
_PM_RE = re.compile(r"\$To: (\S+) From: (\S+) \$<([^>]*)> ?(.*)", re.S)
_MCTO_RE = re.compile(r"\$MCTo: (\S+) \$(\S+) (.*)", re.S)


# --- handshake ---------------------------------------------------------------------------------

def make_lock(rng: Optional[random.Random] = None) -> str:
    """The ``$Lock`` line the hub sends first (A1), four random digits, without the ``|``."""
    digits = (rng or random).randint(0, 9999)
    return f"$Lock {LOCK_PREFIX}{digits:04d} Pk=Verlihub {HUB_VERSION}"


def lock_to_key(lock: str) -> str:
    """The ``$Key`` a client must answer to ``lock`` (the token after ``$Lock``, without ``Pk=``).

    Each byte is xor-ed with its predecessor (the first with the last two and 5), nibble-swapped,
    and the bytes the protocol reserves are written as ``/%DCN<3 digits>%/``.
    """
    raw = lock.encode("latin-1")
    n = len(raw)
    if n < 3:
        raise ValueError("a lock needs at least 3 bytes")
    key = [raw[0] ^ raw[-1] ^ raw[-2] ^ 5] + [raw[i] ^ raw[i - 1] for i in range(1, n)]
    out = []
    for byte in key:
        byte = ((byte << 4) | (byte >> 4)) & 0xFF
        out.append(f"/%DCN{byte:03d}%/" if byte in _KEY_ESCAPED else chr(byte))
    return "".join(out)


def lock_token(lock_line: str) -> str:
    """``"$Lock TOKEN Pk=..."`` -> ``"TOKEN"``."""
    return lock_line[len("$Lock "):].split(" ", 1)[0]


def supports_reply(features: Iterable[str]) -> str:
    """The accepted features in the client's order, each followed by a space (A1 shows the trailing
    space before the ``|``)."""
    return "".join(f"{f} " for f in features if f in ACCEPTED_FEATURES)


# --- framing -----------------------------------------------------------------------------------

def split_messages(buffer: str) -> tuple[list[str], str]:
    """Cut ``buffer`` at each ``|``: the complete messages, and the unfinished rest."""
    parts = buffer.split("|")
    return parts[:-1], parts[-1]


def with_pipe(data: str) -> str:
    """Raw data as the send functions put it on the wire: ``|`` appended unless already there."""
    return data if data.endswith("|") else data + "|"


def escape(text: str) -> str:
    """The hub's own chat escaper (F64)."""
    return "".join(_ESCAPES.get(c, c) for c in text)


def unescape(text: str) -> str:
    """``&#<decimal>;`` -> that byte (values above 255 are left as they are)."""
    return _UNESCAPE_RE.sub(lambda m: chr(int(m[1])) if int(m[1]) < 256 else m[0], text)


# --- messages ----------------------------------------------------------------------------------

def chat(nick: str, text: str) -> str:
    """A main-chat line ``<nick> text|``."""
    return f"<{nick}> {text}|"


def private(to: str, sender: str, text: str, sign: Optional[str] = None) -> str:
    """A PM ``$To: to From: sender $<sign> text|`` (F62)."""
    return f"$To: {to} From: {sender} $<{sign or sender}> {text}|"


def parse_chat(msg: str) -> Optional[tuple[str, str]]:
    """``<nick> text`` -> (nick, text); None if it is not a chat line."""
    m = _CHAT_RE.fullmatch(msg)
    return (m[1], m[2]) if m else None


def parse_pm(msg: str) -> Optional[tuple[str, str, str, str]]:
    """``$To: to From: sender $<sign> text`` -> (to, sender, sign, text)."""
    m = _PM_RE.fullmatch(msg)
    return (m[1], m[2], m[3], m[4]) if m else None


def parse_mcto(msg: str) -> Optional[tuple[str, str, str]]:
    """``$MCTo: to $sender text`` -> (to, sender, text)."""
    m = _MCTO_RE.fullmatch(msg)
    return (m[1], m[2], m[3]) if m else None


def nick_list(tag: str, nicks: Iterable[str]) -> str:
    """``$NickList a$$b$$|`` or ``$OpList ...|`` (``tag`` without the ``$``)."""
    return f"${tag} " + "".join(f"{n}$$" for n in nicks) + "|"


def nick_problem(nick: str, max_len: int = 64) -> Optional[str]:
    """Why ``nick`` cannot be used, or None when it can."""
    if not nick:
        return "empty"
    if len(nick) > max_len:
        return "too long"
    if any(c in NICK_FORBIDDEN or ord(c) < 32 for c in nick):
        return "forbidden characters"
    return None


# --- MyINFO (F28, F63) -------------------------------------------------------------------------

def build_myinfo(nick: str, desc: str, tag: str, speed: str, email: str, share: str | int) -> str:
    """``$MyINFO $ALL nick desc<tag>$ $speed$email$share$`` (no trailing ``|``)."""
    return f"$MyINFO $ALL {nick} {desc}{tag}$ ${speed}${email}${share}$"


def split_myinfo(msg: str) -> Optional[tuple[str, str, str, str, str, str]]:
    """(nick, desc, tag, speed, email, share) the way the plugin's SplitMyINFO cuts it (F28).

    ``speed`` keeps its trailing status byte, ``tag`` keeps its brackets, ``share`` is the field as
    sent. None when the message does not have the shape (the hub then treats it as a syntax error).
    """
    prefix = "$MyINFO $ALL "
    if not msg.startswith(prefix) or len(msg) < 21:
        return None
    nick, sep, rest = msg[len(prefix):].partition(" ")
    fields = rest.split("$")
    if not sep or not nick or len(fields) != 6 or fields[5] != "":
        return None
    desc_tag, _, speed, email, share = fields[:5]
    desc, tag = desc_tag, ""
    if desc_tag.endswith(">") and "<" in desc_tag:
        cut = desc_tag.rindex("<")
        desc, tag = desc_tag[:cut], desc_tag[cut:]
    return nick, desc, tag, speed, email, share


def share_value(field: str) -> int:
    """The hub's reading of a share field: non-numeric or longer than 18 chars counts as 0 (F63)."""
    if not field.isdigit() or len(field) > MAX_SHARE_DIGITS:
        return 0
    return int(field)


def tag_mode(tag: str) -> str:
    """The ``M:`` letter of a client tag ("A" active, "P" passive, "5" SOCKS), "" if none."""
    m = re.search(r"[<,]M:([^,>]*)", tag)
    return m[1] if m else ""


# --- numbers as the hub prints them ------------------------------------------------------------

_UNITS = ("B", "KB", "MB", "GB", "TB", "PB", "EB")


def format_bytes(size: int) -> str:
    """``1234567890`` -> ``"1.15 GB"`` (A1 banner: 1024-based, two decimals)."""
    value = float(size)
    unit = 0
    while value >= 1024 and unit < len(_UNITS) - 1:
        value /= 1024
        unit += 1
    return f"{value:.2f} {_UNITS[unit]}"


def is_loopback_address(address: str) -> bool:
    """``host[:port]`` names this machine (127.0.0.0/8 or localhost): the only $ForceMove target
    the simulator sends, so that no client it serves is sent to an Internet host."""
    host = address.removeprefix("dchub://")
    host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    host = host.strip("[]")
    return host == "localhost" or host.startswith("127.") or host == "::1"
