"""Hub-thread time spent in our hooks: cheap counters for the status file and `vhctl status`.

Recording is two integer additions and a comparison per call, so it can stay on in production.
"""

from __future__ import annotations

from typing import Dict, List


class HookStats:
    """Per hook name: calls, total and longest hub-thread time (nanoseconds)."""

    def __init__(self) -> None:
        self._data: Dict[str, List[int]] = {}

    def record(self, hook: str, elapsed_ns: int) -> None:
        """Count one call of ``hook`` that took ``elapsed_ns``."""
        entry = self._data.get(hook)
        if entry is None:
            self._data[hook] = [1, elapsed_ns, elapsed_ns]
            return
        entry[0] += 1
        entry[1] += elapsed_ns
        if elapsed_ns > entry[2]:
            entry[2] = elapsed_ns

    def summary(self) -> Dict[str, Dict[str, float]]:
        """{hook: {count, avg_us, max_us, total_ms}} for the status file."""
        out = {}
        for hook, (count, total, longest) in list(self._data.items()):
            out[hook] = {"count": count, "avg_us": round(total / count / 1e3, 1),
                         "max_us": round(longest / 1e3, 1), "total_ms": round(total / 1e6, 3)}
        return out
