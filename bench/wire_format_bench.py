"""GIL time of the two wire formats the API writes on its event-loop thread.

While the event loop writes, the hub thread waits for the GIL (up to the switch interval the server
sets, bundle/api/server.py). This measures, in one run:
1. ``/metrics``: one whole exposition by prometheus-client (``Exposition.render``) for a busy hub
   (``--endpoints`` routes x 3 statuses, 12 hooks), against the server's switch interval;
2. ``/api/events``: the whole per-event work (``sse.format_event``: the JSON payload and its
   framing).

Run: ~/.cache/vhctl/venv-test/bin/python bench/wire_format_bench.py [--rounds 5000] [--endpoints 15]
Prints median and p99 in microseconds, and the ratios.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, List

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the tests' snapshot helpers
from testkit.api import snapshot, user

from vhctl_hub.api import sse
from vhctl_hub.api.metrics import Exposition, Reading, RequestCounter
from vhctl_hub.api.server import SWITCH_INTERVAL
from vhctl_hub.events import EventFeed

HOOKS = ("OnTimer", "OnParsedMsgAny", "OnParsedMsgChat", "OnUserLogin", "OnUserLogout", "OnParsedMsgMyINFO",
         "OnOperatorCommand", "OnUserCommand", "OnHubCommand", "OnParsedMsgPM", "OnNewConn", "OnCloseConn")


def timings(work: Callable[[], object], rounds: int) -> List[float]:
    """Microseconds of each of ``rounds`` calls (after a warm-up)."""
    for _ in range(min(200, rounds)):
        work()
    out = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        out.append((time.perf_counter() - started) * 1e6)
    return out


def summary(values: List[float]) -> tuple:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def metrics_reading(endpoints: int) -> Reading:
    counter = RequestCounter()
    for i in range(endpoints):
        for status in (200, 304, 404):
            for _ in range(3):
                counter.record(f"/api/route{i}/{{nick}}", status)
    health = {"hooks": {h: {"count": 123456, "total_ms": 789.5, "max_us": 1234.0} for h in HOOKS},
              "lag": {"queue_len": 3, "oldest_age_s": 0.01, "last_tick_age_s": 0.4}}
    users = [user(f"user{i}", share=i * 1_000_000) for i in range(1000)]
    return Reading(snapshot(users), 0.25, counter, health, 1.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5000)
    parser.add_argument("--endpoints", type=int, default=15)
    args = parser.parse_args()

    reading = metrics_reading(args.endpoints)
    exposition = Exposition(lambda: reading)
    size = len(exposition.render())
    scrape = summary(timings(exposition.render, args.rounds))

    feed = EventFeed()
    feed.publish("login", "carol", user=user("carol", share=5).to_dict())
    event = feed.since(0)[0][0]
    whole = summary(timings(lambda: sse.format_event(event, False, False), args.rounds))

    interval = SWITCH_INTERVAL * 1e6
    print(f"{'what':52} {'median us':>10} {'p99 us':>10}")
    print(f"{'/metrics render (' + str(size) + ' bytes)':52} {scrape[0]:10.1f} {scrape[1]:10.1f}")
    print(f"{'  ratio to the switch interval (' + format(interval, '.0f') + ' us)':52} "
          f"{scrape[0] / interval:10.2f} {scrape[1] / interval:10.2f}")
    print(f"{'SSE whole event (JSON payload + framing)':52} {whole[0]:10.2f} {whole[1]:10.2f}")

if __name__ == "__main__":
    main()
