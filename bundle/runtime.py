"""The runtime inside the hub: registered components, hook dispatch, supervision.

One ``Runtime`` exists per interpreter that imported ``vhctl_hub``:
- single-interpreter mode: every script runs in ``__main__`` and shares ``sys.modules`` (F3), so
  all our scripts share one runtime. The surviving hook function is called once per script that had
  it (A12); ``EventDeduper`` turns those calls back into one event, dispatched to every registered
  component once, using OnParsedMsgAny to tell where each user message begins. Third-party hooks of
  the same name are chained (see ``HookGuard``).
- sub-interpreter mode: each script has its own interpreter and its own runtime with its one
  component; the plugin calls each script's hook once per event.

Each component instance has a supervisor thread: it waits until the previous instance of the same
name let go (``Lease``), starts the component, watches for a newer instance, for the hub no longer
calling OnTimer (``!pyunload``: UnLoad is never called, F15) and for an explicit stop, then stops it
and writes its status file. Without OnTimer it cannot tell an unloaded script from a stalled hub,
except by the ``!pyunload`` command our OnHubCommand saw before the plugin acted on it (F5, F7).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from vhctl_hub import hublog
from vhctl_hub.cache import HubCache, build_cache
from vhctl_hub.commands import CommandSet, route
from vhctl_hub.component import Component, Context
from vhctl_hub.dedup import EventDeduper
from vhctl_hub.events import EventFeed
from vhctl_hub.hookguard import HookGuard, names_script
from vhctl_hub.hookstats import HookStats
from vhctl_hub.lease import Lease
from vhctl_hub.sender import HubSender
from vhctl_hub.sharedsettings import SharedSettings
from vhctl_hub.status import status_path
from vhctl_hub.text import HubEncoding
from vhctl_hub.vhaccess import VhAccess
from vhctl_hub.workqueue import WorkQueue

#: The hooks every vhctl script defines. OnParsedMsgAny does no work: in single mode it marks where
#: each user message begins, so that the same command typed twice is two events (see ``dedup``).
HOOKS = ("OnTimer", "OnUserLogin", "OnUserLogout", "OnParsedMsgAny", "OnParsedMsgMyINFO",
         "OnParsedMsgChat", "OnHubCommand", "OnUnLoad")
#: Called for every protocol message of every user: kept to the bare minimum.
MESSAGE_HOOK = "OnParsedMsgAny"

#: Supervisor poll period, seconds (how fast a reload or unload is noticed).
POLL = 0.1
#: How long a new instance waits for the previous one to let go, seconds.
LOCK_WAIT = 15.0
#: Bound on ``Component.stop`` and on joining a component's threads, seconds.
STOP_TIMEOUT = 5.0
#: A supervisor whose hub has not called OnTimer for this long gives up for good, seconds (a stalled
#: hub may come back before; an unloaded script never does, see ``Runtime.unloaded``).
GIVE_UP_AFTER = 300.0
#: Console commands that unload the script they name (F5: only with "!"; F9-F10).
UNLOAD_COMMANDS = ("pyunload ", "pyreload ")
#: Share of the tick budget that hooks other than OnTimer may spend on queued work.
OTHER_HOOK_SHARE = 0.25
#: How often the hub encoding is read again, seconds.
CODEC_REFRESH = 60.0


def _allow(*_args: Any) -> int:
    """Our part of a hook that has nothing to do but let the event through."""
    return 1


def plugin_verdict(value: Any) -> int:
    """What the plugin makes of a hook's return value (F20): 0 blocks, everything else allows."""
    if value is None:
        return 0
    if isinstance(value, (bool, int)):
        return 1 if value else 0
    return 1


#: How compiled modules refuse a second interpreter: PyO3 (pydantic-core, A10) and Cython 3
#: (httptools, uvicorn's HTTP parser).
ONCE_PER_PROCESS = ("subinterpreter", "interpreter change detected")


def lasts_until_restart(exc: BaseException) -> bool:
    """Whether ``exc`` is a compiled module refusing a second interpreter: only a hub restart ends it."""
    return isinstance(exc, ImportError) and any(m in str(exc).lower() for m in ONCE_PER_PROCESS)


def describe_start_error(name: str, exc: BaseException) -> str:
    """One line for the operator about a component that could not start."""
    text = f"{type(exc).__name__}: {exc}"
    if lasts_until_restart(exc):
        return (f"{name} cannot start again in this hub process: the plugin runs each script in its own "
                "sub-interpreter, and FastAPI's compiled parts load only in the first one; restart the hub "
                "to load it, or rebuild the plugin with -DPYTHON_USE_SINGLE_INTERPRETER=ON to reload freely")
    if isinstance(exc, OSError) and getattr(exc, "errno", None) == 98:
        return f"{name} cannot start: its port is in use by another program ({text})"
    return f"{name} cannot start: {text}"


class Instance:
    """One registered component and its supervisor."""

    def __init__(self, runtime: "Runtime", component: Component, ctx: Context,
                 commands: Optional[CommandSet], state_dir: Path, slot: Optional[int]) -> None:
        self.runtime = runtime
        self.component = component
        self.ctx = ctx
        self.commands = commands
        self.state_dir = state_dir
        self.lease = Lease(state_dir, ctx.name)
        self.slot = slot
        self.stop_reason = ""
        #: monotonic time of the last `!pyunload`/`!pyreload` naming this script (see Runtime.unloaded)
        self.unload_asked = float("-inf")
        self.thread = threading.Thread(target=self._supervise, daemon=True,
                                       name=f"vhctl-{ctx.name}-supervisor")

    @property
    def name(self) -> str:
        return self.ctx.name

    def named_by(self, target: str) -> bool:
        """Whether `!pyunload TARGET` means this instance's script (F9): its id, its path (relative
        to the hub's working folder), or a bare name the plugin looks up in its scripts folder."""
        return names_script(target, self.ctx.script_path, self.slot)

    def retire(self, reason: str) -> None:
        """Ask the supervisor to stop the component for good (any thread)."""
        if not self.ctx.stopping.is_set():
            self.stop_reason = reason
            self.ctx.stopping.set()

    # ---------------------------------------------------------------- supervisor thread
    def _supervise(self) -> None:
        status = self.ctx.status
        try:
            if self._acquire():
                self._run()
        except Exception as exc:  # noqa: BLE001 - a supervisor must always clean up
            hublog.log_exception(f"{self.name}: supervisor failed", exc)
            status.error(f"supervisor failed: {type(exc).__name__}: {exc}")
        finally:
            self.lease.release()
            self.runtime.forget(self)
            status.set(state="stopped", running=False, stop_reason=self.stop_reason)
            self._write_status(force=True)

    def _acquire(self) -> bool:
        self.lease.claim()
        deadline = time.monotonic() + LOCK_WAIT
        while not self.lease.try_acquire():
            if self.ctx.stopping.is_set() or self.lease.superseded():
                self.stop_reason = self.stop_reason or "a newer instance took over before this one started"
                return False
            if time.monotonic() > deadline:
                self.stop_reason = "previous instance still running"
                self.ctx.notice(f"the previous {self.name} instance did not stop within {LOCK_WAIT:g} s; "
                                "restart the hub")
                return False
            time.sleep(POLL / 2)
        return True

    def _run(self) -> None:
        while True:
            if self._start():
                reason = self._watch()
            else:
                reason = "start failed"
            self._stop(reason)
            if reason != "paused" or not self._wait_for_ticks():
                return

    def _start(self) -> bool:
        self.ctx.status.set(state="starting", running=False)
        try:
            self.component.start()
        except Exception as exc:  # noqa: BLE001 - reported as one line
            self.ctx.notice(describe_start_error(self.name, exc), once_per_process=lasts_until_restart(exc))
            self.ctx.status.set(state="error", running=False)
            self.stop_reason = "start failed"
            return False
        self.ctx.status.set(state="running", running=True, stop_reason=None)
        return True

    def _watch(self) -> str:
        """Run until something says stop; returns "paused" when only the hub's ticks stopped."""
        while True:
            if self.ctx.stopping.wait(POLL):
                return self.stop_reason or "stopped"
            if self.lease.superseded():
                self.stop_reason = "a newer instance took over (reload)"
                return self.stop_reason
            if self.runtime.tick_silence() > self.runtime.watchdog_seconds():
                self.stop_reason = "the hub stopped calling OnTimer (script unloaded?)"
                return "paused"
            self.runtime.guard_hooks()
            self._write_status()

    def _wait_for_ticks(self) -> bool:
        """Paused by the watchdog: resume when OnTimer comes back, give up after GIVE_UP_AFTER."""
        self.ctx.status.set(state="paused", running=False)
        self._write_status(force=True)
        while not self.ctx.stopping.wait(POLL * 5):
            if self.lease.superseded():
                self.stop_reason = "a newer instance took over (reload)"
                return False
            silence = self.runtime.tick_silence()
            if self.runtime.unloaded(self):
                self.stop_reason = "its script was unloaded"
                return False
            if silence > GIVE_UP_AFTER:
                return False
            if silence < self.runtime.watchdog_seconds() / 2:
                self.ctx.log("the hub calls OnTimer again; starting again")
                return True
            self.runtime.guard_hooks()
        return False

    def _stop(self, reason: str) -> None:
        ctx = self.ctx
        ctx.status.set(state="stopping", running=False, stop_reason=self.stop_reason)
        stopper = threading.Thread(target=self._call_stop, daemon=True, name=f"vhctl-{self.name}-stop")
        stopper.start()
        stopper.join(STOP_TIMEOUT)
        stuck = ctx.join_threads(STOP_TIMEOUT if not stopper.is_alive() else 0.1)
        if stopper.is_alive() or stuck:
            ctx.notice(f"did not stop cleanly within {STOP_TIMEOUT:g} s ({', '.join(stuck) or 'stop()'} "
                       "still running)")
        ctx.log(f"stopped: {self.stop_reason or reason}")

    def _call_stop(self) -> None:
        try:
            self.component.stop()
        except Exception as exc:  # noqa: BLE001
            hublog.log_exception(f"{self.name}: stop failed", exc)
            self.ctx.status.error(f"stop failed: {type(exc).__name__}: {exc}")

    def _write_status(self, force: bool = False) -> None:
        status = self.ctx.status
        if not (force or status.due(time.monotonic())):
            return
        try:
            extra = self.component.status()
        except Exception as exc:  # noqa: BLE001
            extra = {"status_error": f"{type(exc).__name__}: {exc}"}
        try:
            status.write(status_path(self.state_dir, self.name), {**self.runtime.health(), "extra": extra})
        except OSError as exc:
            hublog.log(f"{self.name}: cannot write status: {exc}")


class Instances:
    """The registered instances of one runtime, by component name (any thread)."""

    def __init__(self) -> None:
        self._by_name: Dict[str, Instance] = {}
        self._lock = threading.Lock()

    def put(self, instance: Instance) -> Optional[Instance]:
        """Register ``instance``; returns the one of the same name it replaces."""
        with self._lock:
            old = self._by_name.pop(instance.name, None)
            self._by_name[instance.name] = instance
        return old

    def forget(self, instance: Instance) -> None:
        """Drop a stopped instance (if it is still the registered one)."""
        with self._lock:
            if self._by_name.get(instance.name) is instance:
                del self._by_name[instance.name]

    def live(self) -> List[Instance]:
        """The live instances, in registration order."""
        with self._lock:
            return [i for i in self._by_name.values() if not i.ctx.stopping.is_set()]

    def live_slots(self) -> List[int]:
        """Single mode: the plugin slots of the live instances, newest first (for ``VhAccess``)."""
        return [i.slot for i in reversed(self.live()) if i.slot is not None]


class Runtime:
    """Everything vhctl keeps inside one interpreter of the hub; made by ``build_runtime``.

    Its settings (``settings()``, the config's ``[runtime]`` table) are one set for all its
    components: the first registration's win; a reload of that component brings its new ones in;
    another component's differing settings are not used, and logged once (see ``sharedsettings``)."""

    def __init__(self, *, single: bool, vh: VhAccess, queue: WorkQueue, feed: EventFeed,
                 encoding: HubEncoding, cache: HubCache, sender: HubSender, guard: HookGuard,
                 settings: SharedSettings, registry: Instances) -> None:
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
        self.stats = HookStats()
        self.dedup = EventDeduper()
        self._last_tick = time.monotonic()
        self._tick_interval = 1.0
        self._handlers: Dict[str, Callable[..., int]] = {
            "OnTimer": self._on_timer, "OnUserLogin": self._on_login, "OnUserLogout": self._on_logout,
            "OnParsedMsgAny": _allow, "OnParsedMsgMyINFO": self._on_myinfo,
            "OnParsedMsgChat": self._on_chat, "OnHubCommand": self._on_command, "OnUnLoad": self._on_unload,
        }

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
        self._last_tick = time.monotonic()
        instance.thread.start()

    def forget(self, instance: Instance) -> None:
        """Drop a stopped instance from the registry (if it is still the registered one)."""
        self._registry.forget(instance)

    def instances(self) -> List[Instance]:
        """The live instances, in registration order."""
        return self._registry.live()

    # ---------------------------------------------------------------- health (any thread)
    def tick_silence(self) -> float:
        """Seconds since the last OnTimer."""
        return time.monotonic() - self._last_tick

    def unloaded(self, instance: Instance) -> bool:
        """A `!pyunload` named the instance's script and no OnTimer came after it: the plugin no
        longer calls the script (a failed unload, e.g. without the rights, is followed by ticks)."""
        return instance.unload_asked > self._last_tick

    def watchdog_seconds(self) -> float:
        """No OnTimer for this long means the hub no longer calls us (at least 3 timer periods)."""
        return max(self.settings().watchdog_seconds, 3 * self._tick_interval)

    def health(self) -> Dict[str, Any]:
        """Lag and hook timing sections of the status file."""
        pending, oldest = self.queue.lag()
        return {"lag": {"queue_len": pending, "oldest_age_s": round(oldest, 3),
                        "last_tick_age_s": round(self.tick_silence(), 3),
                        "tick_interval_s": round(self._tick_interval, 3)},
                "queue": {"done": self.queue.done, "failed": self.queue.failed,
                          "last_error": self.queue.last_error},
                "hooks": self.stats.summary(), "cache": self.cache.summary()}

    def guard_hooks(self) -> None:
        """Single mode: keep our hooks in ``__main__`` (any thread; see HookGuard)."""
        if self.single and self.instances():
            self.guard.restore()

    # ---------------------------------------------------------------- dispatch (hub thread)
    def dispatch(self, hook: str, args: Tuple[Any, ...]) -> int:
        """Handle one hook call; returns 1, or 0 only for a command a component handled."""
        if hook == MESSAGE_HOOK:
            return self._on_message(args)
        started = time.perf_counter_ns()
        try:
            if not self.single:
                return self._handle(hook, args)
            if self.guard.pending:
                self._settle_guard(final=hook == "OnTimer")
            repeated = self.dedup.enter(hook, args)
            if repeated is not None:
                return repeated
            verdict = 1
            try:
                verdict = self._handle(hook, args)
            finally:
                self.dedup.leave(verdict)
            return verdict
        except Exception as exc:  # noqa: BLE001 - a hook must never fail the hub's event
            hublog.log_exception(f"{hook} failed", exc)
            return 1
        finally:
            self.stats.record(hook, time.perf_counter_ns() - started)

    def _handle(self, hook: str, args: Tuple[Any, ...]) -> int:
        try:
            verdict = self._handlers[hook](*args)
        except Exception as exc:  # noqa: BLE001
            hublog.log_exception(f"{hook} failed", exc)
            verdict = 1
        foreign = self.guard.foreign.get(hook) if self.single else None
        if foreign is not None:
            try:
                verdict = min(verdict, plugin_verdict(foreign(*args)))
            except Exception as exc:  # noqa: BLE001 - the plugin treats it as "allow" too (F20)
                hublog.log_exception(f"third-party {hook} failed", exc)
        return verdict

    def _on_message(self, args: Tuple[Any, ...]) -> int:
        """OnParsedMsgAny: every message of every user, so no timing and no work of ours. Single
        mode: it passes through the deduper (that is what separates two identical commands) and a
        third-party OnParsedMsgAny is chained once per message, its 0 blocking."""
        if not self.single:
            return 1
        if self.guard.pending:   # before the message's other hooks: they find ours in place (A23)
            self._settle_guard(final=False)
        dedup = self.dedup
        repeated = dedup.enter(MESSAGE_HOOK, args)
        if repeated is not None:
            return repeated
        verdict = 1
        try:
            if MESSAGE_HOOK in self.guard.foreign:
                verdict = self._handle(MESSAGE_HOOK, args)
        finally:
            dedup.leave(verdict)
        return verdict

    def _after(self, share: float = OTHER_HOOK_SHARE) -> None:
        """End of a hook other than OnTimer: some queued work (the cache publishes on OnTimer only)."""
        self.queue.drain(self.settings().tick_budget_ms / 1000.0 * share)

    def _on_timer(self, now: float) -> int:
        mono = time.monotonic()
        self._tick_interval = min(60.0, max(0.05, mono - self._last_tick))
        self._last_tick = mono
        self.encoding.refresh(mono)
        if self.single:
            self._check_slots()
            self.guard.restore()
        for instance in self.instances():
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

    def _on_login(self, nick: str) -> int:
        if self.cache.active:
            self.cache.on_login(nick)
        self._after()
        return 1

    def _on_logout(self, nick: str) -> int:
        if self.cache.active:
            self.cache.on_logout(nick)
        self._after()
        return 1

    def _on_myinfo(self, nick: str, desc: str, tag: str, speed: str, email: str, share: str) -> int:
        if self.cache.active:
            self.cache.on_myinfo(nick, desc, tag, speed, email, share)
        self._after()
        return 1

    def _on_chat(self, nick: str, text: str) -> int:
        for instance in self.instances():
            try:
                instance.component.on_chat(nick, text)
            except Exception as exc:  # noqa: BLE001
                hublog.log_exception(f"{instance.name}: on_chat failed", exc)
        if self.feed.chat_enabled:
            self.feed.publish("chat", nick, text=text)
        self._after()
        return 1

    def _on_command(self, nick: str, command: str, user_class: int, in_pm: int, prefix: str) -> int:
        if prefix == "!" and command.startswith(UNLOAD_COMMANDS):
            self._note_unload(command.partition(" ")[2].strip())
        if prefix == "!" and self.single:
            self.guard.note_command(command)
        sets = [i.commands for i in self.instances() if i.commands is not None]
        pm = bool(in_pm)
        verdict = route(sets, nick, command, int(user_class), pm, str(prefix),
                        lambda text: self.sender.reply(nick, text, pm))
        self._after()
        return verdict

    def _on_unload(self, code: int = 0) -> int:
        instances = self.instances()
        for instance in instances:
            instance.retire(f"the hub is shutting down (OnUnLoad {code})")
        deadline = time.monotonic() + STOP_TIMEOUT
        for instance in instances:
            instance.thread.join(max(0.0, deadline - time.monotonic()))
        return 1

    def _note_unload(self, target: str) -> None:
        """An operator's `!pyunload`/`!pyreload TARGET`, seen before the plugin acts on it (F7)."""
        now = time.monotonic()
        for instance in self.instances():
            if instance.named_by(target):
                instance.unload_asked = now

    def _settle_guard(self, final: bool) -> None:
        """Single mode, hub thread: finish a third-party load or unload the guard was told about."""
        self.guard.settle(self.vh.myid(), self.vh.slot_alive, final)

    def _check_slots(self) -> None:
        """Single mode: retire components whose script slot was unloaded (F3, F15)."""
        for instance in self.instances():
            if instance.slot is not None and not self.vh.slot_alive(instance.slot):
                instance.retire("its script was unloaded (!pyunload)")


def build_runtime(single: bool, hub_thread_id: int,
                  stand_in: Callable[[str], Callable[..., int]]) -> Runtime:
    """The one place a runtime is put together from its parts (nothing is patched in later).

    ``single``: the plugin's single-interpreter mode; ``hub_thread_id``: the thread vh may be
    called on; ``stand_in(hook)``: a function equivalent to the script's own hook, which the hook
    guard puts in ``__main__`` until it has seen one of ours (see ``HookGuard``)."""
    registry = Instances()
    settings = SharedSettings()
    vh = VhAccess(hub_thread_id, single, registry.live_slots)
    encoding = HubEncoding(lambda: vh.get_config("hub_encoding"), CODEC_REFRESH)
    queue, feed = WorkQueue(), EventFeed()
    cache = build_cache(vh, feed, encoding, lambda: settings().reconcile_seconds)
    sender = HubSender(vh, queue, encoding, lambda: settings().max_line, cache.vh_nick)
    return Runtime(single=single, vh=vh, queue=queue, feed=feed, encoding=encoding, cache=cache,
                   sender=sender, guard=HookGuard(HOOKS, stand_in), settings=settings, registry=registry)
