"""The runtime core's parts on their own: the hook dispatcher in each mode, the registry's chat table,
the hook guard's pending flag, and the bridge outbox's hand-off to a waiting poster (the hub-thread
side of it takes no lock, so the wake-up is what must not be lost)."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any, List, Optional

import pytest

from vhctl_hub.bridge.outbox import Outbox
from vhctl_hub.component import Component, Context
from vhctl_hub.config import Settings
from vhctl_hub.dispatch import HOOKS, MESSAGE_HOOK, HookDispatcher
from vhctl_hub.hookguard import HookGuard
from vhctl_hub.registry import Instances
from vhctl_hub.status import StatusBoard
from vhctl_hub.supervisor import Instance
from vhctl_hub.vhaccess import VhAccess


def _dispatcher(single: bool, calls: List[Any]) -> HookDispatcher:
    def chat(nick: str, text: str) -> int:
        calls.append((nick, text))
        if text == "boom":
            raise RuntimeError("boom")
        return 1

    guard = HookGuard(HOOKS, lambda name: (lambda *args: 1))
    return HookDispatcher(single, {"OnParsedMsgChat": chat, "OnHubCommand": lambda *a: 0}, guard,
                          VhAccess(threading.get_ident(), single))


@pytest.mark.parametrize("single", [True, False], ids=["single", "sub"])
def test_dispatch_calls_the_handler_times_it_and_survives_its_error(single):
    calls: List[Any] = []
    dispatcher = _dispatcher(single, calls)
    assert dispatcher.dispatch("OnParsedMsgChat", "alice", "hi") == 1
    assert dispatcher.dispatch("OnParsedMsgChat", "alice", "boom") == 1   # logged, the event allowed
    assert dispatcher.dispatch("OnHubCommand", "op", "api status", 5, 0, "!") == 0
    assert dispatcher.dispatch(MESSAGE_HOOK, "alice", "<alice> hi|") == 1
    assert calls == [("alice", "hi"), ("alice", "boom")]
    hooks = dispatcher.stats.summary()
    assert hooks["OnParsedMsgChat"]["count"] == 2 and MESSAGE_HOOK not in hooks


def test_single_mode_answers_a_repeated_call_once_and_chains_a_third_party_zero(tmp_path):
    calls: List[Any] = []
    dispatcher = _dispatcher(True, calls)
    space = {"__file__": str(tmp_path / "ours.py")}
    exec(compile("def OnParsedMsgChat(nick, text): return 0", str(tmp_path / "theirs.py"), "exec"), space)
    dispatcher.guard.adopt(space)
    assert dispatcher.dispatch(MESSAGE_HOOK, "alice", "<alice> hi|") == 1
    assert dispatcher.dispatch("OnParsedMsgChat", "alice", "hi") == 0   # their 0 blocks
    assert dispatcher.dispatch("OnParsedMsgChat", "alice", "hi") == 0   # the same event again
    assert calls == [("alice", "hi")]
    assert dispatcher.dispatch(MESSAGE_HOOK, "alice", "<alice> hi|") == 1
    assert dispatcher.dispatch("OnParsedMsgChat", "alice", "hi") == 0   # a new message: a new event
    assert calls == [("alice", "hi")] * 2


def test_A12_single_mode_keeps_a_hook_fired_inside_another_as_its_own_event():
    """The deduper's steps done inline by the dispatcher: a nested call is its own event at its own
    depth, and the outer event's repeated call (the next slot's) is still answered, not handled."""
    calls: List[Any] = []
    dispatcher = _dispatcher(True, calls)

    def tick(now: float) -> int:
        calls.append(("tick", now))
        assert dispatcher.dispatch("OnParsedMsgChat", "bot", "inside") == 1
        assert dispatcher.dispatch("OnParsedMsgChat", "bot", "inside") == 1   # its repeat
        return 1

    dispatcher.handlers["OnTimer"] = tick
    assert dispatcher.dispatch("OnTimer", 1.0) == 1
    assert dispatcher.dispatch("OnTimer", 1.0) == 1   # the second slot's call of the same tick
    assert dispatcher.dispatch("OnTimer", 2.0) == 1
    assert calls == [("tick", 1.0), ("bot", "inside"), ("tick", 2.0), ("bot", "inside")]
    assert dispatcher.dedup.depth == 0
    hooks = dispatcher.stats.summary()
    assert hooks["OnTimer"]["count"] == 3 and hooks["OnParsedMsgChat"]["count"] == 4   # calls, repeats too
    assert hooks["OnParsedMsgChat"]["max_us"] <= hooks["OnTimer"]["max_us"]   # timed inside it


def test_hook_guard_pending_follows_the_commands_it_is_told_and_settles():
    guard = HookGuard(HOOKS, lambda name: (lambda *args: 1))
    assert not guard.pending
    guard.note_command("pyload other.py")
    assert guard.pending
    guard.settle(None, lambda slot: False, final=False)
    assert guard.pending                                   # a load lasts until the next OnTimer
    guard.settle(None, lambda slot: False, final=True)
    assert not guard.pending


class _Chatty(Component):
    name = "chatty"

    def on_chat(self, nick: str, text: str) -> None:
        """Takes chat lines."""


class _Host:
    def __init__(self, registry: Instances) -> None:
        self.registry = registry

    def retired(self, instance: Instance) -> None:
        self.registry.retired()


def _instance(host: Any, cls: type, tmp_path: Path, slot: Optional[int]) -> Instance:
    ctx = Context(SimpleNamespace(single=True), cls.name, Settings(), tmp_path / "vhctl.toml",  # type: ignore[arg-type]
                  str(tmp_path / f"{cls.name}.py"), StatusBoard(cls.name), tmp_path)
    return Instance(host, cls(ctx), ctx, None, tmp_path, slot)


def test_the_chat_table_holds_the_live_components_that_take_chat(tmp_path):
    registry = Instances()
    host = _Host(registry)
    quiet = _instance(host, Component, tmp_path, 1)
    chatty = _instance(host, _Chatty, tmp_path, 2)
    registry.put(quiet)
    registry.put(chatty)
    assert [name for name, _ in registry.chat] == ["chatty"]   # the base class's no-op is left out
    assert registry.live() == [quiet, chatty]
    chatty.retire("test")
    assert registry.chat == () and registry.live() == [quiet]
    registry.forget(quiet)
    assert registry.live() == [] and registry.live_slots() == []


def test_a_waiting_poster_gets_a_line_put_without_a_lock():
    box = Outbox(10)
    got: List[Any] = []
    looking = threading.Event()

    def poster() -> None:
        looking.set()
        got.append(box.peek(60.0))

    for i in range(20):   # a put before, during and after the poster starts to wait
        got.clear()
        looking.clear()
        thread = threading.Thread(target=poster, daemon=True)
        thread.start()
        looking.wait(5)
        box.put("alice", f"line {i}")
        thread.join(10)
        assert not thread.is_alive() and got and got[0]["text"] == f"line {i}"
        box.pop(got[0])
    assert len(box) == 0 and box.changed == 40
