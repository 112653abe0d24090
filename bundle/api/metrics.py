"""``/metrics``: the Prometheus text exposition (version 0.0.4), written by prometheus-client.

Each app has a ``CollectorRegistry`` of its own, never the library's process-wide ``REGISTRY``: in
single-interpreter mode every script and every ``!pyreload`` shares one ``prometheus_client`` module,
and registering the same names in its global registry a second time raises. The library itself loads
and works in every sub-interpreter, on reloads too (A24), and importing it starts no thread.

Nothing is updated per request but one dict entry (``RequestCounter``, on the event-loop thread): a
collector reads everything when a scrape asks, from the snapshot the hub thread published, the request
counts and the runtime's hook statistics (count, total, max per hook: rate(total)/rate(count) gives the
average time per tick). Request counters are labelled by route *template* (``/api/user/{nick}``),
never by raw path, so a client cannot grow the label set without bound.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, Mapping, Optional, Tuple, Union

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from vhctl_hub.snapshot import HubSnapshot

#: The classic text format, which every Prometheus version scrapes.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


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


@dataclass(frozen=True)
class Reading:
    """What one scrape shows: ``health`` is the runtime's lag/hooks section (None if unknown),
    ``paused`` the seconds the server thread paused to hand the GIL to the hub thread."""

    snapshot: HubSnapshot
    cache_age: float
    requests: RequestCounter
    health: Optional[Mapping[str, Any]]
    paused: float


def _gauge(name: str, help_text: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, help_text, value=value)


def _labelled(kind: Callable[..., Union[CounterMetricFamily, GaugeMetricFamily]], name: str, help_text: str,
              label: str, rows: Mapping[str, float]) -> Metric:
    family = kind(name, help_text, labels=[label])
    for key, value in rows.items():
        family.add_metric([key], value)
    return family


class _HubCollector:
    """A custom collector: every family is made from ``read()`` at scrape time."""

    def __init__(self, read: Callable[[], Reading]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        now = self._read()
        snapshot = now.snapshot
        yield _gauge("vhctl_hub_users_online", "Users online per the hub (vh.GetUsersCount: connections, no "
                     "bots, may include users still logging in).", snapshot.users_online)
        yield _gauge("vhctl_hub_users_listed", "Users in the API's cache (logged in, no bots).", len(snapshot.users))
        yield _gauge("vhctl_hub_bots", "Robots in the hub's user list.", len(snapshot.bots))
        yield _gauge("vhctl_hub_total_share_bytes", "Total share per the hub (vh.GetTotalShareSize).",
                     snapshot.total_share)
        yield _gauge("vhctl_api_cache_age_seconds", "Seconds since the hub thread last confirmed the cache.",
                     round(now.cache_age, 3))
        requests = CounterMetricFamily("vhctl_api_requests", "HTTP requests served, by route and status.",
                                       labels=["endpoint", "status"])
        for (endpoint, status), count in sorted(list(now.requests.counts.items())):
            requests.add_metric([endpoint, str(status)], count)
        yield requests
        yield CounterMetricFamily("vhctl_api_paused_seconds", "Seconds the API's server thread paused between "
                                  "requests to hand the GIL to the hub thread.", value=round(now.paused, 6))
        if now.health:
            yield from _health(now.health)


def _health(health: Mapping[str, Any]) -> Iterator[Metric]:
    hooks = dict(sorted((health.get("hooks") or {}).items()))
    yield _labelled(CounterMetricFamily, "vhctl_hub_hook_calls", "Calls of each vhctl hook on the hub thread.",
                    "hook", {h: s.get("count", 0) for h, s in hooks.items()})
    yield _labelled(CounterMetricFamily, "vhctl_hub_hook_seconds", "Hub-thread time spent in each vhctl hook.",
                    "hook", {h: s.get("total_ms", 0.0) / 1e3 for h, s in hooks.items()})
    yield _labelled(GaugeMetricFamily, "vhctl_hub_hook_max_seconds", "Longest single call of each vhctl hook.",
                    "hook", {h: s.get("max_us", 0.0) / 1e6 for h, s in hooks.items()})
    lag = health.get("lag") or {}
    yield _gauge("vhctl_hub_queue_length", "Work items waiting for the hub thread.", lag.get("queue_len", 0))
    yield _gauge("vhctl_hub_queue_oldest_seconds", "Age of the oldest waiting work item.",
                 lag.get("oldest_age_s", 0.0))
    yield _gauge("vhctl_hub_last_tick_age_seconds", "Seconds since the hub last called OnTimer.",
                 lag.get("last_tick_age_s", 0.0))


class Exposition:
    """One app's metrics: a registry of its own holding the collector that calls ``read``."""

    def __init__(self, read: Callable[[], Reading]) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_HubCollector(read))

    def render(self) -> bytes:
        """The whole exposition, as a scrape gets it."""
        return generate_latest(self.registry)
