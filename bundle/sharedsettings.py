"""The ``[runtime]`` settings one runtime runs with, when several components register with it.

The tick budget, the reconciliation period and slice, the longest line and the watchdog belong to
the runtime, not to a component: one OnTimer drains one work queue for every component. In the
plugin's single-interpreter mode every vhctl script of the hub shares one runtime (F3), and each
script names its own config file, so two scripts may disagree. The rule:

- the first registration wins: its settings are the runtime's;
- a later registration of the same component (a `!pyreload` of its script) brings its settings in:
  that is how an operator changes the settings of one script, and it must work with two as well;
- once the component whose settings are in effect is gone (unloaded, stopped), the next
  registration's settings are the runtime's;
- a later registration of another component whose settings differ keeps the runtime's and is logged
  once (per component and settings), with the differences.

In sub-interpreter mode each script has its own runtime: the rule never has two components to
decide between.
"""

from __future__ import annotations

import dataclasses
from typing import Collection, Optional, Set, Tuple

from vhctl_hub.config import RuntimeSettings


class SharedSettings:
    """The runtime's settings (calling it returns them, any thread); ``offer`` at each registration
    (hub thread)."""

    def __init__(self) -> None:
        self._current = RuntimeSettings()
        self._owner: Optional[str] = None
        self._told: Set[Tuple[str, RuntimeSettings]] = set()

    def __call__(self) -> RuntimeSettings:
        return self._current

    @property
    def owner(self) -> Optional[str]:
        """The component whose settings are in effect (None before the first registration)."""
        return self._owner

    def offer(self, name: str, settings: RuntimeSettings, live: Collection[str]) -> Optional[str]:
        """Component ``name`` registers with ``settings`` while the components ``live`` run; returns
        the line to log when its settings differ and are not taken (once per component and
        settings), else None."""
        owner = self._owner
        if owner is None or owner == name or owner not in live:
            self._owner, self._current = name, settings
            return None
        if settings == self._current or (name, settings) in self._told:
            return None
        self._told.add((name, settings))
        return (f"{name}: its [runtime] settings ({differences(settings, self._current)}) are not used: "
                f"the scripts share one runtime, which keeps those of {owner}, loaded first")


def differences(wanted: RuntimeSettings, kept: RuntimeSettings) -> str:
    """``name=wanted (kept: value)`` for each setting that differs."""
    return ", ".join(f"{f.name}={getattr(wanted, f.name)!r} (kept: {getattr(kept, f.name)!r})"
                     for f in dataclasses.fields(wanted) if getattr(wanted, f.name) != getattr(kept, f.name))
