"""One registered component instance and the supervisor thread that runs it.

The supervisor waits until the previous instance of the same name let go (``Lease``), starts the
component, watches for a newer instance, for the hub no longer calling OnTimer (``!pyunload``:
UnLoad is never called, F15) and for an explicit stop, then stops it and writes its status file.
Without OnTimer it cannot tell an unloaded script from a stalled hub, except by the ``!pyunload``
command our OnHubCommand saw before the plugin acted on it (F5, F7).

What the supervisor needs of the runtime is the ``Host`` below, so this module does not import the
runtime (which imports it).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Dict, Optional, Protocol

from vhctl_hub import hublog
from vhctl_hub.commands import CommandSet
from vhctl_hub.component import Component, Context
from vhctl_hub.hookguard import names_script
from vhctl_hub.lease import Lease
from vhctl_hub.starterror import describe_start_error, lasts_until_restart
from vhctl_hub.status import status_path

#: Supervisor poll period, seconds (how fast a reload or unload is noticed).
POLL = 0.1
#: How long a new instance waits for the previous one to let go, seconds.
LOCK_WAIT = 15.0
#: Bound on ``Component.stop`` and on joining a component's threads, seconds.
STOP_TIMEOUT = 5.0
#: A supervisor whose hub has not called OnTimer for this long gives up for good, seconds (a stalled
#: hub may come back before; an unloaded script never does, see ``Host.unloaded``).
GIVE_UP_AFTER = 300.0


class Host(Protocol):
    """What a supervisor asks of the runtime that registered its instance (from its own thread)."""

    def forget(self, instance: "Instance") -> None:
        """The instance stopped for good."""

    def retired(self, instance: "Instance") -> None:
        """The instance was asked to stop: it gets no more events."""

    def tick_silence(self) -> float:
        """Seconds since the hub last called OnTimer."""

    def watchdog_seconds(self) -> float:
        """How long a silence means the hub no longer calls us."""

    def unloaded(self, instance: "Instance") -> bool:
        """Whether the instance's script was unloaded by an operator's command."""

    def guard_hooks(self) -> None:
        """Keep our hook functions in place (single mode)."""

    def health(self) -> Dict[str, Any]:
        """The runtime's sections of the status file."""


class Instance:
    """One registered component and its supervisor."""

    def __init__(self, host: Host, component: Component, ctx: Context,
                 commands: Optional[CommandSet], state_dir: Path, slot: Optional[int]) -> None:
        self.host = host
        self.component = component
        self.ctx = ctx
        self.commands = commands
        self.state_dir = state_dir
        self.lease = Lease(state_dir, ctx.name)
        self.slot = slot
        self.stop_reason = ""
        #: monotonic time of the last `!pyunload`/`!pyreload` naming this script (see Host.unloaded)
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
            self.host.retired(self)

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
            self.host.forget(self)
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
        host = self.host
        while True:
            if self.ctx.stopping.wait(POLL):
                return self.stop_reason or "stopped"
            if self.lease.superseded():
                self.stop_reason = "a newer instance took over (reload)"
                return self.stop_reason
            if host.tick_silence() > host.watchdog_seconds():
                self.stop_reason = "the hub stopped calling OnTimer (script unloaded?)"
                return "paused"
            host.guard_hooks()
            self._write_status()

    def _wait_for_ticks(self) -> bool:
        """Paused by the watchdog: resume when OnTimer comes back, give up after GIVE_UP_AFTER."""
        host = self.host
        self.ctx.status.set(state="paused", running=False)
        self._write_status(force=True)
        while not self.ctx.stopping.wait(POLL * 5):
            if self.lease.superseded():
                self.stop_reason = "a newer instance took over (reload)"
                return False
            silence = host.tick_silence()
            if host.unloaded(self):
                self.stop_reason = "its script was unloaded"
                return False
            if silence > GIVE_UP_AFTER:
                return False
            if silence < host.watchdog_seconds() / 2:
                self.ctx.log("the hub calls OnTimer again; starting again")
                return True
            host.guard_hooks()
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
            status.write(status_path(self.state_dir, self.name), {**self.host.health(), "extra": extra})
        except OSError as exc:
            hublog.log(f"{self.name}: cannot write status: {exc}")
