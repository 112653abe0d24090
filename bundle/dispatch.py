"""One hook call of the plugin -> the runtime's handler for it, once per event, timed.

- sub-interpreter mode: each script has its own runtime and the plugin calls its hook once per
  event: the call goes straight to the handler.
- single-interpreter mode: every script shares ``__main__`` (F3) and one runtime; the surviving hook
  function is called once per script that had it (A12). ``EventDeduper`` turns those calls back
  into one event, using OnParsedMsgAny to tell where each user message begins, and a third-party
  hook of the same name (see ``HookGuard``) is called after ours ("chained"), its 0 blocking.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, Tuple

from vhctl_hub import hublog
from vhctl_hub.dedup import EventDeduper
from vhctl_hub.hookguard import HookGuard
from vhctl_hub.hookstats import HookStats
from vhctl_hub.vhaccess import VhAccess

#: The hooks every vhctl script defines. OnParsedMsgAny does no work: in single mode it marks where
#: each user message begins, so that the same command typed twice is two events (see ``dedup``).
HOOKS = ("OnTimer", "OnUserLogin", "OnUserLogout", "OnParsedMsgAny", "OnParsedMsgMyINFO",
         "OnParsedMsgChat", "OnHubCommand", "OnUnLoad")
#: Called for every protocol message of every user: kept to the bare minimum.
MESSAGE_HOOK = "OnParsedMsgAny"

Handlers = Dict[str, Callable[..., int]]
_now_ns = time.perf_counter_ns


def plugin_verdict(value: Any) -> int:
    """What the plugin makes of a hook's return value (F20): 0 blocks, everything else allows."""
    if value is None:
        return 0
    if isinstance(value, (bool, int)):
        return 1 if value else 0
    return 1


class HookDispatcher:
    """Calls the runtime's handler of each hook (``handlers``: hook name -> function of the hook's
    arguments, returning the verdict) and records the hub-thread time spent (``stats``).

    Every chat line passes here, so the path is kept short: the mode picks ``dispatch`` once, the
    handler is one dict lookup, and nothing is allocated or formatted unless a handler fails."""

    def __init__(self, single: bool, handlers: Handlers, guard: HookGuard, vh: VhAccess) -> None:
        self.single = single
        self.handlers = handlers
        self.guard = guard
        self.vh = vh
        self.stats = HookStats()
        self._timed = self.stats.add
        self.dedup = EventDeduper()
        #: Handle one hook call: ``dispatch(hook, *args)`` -> 1, or 0 only for a command a component handled.
        self.dispatch: Callable[..., int] = self._single if single else self._sub

    def _sub(self, hook: str, *args: Any) -> int:
        """Sub-interpreter mode: one call per event, nothing to chain; OnParsedMsgAny is not timed."""
        if hook == MESSAGE_HOOK:
            return 1
        started = _now_ns()
        try:
            return self.handlers[hook](*args)
        except Exception as exc:  # noqa: BLE001 - a hook must never fail the hub's event
            hublog.log_exception(f"{hook} failed", exc)
            return 1
        finally:
            self._timed(hook, _now_ns() - started)

    def _single(self, hook: str, *args: Any) -> int:
        """Single-interpreter mode: repeated calls of one event answered from the deduper, a
        third-party hook of the same name chained, its 0 blocking. OnParsedMsgAny (every message
        of every user) passes through the deduper, as that is what separates two identical
        commands, and is neither handled nor timed: there is nothing of ours to do.

        The grouping's steps (see ``dedup``) are done inline here, the only place they run: this
        runs for every protocol message, once per script slot."""
        started = _now_ns()
        guard, dedup = self.guard, self.dedup
        depth = dedup.depth
        try:
            if guard.pending:   # before a message's other hooks: they find ours in place (A23)
                self._settle_guard(final=hook == "OnTimer")
            key = (hook, args)                       # a new event, or a repeat of the current one
            events = dedup.events
            if depth < len(events):
                event = events[depth]
                if event[0] == key:
                    return event[1]                  # a repeated call: the event's verdict
                del events[depth + 1:]
                event[0] = key
            else:
                event = [key, 1]
                events.append(event)
            dedup.depth = depth + 1
            verdict = 1
            try:
                if hook != MESSAGE_HOOK:
                    try:
                        verdict = self.handlers[hook](*args)
                    except Exception as exc:  # noqa: BLE001
                        hublog.log_exception(f"{hook} failed", exc)
                foreign = guard.foreign.get(hook)
                if foreign is not None:
                    verdict = self._chain(foreign, hook, args, verdict)
            finally:
                dedup.depth = depth                  # the event answered: its repeats get the verdict
                event[1] = verdict
            return verdict
        except Exception as exc:  # noqa: BLE001 - a hook must never fail the hub's event
            hublog.log_exception(f"{hook} failed", exc)
            return 1
        finally:
            if hook != MESSAGE_HOOK:
                self._timed(hook, _now_ns() - started)

    def _chain(self, foreign: Callable[..., Any], hook: str, args: Tuple[Any, ...], verdict: int) -> int:
        """Call another script's same-named hook after ours; the lower verdict wins."""
        try:
            return min(verdict, plugin_verdict(foreign(*args)))
        except Exception as exc:  # noqa: BLE001 - the plugin treats it as "allow" too (F20)
            hublog.log_exception(f"third-party {hook} failed", exc)
            return verdict

    def _settle_guard(self, final: bool) -> None:
        """Single mode, hub thread: finish a third-party load or unload the guard was told about."""
        self.guard.settle(self.vh.myid(), self.vh.slot_alive, final)
