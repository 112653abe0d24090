"""NMDC text safety and the hub's two encodings (F23, F50, F53-F55, F64, A6)."""

from __future__ import annotations

import pytest

from vhctl_hub.text import (ELLIPSIS, MAX_LINES, HubCodec, nmdc_escape, nmdc_unescape, safe_lines,
                            valid_nick)


def test_F64_escapes_every_byte_the_hub_escapes():
    assert nmdc_escape("a$b|c\x00d\x05e`f~g") == "a&#36;b&#124;c&#0;d&#5;e`f~g"  # clients show &#126; raw


def test_unescape_reverses_escape():
    text = "pay $5 | now ~ `x` \x05"
    assert nmdc_unescape(nmdc_escape(text)) == text


@pytest.mark.parametrize("text, lines", [
    ("one\ntwo", ["one", "two"]),
    ("one\r\ntwo\rthree", ["one", "two", "three"]),
    ("a\n\n  \nb", ["a", "b"]),
    ("tab\there\x01bell\x7f", ["tab\there bell "]),
    ("inject|$To: x From: y $<y> forged", ["inject&#124;&#36;To: x From: y &#36;<y> forged"]),
])
def test_F50_safe_lines_split_and_escape(text, lines):
    assert safe_lines(text, 2000) == lines


def test_safe_lines_never_contain_protocol_bytes():
    hostile = "x|y$z\r\n$Quit a|\x00\x05`~" * 50
    for line in safe_lines(hostile, 100):
        assert not set(line) & set("|$\r\n\x00\x05")
        assert len(line) <= 100


def test_safe_lines_cap_length_without_cutting_an_escape():
    line = safe_lines("|" * 100, 64)[0]
    assert len(line) <= 64 and line.endswith(ELLIPSIS)
    assert line[:-1].replace("&#124;", "") == ""


def test_safe_lines_cap_line_count():
    lines = safe_lines("\n".join(str(i) for i in range(100)), 200)
    assert len(lines) == MAX_LINES
    assert lines[-1] == f"({100 - MAX_LINES + 1} more lines not shown)"


def test_valid_nick():
    assert valid_nick("[Bridge]")
    for bad in ("", "a b", "a$b", "a|b", "<a>", "x" * 65):
        assert not valid_nick(bad)


@pytest.mark.parametrize("encoding", ["UTF-8", "utf-8", ""])
def test_F53_utf8_hub_converts_nothing(encoding):
    codec = HubCodec(encoding)
    assert codec.identity
    assert codec.hook_to_vh("José Ж") == "José Ж" == codec.display("José Ж") == codec.outgoing("José Ж")


def test_F55_cp1252_hook_nick_maps_to_the_vh_nick():
    codec = HubCodec("CP1252")
    # A UTF-8 client's "José" is b"Jos\xc3\xa9" in the hub; vh returns those bytes read as CP1252.
    vh_nick = b"Jos\xc3\xa9".decode("cp1252")
    assert codec.hook_to_vh("José") == vh_nick
    assert codec.display(vh_nick) == "José"
    # A CP1252 client's "José" is b"Jos\xe9": vh returns it properly, and that is what we show.
    assert codec.display("José") == "José"


def test_F55_cp1252_undefined_bytes_survive():
    codec = HubCodec("CP1252")
    assert codec.hook_to_vh("с") == "\xd1\x81"  # U+0441 is D1 81 in UTF-8; 0x81 is unassigned in CP1252


def test_A6_outgoing_replaces_what_the_hub_encoding_lacks():
    codec = HubCodec("CP1252")
    assert codec.outgoing("é € Ж 😀") == "é € ? ?"
    assert HubCodec("no-such-encoding").outgoing("é Ж") == "é ?"
