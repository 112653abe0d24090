"""The base class of the things a hub script runs (the REST API, the Matterbridge bridge).

A component is small on purpose: the runtime gives it everything hub-related through ``Context``
(main-thread work queue, hub cache, event feed, safe sends, status) and calls it from the right
thread. The contract a component follows is docs/components.md in the repository.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional

from vhctl_hub import hublog, told
from vhctl_hub.commands import CommandSet

if TYPE_CHECKING:  # pragma: no cover
    from vhctl_hub.cache import HubCache
    from vhctl_hub.config import Settings
    from vhctl_hub.events import EventFeed
    from vhctl_hub.runtime import Runtime
    from vhctl_hub.sender import HubSender
    from vhctl_hub.status import StatusBoard
    from vhctl_hub.vhaccess import VhAccess

#: How long ``Context.call`` waits for the hub thread by default, seconds.
CALL_TIMEOUT = 5.0


class Context:
    """What one component instance gets from the runtime (docs/components.md, "What Context gives")."""

    def __init__(self, runtime: "Runtime", name: str, settings: "Settings", config_file: Path,
                 script_path: str, status: "StatusBoard", state_dir: Optional[Path] = None) -> None:
        self._runtime = runtime
        self.name = name
        self.settings = settings
        self.config_file = config_file
        self.script_path = script_path
        self.mode = "single" if runtime.single else "sub"
        self.status = status
        self.state_dir = state_dir
        self.stopping = threading.Event()
        self._threads: List[threading.Thread] = []

    @property
    def vh(self) -> "VhAccess":
        """vh, hub thread only."""
        return self._runtime.vh

    @property
    def cache(self) -> "HubCache":
        """The hub cache (maintained only for components with ``needs_cache``)."""
        return self._runtime.cache

    @property
    def events(self) -> "EventFeed":
        """The event feed."""
        return self._runtime.feed

    @property
    def hub(self) -> "HubSender":
        """Safe sends into the hub, from any thread."""
        return self._runtime.sender

    def health(self) -> Dict[str, Any]:
        """Lag, work-queue counters and hub-thread time per hook (what the status file shows)."""
        return self._runtime.health()

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
        """Run ``fn`` on the hub thread at its next hook; the Future carries the result."""
        return self._runtime.queue.submit(fn, *args, **kwargs)

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float = CALL_TIMEOUT, **kwargs: Any) -> Any:
        """Run ``fn`` on the hub thread and wait for its result (runs at once on the hub thread)."""
        if self._runtime.vh.on_hub_thread():
            return fn(*args, **kwargs)
        return self.submit(fn, *args, **kwargs).result(timeout)

    def start_thread(self, target: Callable[..., Any], name: str, *args: Any) -> threading.Thread:
        """A daemon thread (non-daemon threads can hang hub shutdown, F17) the runtime joins on stop."""
        thread = threading.Thread(target=target, args=args, name=f"vhctl-{self.name}-{name}", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()]
        self._threads.append(thread)
        thread.start()
        return thread

    def join_threads(self, timeout: float) -> List[str]:
        """Wait for the component's threads; returns the names of those still alive."""
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout)
        return [t.name for t in self._threads if t.is_alive()]

    def log(self, line: str) -> None:
        """One line to the hub log."""
        hublog.log(f"{self.name}: {line}")

    def notice(self, line: str, once_per_process: bool = False) -> None:
        """One line for the operator: hub log, OpChat and the status file's last_error.

        ``once_per_process``: a condition only a hub restart ends goes to OpChat once per hub process,
        not at every reload (the log and the status file still say it)."""
        self.log(line)
        self.status.error(line)
        if once_per_process and self.state_dir is not None and not told.first_time(self.state_dir, line):
            return
        try:
            self.hub.opchat(f"vhctl {self.name}: {line}")
        except Exception as exc:  # noqa: BLE001 - the log line above is what matters
            hublog.log(f"{self.name}: could not tell OpChat: {exc}")


class Component:
    """Override what you need; every method has a harmless default."""

    name = "component"
    needs_cache = False

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def commands(self) -> Optional[CommandSet]:
        """The chat commands of this component (called once, at registration)."""
        return None

    def start(self) -> None:
        """Start servers and threads (component thread; the previous instance has let go)."""

    def stop(self) -> None:
        """Stop servers and threads within ~2 s, ports freed (any thread but the hub's)."""

    def on_tick(self, now: float) -> None:
        """Every OnTimer, hub thread; ``now`` is Unix seconds (F38)."""

    def on_chat(self, nick: str, text: str) -> None:
        """Every main-chat line (OnParsedMsgChat), hub thread; ``text`` still NMDC-escaped."""

    def status(self) -> Dict[str, Any]:
        """Extra fields for the status file (never secrets)."""
        return {}
