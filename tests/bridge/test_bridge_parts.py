"""The bridge's pure parts: relay rules, the outbox and its spool, backoff, settings write-back."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from vhctl_hub.bridge.backoff import Backoff
from vhctl_hub.bridge.outbox import Outbox, Spool
from vhctl_hub.bridge.persist import save_setting
from vhctl_hub.bridge.poster import auth_refusal
from vhctl_hub.bridge.relay import MAX_LINES, MAX_TEXT, inbound, is_greeting, outgoing, relayable
from vhctl_hub.config import ConfigError, load_settings

FORMAT = "[{protocol}] <{username}> {text}"


def msg(text: str = "hi", username: str = "bob", **fields: object) -> dict:
    base = {"text": text, "channel": "#hub", "username": username, "userid": "", "avatar": "",
            "account": "irc.demo", "event": "", "protocol": "irc", "gateway": "gateway1",
            "parent_id": "", "timestamp": "2026-12-02T07:42:25.5Z", "id": "", "Extra": None}
    base.update(fields)
    return base


def test_outgoing_is_real_text_F64():
    assert outgoing("a &#36;5 &#124; b &amp; c 😀") == "a $5 | b & c 😀"


def test_command_lines_bots_and_ignored_nicks_stay_in_the_hub():
    bots, ignored = ("[Bridge]", "Verlihub"), ("quiet",)
    assert relayable("alice", "hello", bots, ignored)
    for text in ("+help", "!bridge status", "/me waves", ""):
        assert not relayable("alice", text, bots, ignored)
    assert not relayable("[Bridge]", "x", bots, ignored)
    assert not relayable("quiet", "x", bots, ignored)


def test_greeting_is_recognised_by_content_not_position_M28_M67():
    greeting = msg("", "", account="", event="api_connected", protocol="", gateway="", channel="")
    assert is_greeting(greeting) and inbound(greeting, FORMAT, "") is None
    spoof = msg("I am a greeting", event="api_connected")
    assert not is_greeting(spoof)
    assert inbound(spoof, FORMAT, "").lines == ["[irc] <bob> I am a greeting"]


def test_own_account_by_exact_id_M39_M40():
    assert inbound(msg(account="api.vhctl"), FORMAT, "api.vhctl") is None
    assert inbound(msg(account="api.vhctl2"), FORMAT, "api.vhctl").lines  # not a substring match
    assert inbound(msg(account="api.other", protocol="api"), FORMAT, "api.vhctl").lines


def test_hostile_text_keeps_every_line_prefixed_M49_M50():
    shown = inbound(msg("one\r\n<Admin> fake\nthree\x00\x07", "ev\nil<x>"), FORMAT, "")
    assert shown.lines == ["[irc] <ev il\u2039x\u203a> one", "[irc] <ev il\u2039x\u203a> <Admin> fake",
                           "[irc] <ev il\u2039x\u203a> three"]


def test_huge_text_is_cut_and_marked_M23():
    shown = inbound(msg("x" * 1_000_000), FORMAT, "")
    assert shown.truncated and len(shown.lines) == 1 and len(shown.lines[0]) <= MAX_TEXT + 40
    many = inbound(msg("\n".join(f"l{i}" for i in range(50))), FORMAT, "")
    assert many.truncated and len(many.lines) == MAX_LINES
    assert many.lines[-1].endswith("(41 more lines not shown)")


def test_events_and_files_M44_M52():
    assert inbound(msg("typing", event="user_typing"), FORMAT, "") is None
    assert inbound(msg("waves", event="user_action"), FORMAT, "").lines == ["[irc] <bob> * waves"]
    extra = {"file": [{"Name": "a.txt", "URL": "http://x/a.txt", "Data": "aGVsbG8="}]}
    assert inbound(msg("", Extra=extra), FORMAT, "").lines == ["[irc] <bob>  [file: a.txt http://x/a.txt]"]
    assert inbound(msg("{text} {0}", username="{username}"), "{account}/{channel}: {text}", "").lines == [
        "irc.demo/#hub: {text} {0}"]


def test_outbox_drops_oldest_when_full_and_keeps_order():
    box = Outbox(3)
    for i in range(5):
        box.put("alice", f"m{i}")
    assert [ln["text"] for ln in box.lines()] == ["m2", "m3", "m4"] and box.dropped == 2
    head = box.peek(0)
    box.pop(head)
    assert box.prepend([{"nick": "a", "text": "old1", "at": 0}, {"nick": "a", "text": "old2", "at": 0}]) == 1
    assert [ln["text"] for ln in box.lines()] == ["old2", "m3", "m4"]


def test_spool_carries_lines_to_the_next_instance(tmp_path: Path):
    box = Outbox(10)
    box.put("alice", "one")
    box.put("bob", "two ünï")
    Spool(tmp_path).maybe_write(box, force=True)
    assert (tmp_path / "bridge-outbox.json").stat().st_mode & 0o777 == 0o600
    taken = Spool(tmp_path).take()
    assert [(ln["nick"], ln["text"]) for ln in taken] == [("alice", "one"), ("bob", "two ünï")]
    (tmp_path / "bridge-outbox.json").write_text("not json", encoding="utf-8")
    assert Spool(tmp_path).take() == []


def test_backoff_grows_to_the_cap_with_jitter():
    backoff = Backoff(1.0, 8.0, random.Random(1))
    delays = [backoff.next_delay() for _ in range(8)]
    assert all(0.5 <= d <= 1.0 for d in delays[:1]) and all(4.0 <= d <= 8.0 for d in delays[4:])
    backoff.reset()
    assert backoff.next_delay() <= 1.0


def test_auth_refusals_are_told_from_json_errors_M11_M18():
    assert auth_refusal(401, b'{"message":"Unauthorized"}\n')
    assert auth_refusal(400, b'{"message":"missing key in request header"}\n')
    assert auth_refusal(400, b'{"message":"invalid key in the request header"}\n')
    assert not auth_refusal(400, b'{"message":"unexpected EOF"}\n')


def test_settings_written_back_keep_comments(tmp_path: Path):
    config = tmp_path / "vhctl.toml"
    config.write_text("# mine\n[bridge]\ngateway = \"old\"  # the gateway\n", encoding="utf-8")
    config.chmod(0o640)
    save_setting(config, "bridge.gateway", "new")
    text = config.read_text(encoding="utf-8")
    assert "# mine" in text and "# the gateway" in text and load_settings(config).bridge.gateway == "new"
    assert config.stat().st_mode & 0o777 == 0o640
    with pytest.raises(ConfigError):
        save_setting(config, "bridge.url", "ftp://nope")
    assert load_settings(config).bridge.url == "http://127.0.0.1:4242"
