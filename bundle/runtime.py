"""The runtime inside the hub: the registered components, their supervisors, and the hooks' door.

One ``Runtime`` exists per interpreter that imported ``vhctl_hub``:
- single-interpreter mode: every script runs in ``__main__`` and shares ``sys.modules`` (F3), so
  all our scripts share one runtime, and each event is dispatched to every registered component
  once (see ``dispatch``);
- sub-interpreter mode: each script has its own interpreter and its own runtime with its one
  component; the plugin calls each script's hook once per event.

Its parts, each in its own module: the hook dispatcher (``dispatch``: once per event, chaining,
timing), the runtime's work per hook (``handlers``), the supervisor of each component instance
(``supervisor``), the registry of instances (``registry``) and the hub's OnTimer beat (``ticks``).
``build_runtime`` puts them together; this class registers components and answers what the
supervisors and the status file ask.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Dict, List

from vhctl_hub import hublog
from vhctl_hub.cache import HubCache, build_cache
from vhctl_hub.component import Component, Context
from vhctl_hub.dispatch import HOOKS, HookDispatcher
from vhctl_hub.events import EventFeed
from vhctl_hub.handlers import HookHandlers
from vhctl_hub.hookguard import HookGuard
from vhctl_hub.registry import Instances
from vhctl_hub.sender import HubSender
from vhctl_hub.sharedsettings import SharedSettings
from vhctl_hub.starterror import describe_start_error
from vhctl_hub.supervisor import Instance
from vhctl_hub.text import HubEncoding
from vhctl_hub.ticks import Ticks
from vhctl_hub.vhaccess import VhAccess
from vhctl_hub.workqueue import WorkQueue

#: ``describe_start_error`` is also read from here by the API's web stack (its one-line start errors).
__all__ = ["Runtime", "build_runtime", "describe_start_error"]

#: How often the hub encoding is read again, seconds.
CODEC_REFRESH = 60.0


class Runtime:
    """Everything vhctl keeps inside one interpreter of the hub; made by ``build_runtime``.

    Its settings (``settings()``, the config's ``[runtime]`` table) are one set for all its
    components: the first registration's win; a reload of that component brings its new ones in;
    another component's differing settings are not used, and logged once (see ``sharedsettings``)."""

    def __init__(self, *, single: bool, vh: VhAccess, queue: WorkQueue, feed: EventFeed,
                 encoding: HubEncoding, cache: HubCache, sender: HubSender, guard: HookGuard,
                 settings: SharedSettings, registry: Instances, ticks: Ticks,
                 dispatcher: HookDispatcher) -> None:
        self.single = single
        self.vh = vh
        self.queue = queue
        self.feed = feed
        self.encoding = encoding
        self.cache = cache
        self.sender = sender
        self.guard = guard
        self.settings = settings
        self._registry = registry
        self._ticks = ticks
        self.dispatcher = dispatcher
        #: Handle one hook call (hub thread): ``dispatch(hook, *args)`` -> 1, or 0 for a handled command.
        self.dispatch: Callable[..., int] = dispatcher.dispatch

    # ---------------------------------------------------------------- registration (hub thread)
    def add(self, component: Component, ctx: Context, state_dir: Path, script_globals: Dict[str, Any]) -> None:
        """Register a constructed component and start its supervisor."""
        declined = self.settings.offer(ctx.name, ctx.settings.runtime, [i.name for i in self.instances()])
        if declined is not None:
            hublog.log(declined)
        self.encoding.refresh(time.monotonic(), force=True)
        slot = self.vh.myid()
        instance = Instance(self, component, ctx, component.commands(), state_dir, slot)
        old = self._registry.put(instance)
        if old is not None:
            old.retire("replaced by a newer load of its script")
        if self.single:
            self.guard.adopt(script_globals)
            self.guard.place_earlier(slot, self.vh.slot_alive, self._registry.live_slots())
        if component.needs_cache:
            self.cache.activate()
        self._ticks.restart()
        instance.thread.start()

    def forget(self, instance: Instance) -> None:
        """Drop a stopped instance from the registry (if it is still the registered one)."""
        self._registry.forget(instance)

    def retired(self, instance: Instance) -> None:
        """An instance was asked to stop (any thread): no more events for it."""
        self._registry.retired()

    def instances(self) -> List[Instance]:
        """The live instances, in registration order."""
        return self._registry.live()

    # ---------------------------------------------------------------- health (any thread)
    def tick_silence(self) -> float:
        """Seconds since the last OnTimer."""
        return self._ticks.silence()

    def unloaded(self, instance: Instance) -> bool:
        """A `!pyunload` named the instance's script and no OnTimer came after it: the plugin no
        longer calls the script (a failed unload, e.g. without the rights, is followed by ticks)."""
        return instance.unload_asked > self._ticks.last

    def watchdog_seconds(self) -> float:
        """No OnTimer for this long means the hub no longer calls us (at least 3 timer periods)."""
        return max(self.settings().watchdog_seconds, 3 * self._ticks.interval)

    def health(self) -> Dict[str, Any]:
        """Lag and hook timing sections of the status file."""
        pending, oldest = self.queue.lag()
        return {"lag": {"queue_len": pending, "oldest_age_s": round(oldest, 3),
                        "last_tick_age_s": round(self.tick_silence(), 3),
                        "tick_interval_s": round(self._ticks.interval, 3)},
                "queue": {"done": self.queue.done, "failed": self.queue.failed,
                          "last_error": self.queue.last_error},
                "hooks": self.dispatcher.stats.summary(), "cache": self.cache.summary()}

    def guard_hooks(self) -> None:
        """Single mode: keep our hooks in ``__main__`` (any thread; see HookGuard)."""
        if self.single and self.instances():
            self.guard.restore()


def build_runtime(single: bool, hub_thread_id: int,
                  stand_in: Callable[[str], Callable[..., int]]) -> Runtime:
    """The one place a runtime is put together from its parts (nothing is patched in later).

    ``single``: the plugin's single-interpreter mode; ``hub_thread_id``: the thread vh may be
    called on; ``stand_in(hook)``: a function equivalent to the script's own hook, which the hook
    guard puts in ``__main__`` until it has seen one of ours (see ``HookGuard``)."""
    registry, ticks = Instances(), Ticks()
    settings = SharedSettings()
    vh = VhAccess(hub_thread_id, single, registry.live_slots)
    encoding = HubEncoding(lambda: vh.get_config("hub_encoding"), CODEC_REFRESH)
    queue, feed = WorkQueue(), EventFeed()
    cache = build_cache(vh, feed, encoding, lambda: settings().reconcile_seconds)
    sender = HubSender(vh, queue, encoding, lambda: settings().max_line, cache.vh_nick)
    guard = HookGuard(HOOKS, stand_in)
    handlers = HookHandlers(single=single, vh=vh, registry=registry, ticks=ticks, encoding=encoding,
                            guard=guard, cache=cache, queue=queue, feed=feed, sender=sender,
                            settings=settings)
    dispatcher = HookDispatcher(single, handlers.table(), guard, vh)
    return Runtime(single=single, vh=vh, queue=queue, feed=feed, encoding=encoding, cache=cache,
                   sender=sender, guard=guard, settings=settings, registry=registry, ticks=ticks,
                   dispatcher=dispatcher)
