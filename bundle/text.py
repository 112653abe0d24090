"""Text that crosses the hub boundary: NMDC escaping, line safety and the hub's two encodings.

Why this exists:
- The vh send functions put our text on the wire verbatim (vh-plugin.md F50, A6): a ``|`` ends the
  protocol message and whatever follows is parsed by clients as a new command. Every text we send is
  escaped the way the hub's own escaper does it (F64) and stripped of line breaks and control bytes.
- Strings reach Python two ways (F23, F53-F55): hook arguments are the raw wire bytes decoded as
  UTF-8, vh arguments/results are converted to/from ``hub_encoding``. ``HubCodec`` maps between them
  so that the same nick can be looked up in vh and shown to people as its client wrote it.

Line policy (documented for operators): CR, LF and CRLF split a text into separate messages; empty
lines are dropped; at most ``MAX_LINES`` lines are sent (the last one then says how many were cut);
tabs stay, other control characters become spaces; each line is cut at ``max_line`` characters, a cut
line ends with an ellipsis.
"""

from __future__ import annotations

import codecs
import re
from typing import Callable, List, Tuple

from vhctl_hub import hublog

#: What must be escaped in NMDC chat text, in the &#N; form clients decode (F64): ``$`` and ``|``
#: are protocol syntax, NUL and ``\x05`` would end or corrupt a message. The hub's own escaper also
#: turns backtick and ``~`` into entities (F49.57), but clients show those literally (microdc2 reads
#: ``&#126;`` as six characters), and neither means anything in a chat message: they are sent as is.
_ESCAPES = {"$": "&#36;", "|": "&#124;", "\x00": "&#0;", "\x05": "&#5;"}
_ESCAPE_RE = re.compile("[$|\x00\x05]")
_UNESCAPE_RE = re.compile(r"&#(0|5|36|124|96|126);")
_CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f]")  # tab stays; CR/LF are split before this runs
_LINE_BREAK_RE = re.compile("\r\n|\r|\n")

#: Most messages one text may become; more would flood users' chat windows.
MAX_LINES = 20
ELLIPSIS = "\u2026"


def nmdc_escape(text: str) -> str:
    """Escape what NMDC chat text must not carry raw: ``$`` ``|`` NUL ``\\x05``."""
    return _ESCAPE_RE.sub(lambda m: _ESCAPES[m.group(0)], text)


def nmdc_unescape(text: str) -> str:
    """Undo ``nmdc_escape`` for text clients sent (they escape ``$`` and ``|`` themselves, A1)."""
    return _UNESCAPE_RE.sub(lambda m: chr(int(m.group(1))), text)


def _escape_cut(line: str, max_line: int) -> str:
    """Escape ``line`` and cut the result to ``max_line`` characters without splitting an escape."""
    escaped = nmdc_escape(line)
    if len(escaped) <= max_line:
        return escaped
    out, size = [], 0
    for ch in line:
        piece = _ESCAPES.get(ch, ch)
        if size + len(piece) > max_line - 1:
            break
        out.append(piece)
        size += len(piece)
    return "".join(out) + ELLIPSIS


def safe_lines(text: str, max_line: int) -> List[str]:
    """Split ``text`` into escaped lines that are each safe to send as one NMDC message.

    ``max_line`` bounds the length of each line after escaping.
    """
    lines = [ln for ln in _LINE_BREAK_RE.split(str(text)) if ln.strip()]
    extra = len(lines) - MAX_LINES
    if extra > 0:
        lines = lines[: MAX_LINES - 1] + [f"({extra + 1} more lines not shown)"]
    return [_escape_cut(_CONTROL_RE.sub(" ", line), max_line) for line in lines]


def valid_nick(nick: str) -> bool:
    """A nick we may put into ``<nick> text`` or a PM header: no space, no NMDC syntax characters."""
    return bool(nick) and len(nick) <= 64 and not any(c in nick for c in " $|<>\r\n\x00\x05`~")


def _byte_fallback(error: UnicodeError) -> Tuple[str, int]:
    """Decode a byte the code page leaves undefined (e.g. CP1252 0x81) as the same code point."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start:error.end]
    return "".join(chr(b) for b in bad), error.end


codecs.register_error("vhctl_bytes", _byte_fallback)

#: Spellings the plugin treats as "no conversion" (F53).
_NO_CONVERSION = ("", "UTF-8", "utf-8")


class HubCodec:
    """Converts between hook strings, vh strings, display strings and text we send.

    With ``hub_encoding`` UTF-8 every conversion is the identity.
    """

    def __init__(self, hub_encoding: str) -> None:
        self.hub_encoding = hub_encoding or ""
        self.identity = self.hub_encoding in _NO_CONVERSION
        self.codec = "utf-8"
        if not self.identity:
            try:
                self.codec = codecs.lookup(self.hub_encoding).name
            except LookupError:  # a name ICU knows but Python does not: treat as Latin-1
                self.codec = "latin-1"
            self.identity = self.codec == "utf-8"

    def hook_to_vh(self, text: str) -> str:
        """The vh-side string naming the same hub bytes as a hook argument (F23 vs F53)."""
        if self.identity:
            return text
        return text.encode("utf-8", "surrogatepass").decode(self.codec, "vhctl_bytes")

    def display(self, vh_text: str) -> str:
        """How people read a vh result: its bytes as UTF-8 when they are UTF-8, else as converted."""
        if self.identity or vh_text.isascii():
            return vh_text
        try:
            raw = vh_text.encode(self.codec)
            return raw.decode("utf-8")
        except UnicodeError:
            return vh_text

    def outgoing(self, text: str) -> str:
        """Text to pass to a vh send function: characters the hub encoding lacks become ``?``.

        The hub would otherwise send its substitution byte 0x1A (A6).
        """
        if self.identity or text.isascii():
            return text
        return text.encode(self.codec, "replace").decode(self.codec, "vhctl_bytes")


class HubEncoding:
    """The hub's current ``HubCodec`` (calling it returns it, any thread), read again from the
    hub's ``hub_encoding`` setting (hub thread) when asked and every ``every`` seconds: an operator
    may change the setting while the hub runs."""

    def __init__(self, read_setting: Callable[[], str], every: float) -> None:
        self._read_setting = read_setting
        self._every = every
        self._read_at = float("-inf")
        self._codec = HubCodec("UTF-8")

    def __call__(self) -> HubCodec:
        return self._codec

    def refresh(self, mono: float, force: bool = False) -> None:
        """Hub thread: read the setting again if ``every`` seconds passed since (or ``force``)."""
        if not force and mono - self._read_at <= self._every:
            return
        self._read_at = mono
        try:
            self._codec = HubCodec(self._read_setting())
        except Exception as exc:  # noqa: BLE001 - keep the previous codec
            hublog.log(f"cannot read hub_encoding: {type(exc).__name__}: {exc}")
