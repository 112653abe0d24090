"""``/metrics`` in the Prometheus text format (version 0.0.4), without a client library.

Request counters are labelled by route *template* (``/api/user/{nick}``), never by raw path, so a
client cannot grow the label set without bound. Hub-thread timings come from the runtime's hook
statistics (count, total, max per hook): rate(total)/rate(count) gives the average time per tick.
"""

from __future__ import annotations

import time
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

from vhctl_hub.snapshot import HubSnapshot

Sample = Tuple[Mapping[str, str], float]


class RequestCounter:
    """HTTP requests by (endpoint, status); updated on the event-loop thread, read anywhere."""

    def __init__(self) -> None:
        self.counts: Dict[Tuple[str, int], int] = {}
        self.started = time.time()

    def record(self, endpoint: str, status: int) -> None:
        key = (endpoint, status)
        self.counts[key] = self.counts.get(key, 0) + 1

    def total(self) -> int:
        return sum(list(self.counts.values()))


def _label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)


class _Text:
    def __init__(self) -> None:
        self.lines: List[str] = []

    def metric(self, name: str, kind: str, help_text: str, samples: Iterable[Sample]) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            inner = ",".join(f'{k}="{_label_value(v)}"' for k, v in labels.items())
            self.lines.append(f"{name}{{{inner}}} {_number(value)}" if inner else f"{name} {_number(value)}")


def render(snapshot: HubSnapshot, cache_age: float, requests: RequestCounter,
           health: Optional[Mapping[str, Any]], paused: float) -> bytes:
    """The whole exposition; ``health`` is the runtime's lag/hooks section (None if unknown),
    ``paused`` the seconds the server thread paused to hand the GIL to the hub thread."""
    out = _Text()
    out.metric("vhctl_hub_users_online", "gauge", "Users online per the hub (vh.GetUsersCount: connections, "
               "no bots, may include users still logging in).", [({}, snapshot.users_online)])
    out.metric("vhctl_hub_users_listed", "gauge", "Users in the API's cache (logged in, no bots).",
               [({}, len(snapshot.users))])
    out.metric("vhctl_hub_bots", "gauge", "Robots in the hub's user list.", [({}, len(snapshot.bots))])
    out.metric("vhctl_hub_total_share_bytes", "gauge", "Total share per the hub (vh.GetTotalShareSize).",
               [({}, snapshot.total_share)])
    out.metric("vhctl_api_cache_age_seconds", "gauge",
               "Seconds since the hub thread last confirmed the cache.", [({}, round(cache_age, 3))])
    out.metric("vhctl_api_requests_total", "counter", "HTTP requests served, by route and status.",
               [({"endpoint": e, "status": str(s)}, n)
                for (e, s), n in sorted(list(requests.counts.items()))])
    out.metric("vhctl_api_paused_seconds_total", "counter", "Seconds the API's server thread paused between "
               "requests to hand the GIL to the hub thread.", [({}, round(paused, 6))])
    if health:
        hooks = health.get("hooks") or {}
        rows = sorted(hooks.items())
        out.metric("vhctl_hub_hook_calls_total", "counter", "Calls of each vhctl hook on the hub thread.",
                   [({"hook": h}, s.get("count", 0)) for h, s in rows])
        out.metric("vhctl_hub_hook_seconds_total", "counter", "Hub-thread time spent in each vhctl hook.",
                   [({"hook": h}, s.get("total_ms", 0.0) / 1e3) for h, s in rows])
        out.metric("vhctl_hub_hook_max_seconds", "gauge", "Longest single call of each vhctl hook.",
                   [({"hook": h}, s.get("max_us", 0.0) / 1e6) for h, s in rows])
        lag = health.get("lag") or {}
        out.metric("vhctl_hub_queue_length", "gauge", "Work items waiting for the hub thread.",
                   [({}, lag.get("queue_len", 0))])
        out.metric("vhctl_hub_queue_oldest_seconds", "gauge", "Age of the oldest waiting work item.",
                   [({}, lag.get("oldest_age_s", 0.0))])
        out.metric("vhctl_hub_last_tick_age_seconds", "gauge", "Seconds since the hub last called OnTimer.",
                   [({}, lag.get("last_tick_age_s", 0.0))])
    return ("\n".join(out.lines) + "\n").encode("utf-8")
