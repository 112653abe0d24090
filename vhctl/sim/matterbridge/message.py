"""The message object as Matterbridge's Go code reads and writes it: keys, bytes, errors, times.

Clients are told to parse values and never match bytes (M49), yet the stand-in writes the bytes Go
writes (HTML-safe escaping, raw UTF-8, ``Extra`` keys sorted) so that a client which accidentally
depends on Python's escaping fails here, not in production.
"""

from __future__ import annotations

import codecs
import json
import re
import time
from datetime import datetime, timezone
from typing import Any

# M13: exactly these keys, in this order, on every message.
KEYS = ("text", "channel", "username", "userid", "avatar", "account", "event", "protocol",
        "gateway", "parent_id", "timestamp", "id", "Extra")
STRING_KEYS = tuple(k for k in KEYS if k not in ("timestamp", "Extra"))
_BY_FOLDED = {k.lower(): k for k in KEYS}

GREETING_EVENT = "api_connected"  # M28


def _per_byte_replace(exc: UnicodeError) -> tuple[str, int]:
    """One U+FFFD per invalid byte, as Go does (Python's "replace" merges some runs; M49)."""
    assert isinstance(exc, UnicodeDecodeError)
    return "\ufffd" * (exc.end - exc.start), exc.end


codecs.register_error("vhctl-mb-per-byte", _per_byte_replace)


def decode_body(raw: bytes) -> str:
    """Request bytes to text, invalid UTF-8 becoming U+FFFD per byte (M49, M87)."""
    return raw.decode("utf-8", errors="vhctl-mb-per-byte")


def now_rfc3339() -> str:
    """Go's RFC3339Nano for now in the local zone: nanoseconds, trailing zeros dropped (M15)."""
    ns = time.time_ns()
    stamp = datetime.fromtimestamp(ns // 1_000_000_000, timezone.utc).astimezone()
    fraction = f"{ns % 1_000_000_000:09d}".rstrip("0")
    offset = stamp.strftime("%z")
    zone = "Z" if offset in ("+0000", "") else f"{offset[:3]}:{offset[3:]}"
    return stamp.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + zone


_RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)\Z")


def new_message(**fields: Any) -> dict[str, Any]:
    """A message with all 13 keys: strings empty, ``Extra`` null, timestamp now (M13)."""
    msg: dict[str, Any] = {k: "" for k in KEYS}
    msg["timestamp"] = now_rfc3339()
    msg["Extra"] = None
    msg.update(fields)
    return msg


def greeting() -> dict[str, Any]:
    """The first stream line / WebSocket frame: only event and timestamp set (M28, M66)."""
    return new_message(event=GREETING_EVENT)


# Go's encoding/json string escaping with HTML-safe on (M49): \n \r \t short, other C0 as \u00XX,
# < > & U+2028 U+2029 as \uXXXX, DEL and non-ASCII raw.
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t",
            "<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_NEEDS_ESCAPE = re.compile('["\\\\\x00-\x1f<>&\u2028\u2029]')


def _go_string(s: str) -> str:
    return '"' + _NEEDS_ESCAPE.sub(lambda m: _ESCAPES.get(m[0], f"\\u{ord(m[0]):04x}"), s) + '"'


def _go_value(value: Any, indent: str | None, level: int) -> str:
    """One JSON value the way Go marshals it; dicts other than a message have sorted keys (Go maps)."""
    if isinstance(value, str):
        return _go_string(value)
    if value is None or isinstance(value, (bool, int, float)):
        return json.dumps(value)
    if isinstance(value, dict):
        keys = list(value) if tuple(value) == KEYS else sorted(value)
        items = [(_go_string(k) + (": " if indent else ":"), value[k]) for k in keys]
        return _container("{", "}", [(p, v) for p, v in items], indent, level)
    return _container("[", "]", [("", v) for v in value], indent, level)


def _container(open_: str, close: str, items: list[tuple[str, Any]], indent: str | None,
               level: int) -> str:
    if not items:
        return open_ + close
    parts = [prefix + _go_value(v, indent, level + 1) for prefix, v in items]
    if indent is None:
        return open_ + ",".join(parts) + close
    inner, outer = "\n" + indent * (level + 1), "\n" + indent * level
    return open_ + inner + ("," + inner).join(parts) + outer + close


def compact(value: Any) -> bytes:
    """Compact Go JSON without newline: a WebSocket frame (M68); add ``\\n`` for a stream line (M27)."""
    return _go_value(value, None, 0).encode("utf-8")


def pretty(value: Any) -> bytes:
    """``json.MarshalIndent(v, "", " ")`` plus ``\\n``: the /api/messages body (M24)."""
    return _go_value(value, " ", 0).encode("utf-8") + b"\n"


class DecodeError(ValueError):
    """A body Go's decoder refuses; ``str(error)`` is the text echo puts in ``{"message":...}``."""


_GO_KIND = {str: "string", bool: "bool", int: "number", float: "number", list: "array",
            dict: "object"}
_WS = " \t\n\r"
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # a JSON escape like \ud800 decodes to U+FFFD in Go
_DECODER = json.JSONDecoder()


def _kind(value: Any) -> str:
    return _GO_KIND[type(value)]


def _syntax_error(text: str, exc: json.JSONDecodeError) -> DecodeError:
    """Go's ``Syntax error: offset=N, error=...`` (echo's wording, M18), or ``unexpected EOF``."""
    if exc.msg.startswith("Unterminated string") or exc.pos >= len(text.rstrip(_WS)):
        return DecodeError("unexpected EOF")
    char = text[exc.pos]
    context = {"Expecting property name enclosed in double quotes": "looking for beginning of object key string",
               "Expecting ':' delimiter": "after object key",
               "Expecting ',' delimiter": "after object key:value pair"}.get(exc.msg, "looking for beginning of value")
    offset = len(text[:exc.pos + 1].encode("utf-8"))
    return DecodeError(f"Syntax error: offset={offset}, error=invalid character {char!r} {context}")


def _type_error(expected: str, got: str, field: str, offset: int) -> DecodeError:
    return DecodeError(f"Unmarshal type error: expected={expected}, got={got}, field={field}, offset={offset}")


def decode_message(text: str, *, whole: bool) -> dict[str, Any]:
    """Fields a client sent, keys matched case-insensitively, nulls skipped (M18, M70).

    ``whole=False`` is echo's POST binding: one value is read and the rest ignored (M18).
    ``whole=True`` is the WebSocket's ``json.Unmarshal``: trailing data is an error (M71).
    """
    stripped = text.lstrip(_WS)
    if not stripped:
        raise DecodeError("EOF" if not whole else "unexpected end of JSON input")
    start = len(text) - len(stripped)
    try:
        value, end = _DECODER.raw_decode(text, start)
    except json.JSONDecodeError as exc:
        raise _syntax_error(text, exc) from None
    if whole and text[end:].strip(_WS):
        raise DecodeError(f"invalid character {text[end:].lstrip(_WS)[0]!r} after top-level value")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _type_error("config.Message", _kind(value), "", len(text[:start + 1].encode("utf-8")))
    return _fields(text, start, value)


def _fields(text: str, start: int, value: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key, item in value.items():
        name = _BY_FOLDED.get(key.lower())
        if name is None or item is None:
            continue
        expected = "map[string][]interface {}" if name == "Extra" else "string"
        if name == "Extra":
            ok = isinstance(item, dict) and all(isinstance(v, list) or v is None for v in item.values())
        elif name == "timestamp":
            ok = isinstance(item, str)
            if ok and not _RFC3339.match(item):
                quoted = json.dumps(json.dumps(item))  # Go's %q of the raw JSON value
                raise DecodeError(f'parsing time {quoted} as "\\"2006-01-02T15:04:05Z07:00\\"": '
                                  f'cannot parse {quoted} as "2006"')
        else:
            ok = isinstance(item, str)
        if not ok:
            raise _type_error(expected, _kind(item), name, _value_end(text, start, key))
        fields[name] = {k: v for k, v in item.items() if v is not None} if name == "Extra" else item
    return {k: (_LONE_SURROGATE.sub("\ufffd", v) if isinstance(v, str) else v) for k, v in fields.items()}


def _value_end(text: str, start: int, key: str) -> int:
    """Byte offset just past ``key``'s value in the top-level object, as Go reports it (M18)."""
    idx = start + 1
    while True:
        idx = _skip(text, idx)
        name, idx = _DECODER.raw_decode(text, idx)
        idx = _skip(text, _skip(text, idx) + 1)
        item, end = _DECODER.raw_decode(text, idx)
        if name == key:
            stop = idx + 1 if isinstance(item, (dict, list)) else end
            return len(text[:stop].encode("utf-8"))
        idx = _skip(text, end) + 1


def _skip(text: str, idx: int) -> int:
    while idx < len(text) and text[idx] in _WS:
        idx += 1
    return idx
