"""Text at the edge of the vh module: hub strings (one char per byte) <-> Python str in the hub's
``hub_encoding`` (section I of the spec: F53, F54), CPython's own ``s`` argument rule, and the two
functions that are pure text work, ``vh.Encode`` and ``vh.Decode`` (F49.57, F49.58).
"""

from __future__ import annotations

import codecs
from typing import Any, Callable, Optional

_ICU_SUB = "vhctl-sim-icu-substitute"


def _icu_substitute(exc: UnicodeError) -> tuple[str, int]:
    """ICU's substitute character (SUB, 0x1A) for each character the codec cannot encode."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    return "\x1a" * (exc.end - exc.start), exc.end


codecs.register_error(_ICU_SUB, _icu_substitute)

_NO_CONVERSION = ("", "UTF-8", "utf-8")  # F53: exact spellings that skip ICU


class HubText:
    """Hub-internal strings (one char per byte) <-> Python str, per section I of the spec."""

    def __init__(self, encoding: Callable[[], Optional[str]]) -> None:
        self._encoding = encoding    # the hub variable hub_encoding, read at every conversion
        self._codecs: dict[Optional[str], Optional[str]] = {}

    def codec(self) -> Optional[str]:
        """Python codec for ``hub_encoding``; None = no conversion (or a name ICU would reject)."""
        name = self._encoding()
        try:
            return self._codecs[name]
        except KeyError:
            pass
        found: Optional[str] = None
        if name not in _NO_CONVERSION and name is not None:
            try:
                found = codecs.lookup(name).name
            except LookupError:
                found = None  # "conversion failed": the UTF-8 bytes are used as they are (F53)
        self._codecs[name] = found
        return found

    def to_hub(self, text: str) -> str:
        """A str argument: UTF-8 (strict, like PyUnicode_AsUTF8), then to hub_encoding (F53)."""
        if not text.isascii():
            raw = text.encode("utf-8")  # a lone surrogate raises UnicodeEncodeError, as for real
            codec = self.codec()
            text = raw.decode("latin-1") if codec is None else \
                text.encode(codec, _ICU_SUB).decode("latin-1")
        nul = text.find("\x00")
        return text if nul < 0 else text[:nul]  # a C string ends at the first NUL

    def from_hub(self, text: str) -> str:
        """A str result: hub_encoding -> UTF-8 with replacement, then strict decode (F54)."""
        if text.isascii():
            return text
        raw = text.encode("latin-1")
        codec = self.codec()
        return raw.decode("utf-8") if codec is None else raw.decode(codec, "replace")


def raw_utf8(text: str) -> str:
    """A hub string handed to Python without conversion (module attributes, F23-style)."""
    return text.encode("latin-1", "replace").decode("utf-8", "replace")


def pyarg_str(value: Any, where: str) -> str:
    """PyArg 's': str only (no None), no NUL, UTF-8 encodable."""
    if not isinstance(value, str):
        shown = "None" if value is None else type(value).__name__
        raise TypeError(f"{where} must be str, not {shown}")
    if "\x00" in value:
        raise ValueError("embedded null character")
    value.encode("utf-8")
    return value


def pyarg_one(args: tuple, kwargs: dict, name: str) -> str:
    """The one str argument of a function that takes no keywords."""
    if kwargs:
        raise TypeError(f"{name}() takes no keyword arguments")
    if len(args) != 1:
        raise TypeError(f"function takes exactly 1 argument ({len(args)} given)")
    return pyarg_str(args[0], "argument 1")


def encode(*args: Any, **kwargs: Any) -> str:
    """F49.57: the five NMDC specials to entities; ``&`` untouched."""
    text = pyarg_one(args, kwargs, "Encode")
    return text.translate({5: "&#5;", 36: "&#36;", 124: "&#124;", 96: "&#96;", 126: "&#126;"})


def decode(*args: Any, **kwargs: Any) -> str:
    """F49.58: every ``&#N;`` becomes the byte N (mod 256); a NUL ends the C string."""
    data = pyarg_one(args, kwargs, "Decode").encode("utf-8")
    out = bytearray()
    i, size = 0, len(data)
    while i < size:
        if data[i] == 0x26 and i + 1 < size and data[i + 1] == 0x23:
            k = i + 2
            while k < size and 0x30 <= data[k] <= 0x39:
                k += 1
            if k < size and data[k] == 0x3B:
                out.append(int(data[i + 2:k] or b"0") % 256)
                i = k + 1
                continue
        out.append(data[i])
        i += 1
    nul = out.find(0)
    return bytes(out if nul < 0 else out[:nul]).decode("utf-8")
