"""The NMDC codec: $Lock/$Key, MyINFO split and build (F28, F63), framing, numbers as the hub
prints them."""

from __future__ import annotations

import random
import re

import pytest

from vhctl.sim import nmdc, welcome


def _reference_key(lock: bytes) -> bytes:
    """The $Key algorithm written out step by step from the protocol description, to check the
    codec's compact version against (bytes in, bytes out)."""
    n = len(lock)
    key = bytearray(n)
    key[0] = lock[0] ^ lock[n - 1] ^ lock[n - 2] ^ 5
    for i in range(1, n):
        key[i] = lock[i] ^ lock[i - 1]
    out = b""
    for b in key:
        swapped = ((b << 4) & 240) | ((b >> 4) & 15)
        out += b"/%%DCN%03d%%/" % swapped if swapped in (0, 5, 36, 96, 124, 126) else bytes([swapped])
    return out


def test_A1_lock_format() -> None:
    line = nmdc.make_lock(random.Random(1))
    assert re.fullmatch(r"\$Lock EXTENDEDPROTOCOL_NMDC_\d{4} Pk=Verlihub 1\.7\.0\.0", line)
    assert nmdc.lock_token(line).startswith("EXTENDEDPROTOCOL_NMDC_")


@pytest.mark.parametrize("seed", range(50))
def test_key_matches_reference_and_never_carries_reserved_bytes(seed: int) -> None:
    rng = random.Random(seed)
    lock = "".join(chr(rng.randint(1, 255)) for _ in range(rng.randint(3, 80)))
    key = nmdc.lock_to_key(lock)
    assert key.encode("latin-1") == _reference_key(lock.encode("latin-1"))
    raw = re.sub(r"/%DCN\d{3}%/", "", key)
    assert not set(raw) & set("\x00\x05$`|~")


def test_key_escapes_reserved_bytes() -> None:
    # 'A' ^ 'A' = 0 -> nibble swap 0 -> must be written /%DCN000%/
    assert "/%DCN000%/" in nmdc.lock_to_key("AAAA")


def test_key_of_a_real_lock_is_stable() -> None:
    lock = "EXTENDEDPROTOCOL_NMDC_3675"
    assert nmdc.lock_to_key(lock) == nmdc.lock_to_key(lock)
    assert len(nmdc.lock_to_key(lock)) >= len(lock)


def test_A1_supports_reply_echoes_accepted_features_in_client_order() -> None:
    sent = "NoGetINFO NoHello UserIP2 TTHSearch ZPipe0 HubTopic QuickList SaltPass ".split(" ")
    assert nmdc.supports_reply(sent) == "NoGetINFO NoHello UserIP2 TTHSearch ZPipe0 HubTopic "


def test_F28_split_myinfo_with_tag() -> None:
    msg = "$MyINFO $ALL carol lab desc<++ V:0.868,M:A,H:1/0/0,S:3>$ $100\x01$lab@example.invalid$5555$"
    assert nmdc.split_myinfo(msg) == ("carol", "lab desc", "<++ V:0.868,M:A,H:1/0/0,S:3>", "100\x01",
                                      "lab@example.invalid", "5555")


def test_F28_split_myinfo_of_robots_A5() -> None:
    hs = "$MyINFO $ALL Verlihub Hub security<Verlihub V:1.7.0.0,M:A,H:0/0/1,S:0>$ $\x01$$0$"
    assert nmdc.split_myinfo(hs) == ("Verlihub", "Hub security", "<Verlihub V:1.7.0.0,M:A,H:0/0/1,S:0>",
                                     "\x01", "", "0")
    bot = "$MyINFO $ALL LabBot lab bot desc$ $LAN(T1)$bot@x$12345$"
    assert nmdc.split_myinfo(bot) == ("LabBot", "lab bot desc", "", "LAN(T1)", "bot@x", "12345")


@pytest.mark.parametrize("bad", ["$MyINFO $ALL x", "$MyINFO $ALL nick desc$ $a$b$c",
                                 "$MyINFO nick desc$ $a$b$c$", "$MyINFO $ALL nick desc$ $a$b$c$d$",
                                 "<alice> hi there my friend"])
def test_F28_unparsable_myinfo(bad: str) -> None:
    assert nmdc.split_myinfo(bad) is None


def test_F63_build_is_the_inverse_of_split() -> None:
    parts = ("alice", "d", "<++ V:0.868,M:A,H:1/0/0,S:3>", "100\x01", "", "1234567890")
    built = nmdc.build_myinfo(*parts)
    assert built == "$MyINFO $ALL alice d<++ V:0.868,M:A,H:1/0/0,S:3>$ $100\x01$$1234567890$"
    assert nmdc.split_myinfo(built) == parts


@pytest.mark.parametrize("field,value", [("10485760", 10485760), ("", 0), ("12a", 0), ("-5", 0),
                                         ("9" * 18, int("9" * 18)), ("1" * 19, 0)])
def test_F63_share_field(field: str, value: int) -> None:
    assert nmdc.share_value(field) == value


def test_framing_keeps_the_unfinished_rest() -> None:
    assert nmdc.split_messages("$A|$B|$C") == (["$A", "$B"], "$C")
    assert nmdc.split_messages("|") == ([""], "")


def test_F50_pipe_appended_only_if_missing() -> None:
    assert nmdc.with_pipe("<x> y") == "<x> y|"
    assert nmdc.with_pipe("<x> y|") == "<x> y|"


def test_F64_escape_and_unescape() -> None:
    assert nmdc.escape("a$b|c`d~e\x05\x00") == "a&#36;b&#124;c&#96;d&#126;e&#5;&#0;"
    assert nmdc.unescape("a&#36;b&#124;c") == "a$b|c"


def test_F62_message_parsers() -> None:
    assert nmdc.parse_chat("<alice> hello from alice") == ("alice", "hello from alice")
    assert nmdc.parse_pm("$To: bob From: alice $<alice> x") == ("bob", "alice", "alice", "x")
    assert nmdc.parse_mcto("$MCTo: bob $alice psst") == ("bob", "alice", "psst")
    assert nmdc.parse_chat("$Version 1") is None


def test_nick_lists() -> None:
    assert nmdc.nick_list("NickList", ["a", "b"]) == "$NickList a$$b$$|"
    assert nmdc.nick_list("OpList", ["Master"]) == "$OpList Master$$|"


@pytest.mark.parametrize("nick,ok", [("alice", True), ("", False), ("a b", False), ("a$b", False),
                                     ("a|b", False), ("<x>", False), ("x" * 65, False)])
def test_nick_rules(nick: str, ok: bool) -> None:
    assert (nmdc.nick_problem(nick) is None) is ok


def test_A1_share_formatting() -> None:
    assert nmdc.format_bytes(1234567890) == "1.15 GB"
    assert nmdc.format_bytes(11111111100) == "10.35 GB"
    assert nmdc.format_bytes(0) == "0.00 B"


def test_A16_A17_period_formatting() -> None:
    assert welcome.format_period(0) == "0 msecs"
    assert welcome.format_period(4206) == "4 secs 206 msecs"
    assert welcome.format_period(131000) == "2 mins 11 secs"
    assert welcome.format_period(1765000) == "29 mins 25 secs"
    assert welcome.format_period(90061000) == "1 day 1 hour"
    assert welcome.format_period(60001) == "1 min 1 msec"


def test_tag_mode() -> None:
    assert nmdc.tag_mode("<++ V:0.868,M:A,H:1/0/0,S:3>") == "A"
    assert nmdc.tag_mode("<++ V:0.868,M:P,H:1/0/0,S:3>") == "P"
    assert nmdc.tag_mode("") == ""
