"""Single-interpreter mode: turn the plugin's repeated hook calls back into one call per event.

In single mode all scripts share ``__main__``; the hook function defined last survives and the plugin
calls it once per loaded script that had the hook name at its load time (vh-plugin.md F3, A12). With
two vhctl scripts and a third-party one, one chat line arrives as three identical consecutive calls.

How calls are grouped into events: the plugin makes all calls for one event back to back, with the
same arguments, before the hub does anything else. So a call whose (hook, arguments) equal those
of the call just before it, at the same nesting depth, belongs to the same event. Two genuinely
separate but identical events back to back (an operator repeating a line) would look the same, so
the number of calls per event is also learned: each run of identical calls that ended tells how many
slots call that hook (the smallest run seen), and a run never grows beyond that. The learned counts
are forgotten whenever a script is loaded (the vh module is replaced then, F3) or the number of
OnTimer calls per tick drops (OnTimer's argument, the time in milliseconds, differs every tick on
a real hub, whose ticks are at least 50 ms apart, so its runs are exact).
Nesting: a hook can fire inside another one (e.g. OnSetConfig inside a vh.SetConfig call); each
depth keeps its own run.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

Key = Tuple[Any, ...]


class _Run:
    __slots__ = ("key", "count", "verdict", "learn")

    def __init__(self, key: Key) -> None:
        self.key = key
        self.count = 1
        self.verdict = 1
        self.learn = True  # False for a run that began before a load changed the slot count


class EventDeduper:
    """Decides, per hook call, whether it starts a new event or repeats the current one."""

    def __init__(self) -> None:
        self._runs: List[Optional[_Run]] = []
        self._depth = 0
        self._caps: Dict[str, int] = {}

    def forget_counts(self) -> None:
        """A script was loaded or unloaded: the number of calls per event may have changed."""
        self._caps.clear()
        for run in self._runs:
            if run is not None:
                run.learn = False

    def enter(self, hook: str, args: Tuple[Any, ...]) -> Optional[int]:
        """Called before handling. Returns the event's verdict for a repeated call, else None.

        After None the caller handles the event, then calls ``leave(verdict)``.
        """
        key = (hook,) + args
        depth = self._depth
        runs = self._runs
        if depth == len(runs):
            runs.append(None)
        run = runs[depth]
        if run is not None and run.key == key and run.count < self._caps.get(hook, 1 << 30):
            run.count += 1
            return run.verdict
        if run is not None:
            self._close(run)
        runs[depth] = _Run(key)
        del runs[depth + 1:]
        self._depth = depth + 1
        return None

    def leave(self, verdict: int) -> None:
        """The event started by the last ``enter`` that returned None was handled with ``verdict``."""
        self._depth -= 1
        run = self._runs[self._depth]
        if run is not None:
            run.verdict = verdict

    def _close(self, run: _Run) -> None:
        if not run.learn:
            return
        hook = run.key[0]
        known = self._caps.get(hook, run.count)
        if hook == "OnTimer" and run.count < known:  # fewer slots call us now: relearn everything
            self._caps.clear()
        self._caps[hook] = min(run.count, known)
