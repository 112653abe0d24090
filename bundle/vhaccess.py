"""The one door to the ``vh`` module: hub thread only, and kept working in single mode.

Why a door instead of ``import vh``:
- vh must never be called off the hub thread (F58): a background call is refused here with
  ``WrongThread`` before it can race the hub.
- In single-interpreter mode every vh function finds "its" script through
  ``sys.modules['vh'].myid`` at call time (F3). When the most recently loaded script is unloaded,
  that slot is gone and every argument-parsing vh function raises
  ``RuntimeError("Could not determine script ID")`` in all remaining scripts. The door then points
  ``myid`` at a live slot of ours and retries.
- The same ``myid`` rule gives the only per-script liveness test single mode has: with ``myid`` set
  to slot N, an argument-parsing call fails exactly when slot N was unloaded. No hook tells us about
  ``!pyunload`` (UnLoad is never called, F15).
"""

from __future__ import annotations

import sys
import threading
from typing import Any, Callable, Iterable, Optional

#: The message of the plugin's error for a vanished script slot (F3).
_NO_SCRIPT_ID = "script id"


class WrongThread(RuntimeError):
    """A vh call was attempted off the hub thread (F58); it was not made."""


def current_vh() -> Any:
    """This interpreter's vh module (single mode: the one the last load installed, F3)."""
    return sys.modules["vh"]


def _lost_slot(exc: BaseException) -> bool:
    return isinstance(exc, RuntimeError) and _NO_SCRIPT_ID in str(exc).lower()


class VhAccess:
    """Calls vh functions for the runtime, on the hub thread only."""

    def __init__(self, hub_thread_id: int, single: bool,
                 live_slots: Callable[[], Iterable[int]] = lambda: ()) -> None:
        self.hub_thread_id = hub_thread_id
        self.single = single
        #: Single mode: returns our live slot ids (newest first) for ``myid`` repair.
        self._live_slots = live_slots

    def on_hub_thread(self) -> bool:
        """True when the caller runs on the hub's main thread."""
        return threading.get_ident() == self.hub_thread_id

    def call(self, name: str, *args: Any) -> Any:
        """``vh.<name>(*args)``; WrongThread off the hub thread; repairs a lost ``myid`` once."""
        if threading.get_ident() != self.hub_thread_id:
            raise WrongThread(f"vh.{name} called off the hub thread")
        vh = current_vh()
        try:
            return getattr(vh, name)(*args)
        except RuntimeError as exc:
            if not (self.single and _lost_slot(exc) and self._repair(vh)):
                raise
            return getattr(vh, name)(*args)

    def get_config(self, var: str) -> str:
        """A hub setting as text, "" when unset (vh returns None for empty values, A14)."""
        value = self.call("GetConfig", "config", var)
        return "" if value is None else str(value)

    def myid(self) -> Optional[int]:
        """The slot id vh currently attributes calls to."""
        return getattr(current_vh(), "myid", None)

    def slot_alive(self, slot: int) -> bool:
        """Single mode: whether plugin slot ``slot`` is still loaded (see the module docstring)."""
        vh = current_vh()
        saved = getattr(vh, "myid", None)
        vh.myid = slot
        try:
            vh.GetUserClass(str(getattr(vh, "botname", "") or "-"))
            return True
        except RuntimeError as exc:
            if _lost_slot(exc):
                return False
            raise
        finally:
            vh.myid = saved

    def _repair(self, vh: Any) -> bool:
        for slot in self._live_slots():
            if slot != getattr(vh, "myid", None) and self.slot_alive(slot):
                vh.myid = slot
                return True
        return False
