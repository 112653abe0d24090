"""Hub-thread time spent in our hooks: cheap counters for the status file and `vhctl status`.

The dispatcher adds to them at every call (a count, a running sum and a maximum in one small list
per hook), so they can stay on in production; ``summary`` turns them into figures when the status
is written.
"""

from __future__ import annotations

import collections
from typing import DefaultDict, Dict, List


class HookStats:
    """Per hook name: calls, total and longest hub-thread time (nanoseconds)."""

    def __init__(self) -> None:
        #: hook -> [calls, total ns, longest ns]; changed in place by ``add`` (hub thread)
        self.times: DefaultDict[str, List[int]] = collections.defaultdict(lambda: [0, 0, 0])

    def add(self, hook: str, spent: int) -> None:
        """One call of ``hook`` took ``spent`` ns of the hub thread."""
        times = self.times[hook]
        times[0] += 1
        times[1] += spent
        if spent > times[2]:
            times[2] = spent

    def summary(self) -> Dict[str, Dict[str, float]]:
        """{hook: {count, avg_us, max_us, total_ms}} for the status file."""
        out = {}
        for hook, (count, total, longest) in list(self.times.items()):
            if count:
                out[hook] = {"count": count, "avg_us": round(total / count / 1e3, 1),
                             "max_us": round(longest / 1e3, 1), "total_ms": round(total / 1e6, 3)}
        return out
