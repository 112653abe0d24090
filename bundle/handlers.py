"""The runtime's own part of each hook: what one event makes it do (hub thread).

OnTimer beats the watchdog's clock, runs the components' ``on_tick``, the cache's reconciliation and
publishing and the queued work, all under the tick budget; user events feed the cache; a chat line
goes to every component; a command to the command router. Every hook other than OnTimer then runs
some queued work, a share of the budget.
"""

from __future__ import annotations

import time
from typing import Dict, Callable

from vhctl_hub import hublog
from vhctl_hub.cache import HubCache
from vhctl_hub.commands import route
from vhctl_hub.events import EventFeed
from vhctl_hub.hookguard import HookGuard
from vhctl_hub.registry import Instances
from vhctl_hub.sender import HubSender
from vhctl_hub.sharedsettings import SharedSettings
from vhctl_hub.supervisor import STOP_TIMEOUT
from vhctl_hub.text import HubEncoding
from vhctl_hub.ticks import Ticks
from vhctl_hub.vhaccess import VhAccess
from vhctl_hub.workqueue import WorkQueue

#: Console commands that unload the script they name (F5: only with "!"; F9-F10).
UNLOAD_COMMANDS = ("pyunload ", "pyreload ")
#: Share of the tick budget that hooks other than OnTimer may spend on queued work.
OTHER_HOOK_SHARE = 0.25


class HookHandlers:
    """The handler of each hook of ``dispatch.HOOKS`` but OnParsedMsgAny, which only marks where a
    message begins (see ``table``)."""

    def __init__(self, *, single: bool, vh: VhAccess, registry: Instances, ticks: Ticks,
                 encoding: HubEncoding, guard: HookGuard, cache: HubCache, queue: WorkQueue,
                 feed: EventFeed, sender: HubSender, settings: SharedSettings) -> None:
        self.single = single
        self.vh = vh
        self.registry = registry
        self.ticks = ticks
        self.encoding = encoding
        self.guard = guard
        self.cache = cache
        self.queue = queue
        self.feed = feed
        self.sender = sender
        self.settings = settings

    def table(self) -> Dict[str, Callable[..., int]]:
        """Hook name -> handler, for the dispatcher."""
        return {"OnTimer": self.on_timer, "OnUserLogin": self.on_login, "OnUserLogout": self.on_logout,
                "OnParsedMsgMyINFO": self.on_myinfo,
                "OnParsedMsgChat": self.on_chat, "OnHubCommand": self.on_command, "OnUnLoad": self.on_unload}

    def _after(self) -> None:
        """End of a hook other than OnTimer: some queued work (the cache publishes on OnTimer only)."""
        if self.queue.waiting:
            self.queue.drain(self.settings().tick_budget_ms / 1000.0 * OTHER_HOOK_SHARE)

    def on_timer(self, now: float) -> int:
        mono = time.monotonic()
        self.ticks.beat(mono)
        self.encoding.refresh(mono)
        if self.single:
            self._check_slots()
            self.guard.restore()
        for instance in self.registry.live():
            try:
                instance.component.on_tick(now)
            except Exception as exc:  # noqa: BLE001
                hublog.log_exception(f"{instance.name}: on_tick failed", exc)
        budget = self.settings().tick_budget_ms / 1000.0
        begun = time.perf_counter()
        if self.cache.active:
            self.cache.tick(float(now), self._reconcile_slice(budget))
        self.cache.publish()
        self.queue.drain(max(0.0, budget - (time.perf_counter() - begun)))
        return 1

    def _reconcile_slice(self, budget: float) -> float:
        """Hub-thread time the cache's reconciliation may take in this tick: a small slice, except
        while the first pass fills the cache (then up to the budget, half of it when work waits)."""
        if not self.cache.complete:
            return budget / 2 if self.queue.lag()[0] else budget
        return min(budget, self.settings().reconcile_slice_ms / 1000.0)

    def on_login(self, nick: str) -> int:
        if self.cache.active:
            self.cache.on_login(nick)
        self._after()
        return 1

    def on_logout(self, nick: str) -> int:
        if self.cache.active:
            self.cache.on_logout(nick)
        self._after()
        return 1

    def on_myinfo(self, nick: str, desc: str, tag: str, speed: str, email: str, share: str) -> int:
        if self.cache.active:
            self.cache.on_myinfo(nick, desc, tag, speed, email, share)
        self._after()
        return 1

    def on_chat(self, nick: str, text: str) -> int:
        for name, on_chat in self.registry.chat:
            try:
                on_chat(nick, text)
            except Exception as exc:  # noqa: BLE001
                hublog.log_exception(f"{name}: on_chat failed", exc)
        if self.feed.chat_enabled:
            self.feed.publish("chat", nick, text=text)
        if self.queue.waiting:
            self._after()
        return 1

    def on_command(self, nick: str, command: str, user_class: int, in_pm: int, prefix: str) -> int:
        if prefix == "!" and command.startswith(UNLOAD_COMMANDS):
            self._note_unload(command.partition(" ")[2].strip())
        if prefix == "!" and self.single:
            self.guard.note_command(command)
        sets = [i.commands for i in self.registry.live() if i.commands is not None]
        pm = bool(in_pm)
        verdict = route(sets, nick, command, int(user_class), pm, str(prefix),
                        lambda text: self.sender.reply(nick, text, pm))
        self._after()
        return verdict

    def on_unload(self, code: int = 0) -> int:
        instances = self.registry.live()
        for instance in instances:
            instance.retire(f"the hub is shutting down (OnUnLoad {code})")
        deadline = time.monotonic() + STOP_TIMEOUT
        for instance in instances:
            instance.thread.join(max(0.0, deadline - time.monotonic()))
        return 1

    def _note_unload(self, target: str) -> None:
        """An operator's `!pyunload`/`!pyreload TARGET`, seen before the plugin acts on it (F7)."""
        now = time.monotonic()
        for instance in self.registry.live():
            if instance.named_by(target):
                instance.unload_asked = now

    def _check_slots(self) -> None:
        """Single mode: retire components whose script slot was unloaded (F3, F15)."""
        for instance in self.registry.live():
            if instance.slot is not None and not self.vh.slot_alive(instance.slot):
                instance.retire("its script was unloaded (!pyunload)")
