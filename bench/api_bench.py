"""What the REST API costs the hub, measured in the simulator with 1,000 and 5,000 users.

For each user count, a simulated hub (single mode) loads the rendered hub_api.py (component "api",
a real uvicorn on 127.0.0.1) and then:
1. logins: the hub-thread time our hooks take per login (OnParsedMsgMyINFO + OnUserLogin, the cache
   update included), for the first and the last 10 % of the logins: it must not grow with the count;
2. ticks: hub-thread time per OnTimer in steady state (all users in the cache, no API load);
3. reconciliation: the runtime checks the cache against vh every runtime.reconcile_seconds (default
   60 s), in slices of runtime.reconcile_slice_ms per tick, and compares the hub's nick and op lists
   at least every LIST_PASSES passes; that many passes are forced back to back and their ticks timed
   (the other phases run with reconcile_seconds = 3600 so that they measure the rest only); then
   ten minutes of the hub's clock pass in 1 s OnTimer steps (the hook's argument, which the cache
   schedules by, F38) with reconcile_seconds = 60: the steady state a hub sees, reconciliations and
   robot-list checks included;
4. load: a load generator in a separate process (keep-alive HTTP/1.1 connections; wrk if installed) hits
   /api/stats, then /api/users?limit=100, for --seconds each; meanwhile the hub thread keeps working
   (every 10 ms: a GIL-free wait standing for the hub's C++ work, then OnTimer, a login and a logout)
   and records (a) the hub-thread time of those hooks and (b) the hook entry: how late the hub thread
   starts its hooks after the GIL-free wait, i.e. the wait for the GIL the API thread shares plus the
   OS waking the thread (a real hub takes the GIL on each hook entry, F24/F57).

Hook times are taken around the plugin's hook dispatch (all scripts; only ours is loaded), the way the
plugin's own hook statistics are.

Run: ~/.cache/vhctl/venv-test/bin/python bench/api_bench.py [--users 1000 5000] [--seconds 8] [--connections 8]
     [--generator wrk|python] [--json]
"""

from __future__ import annotations

import dataclasses
import argparse
import gc
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, List

from vhctl.render import render
from vhctl.sim.hub import Hub
from vhctl.sim.users import SimUser
from vhctl_hub.reconcile import LIST_PASSES

#: Time between two rounds of hub events in the load phases (GIL-free on the hub thread), seconds.
EVENT_EVERY = 0.01
#: runtime.reconcile_seconds for the steady-state phases (the reconciliation is measured on its own).
STEADY_RECONCILE = 3600


def quantiles(samples_ns: List[int]) -> Dict[str, float]:
    """median and p99 in microseconds."""
    if not samples_ns:
        return {"n": 0, "median_us": 0.0, "p99_us": 0.0}
    ordered = sorted(samples_ns)
    return {"n": len(ordered), "median_us": round(statistics.median(ordered) / 1e3, 1),
            "p99_us": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] / 1e3, 1)}


# ------------------------------------------------------------------------------ load generator process
def client(url: str, path: str, seconds: float, connections: int) -> None:
    """Separate process: ``connections`` threads, each one keep-alive connection, GET ``path`` in a loop."""
    host, port = url.split("//", 1)[1].split(":")
    counts = [0] * connections
    errors = [0] * connections
    deadline = time.monotonic() + seconds

    def worker(index: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        while time.monotonic() < deadline:
            try:
                conn.request("GET", path)
                answer = conn.getresponse()
                answer.read()
                if answer.status == 200:
                    counts[index] += 1
                else:
                    errors[index] += 1
            except (OSError, http.client.HTTPException):
                errors[index] += 1
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.close()

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps({"requests": sum(counts), "errors": sum(errors), "seconds": time.monotonic() - started}))


# ------------------------------------------------------------------------------ the hub side
class HookTimer:
    """Wraps the plugin's hook dispatch to time each call on the hub thread."""

    def __init__(self, hub: Hub) -> None:
        self.samples: Dict[str, List[int]] = {}
        self.login_acc = 0
        original = hub.plugin.hook

        def timed(name: str, *args: Any) -> bool:
            began = time.perf_counter_ns()
            try:
                return original(name, *args)
            finally:
                spent = time.perf_counter_ns() - began
                self.samples.setdefault(name, []).append(spent)
                self.login_acc += spent

        hub.plugin.hook = timed

    def take(self, name: str) -> List[int]:
        return self.samples.pop(name, [])


def make_hub(folder: Path) -> Hub:
    site = sysconfig.get_paths()["purelib"]
    config = folder / "vhctl.toml"
    config.write_text(f'[hub]\nstate_dir = "{folder / "state"}"\n[api]\nport = 0\n'
                      f'[runtime]\nreconcile_seconds = {STEADY_RECONCILE}\n', encoding="utf-8")
    script = folder / "hub_api.py"
    script.write_text(render("hub_api.py", {
        "venv": str(Path(site).parents[2]), "site_packages": site, "python": "%d.%d" % sys.version_info[:2],
        "config_file": str(config), "component": "api"}), encoding="utf-8")
    hub = Hub(folder / "hub", mode="single", hub_encoding="UTF-8", timer_period=3600.0, echo_stderr=False,
              chat_rules=False, config={"hub_name": "BenchHub", "max_users": "100000"})
    hub.dns_delay = 0.0
    hub.start()
    reply = hub.pyload(script)
    assert "is now loaded" in reply, reply
    return hub


def runtime_of(hub: Hub) -> Any:
    return hub.plugin.script_module(hub.plugin.scripts()[0][0]).hub_runtime.runtime()


def api_url(hub: Hub) -> str:
    component = runtime_of(hub).instances()[0].component
    deadline = time.monotonic() + 20
    while component.server.url is None:
        if time.monotonic() > deadline:
            raise RuntimeError("the API did not start")
        hub.tick()
        time.sleep(0.05)
    return component.server.url


def login_users(hub: Hub, timer: HookTimer, count: int) -> List[int]:
    """Hub thread: log ``count`` users in; our hooks' time per login."""
    def run() -> List[int]:
        costs = []
        for i in range(count):
            timer.login_acc = 0
            SimUser.login(hub, f"user{i:05d}", {"share": 1_000_000 + i, "record": False, "cc": "L1",
                                                "email": f"u{i}@bench.invalid"})
            costs.append(timer.login_acc)
        return costs
    return hub.call(run, timeout=900)


def settle(hub: Hub, url: str, count: int) -> None:
    """Tick until the API lists every user (the first reconciliation has finished)."""
    import requests

    deadline = time.monotonic() + 300
    while True:
        stats = requests.get(url + "/api/stats", timeout=10).json()
        if stats["complete"] and stats["listed_users"] >= count:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"cache never completed: {stats}")
        hub.tick()
        time.sleep(0.005)


def ticks(hub: Hub, timer: HookTimer, n: int, pause: float = 0.002) -> List[int]:
    timer.take("OnTimer")
    for _ in range(n):
        hub.tick()
        time.sleep(pause)
    return timer.take("OnTimer")


def tick_summary(samples: List[int]) -> Dict[str, Any]:
    slow = [s for s in samples if s > 1_000_000]
    return {**quantiles(samples), "ticks": len(samples), "ticks_over_1ms": len(slow),
            "max_us": round(max(samples) / 1e3, 1), "total_ms": round(sum(samples) / 1e6, 1)}


def reconciliation(hub: Hub, timer: HookTimer) -> Dict[str, Any]:
    """Force LIST_PASSES reconciliations back to back (so one of them compares the hub's lists); the
    OnTimer times until the cache has finished them."""
    cache = runtime_of(hub).cache
    timer.take("OnTimer")
    for _ in range(LIST_PASSES):
        hub.call(cache.reconcile_now)
        hub.tick()
        while cache.reconciling:
            time.sleep(0.002)
            hub.tick()
    return tick_summary(timer.take("OnTimer"))


def hub_minutes(hub: Hub, timer: HookTimer, minutes: int) -> Dict[str, Any]:
    """``minutes`` of the hub's clock in 1 s OnTimer steps, reconcile_seconds = 60."""
    runtime = runtime_of(hub)
    cache, settings = runtime.cache, runtime.settings
    hub.call(settings.offer, settings.owner, dataclasses.replace(settings(), reconcile_seconds=60.0),
             [settings.owner])  # the owner's own new settings are taken at once
    passes = cache.passes
    timer.take("OnTimer")
    start = time.time()
    for second in range(1, 60 * minutes + 1):
        hub.call(hub.plugin.hook, "OnTimer", start + second)
        time.sleep(0.001)
    cache.reconcile_seconds = STEADY_RECONCILE
    return {**tick_summary(timer.take("OnTimer")), "passes": cache.passes - passes}


def busy_hub(hub: Hub, timer: HookTimer, stop: threading.Event) -> Dict[str, List[int]]:
    """Keeps the hub working like a live hub while the API is under load, ON the hub thread.

    A real hub's main thread runs C++ without the GIL and takes it on each hook entry (F24, F57); the
    simulator's loop is Python and holds the GIL between hooks, which a real hub never does. So this
    loop runs on the hub thread and spends the time between events in a GIL-free wait (a 10 ms sleep
    stands for the C++ work and the wait in epoll), then enters the hooks: OnTimer, then a login and a
    logout through the simulator. ``hook_entry`` is how late the thread starts after the wait: the
    wait for the GIL plus the OS waking the thread (the no-load phase shows the OS part alone);
    ``timer_latency`` is that wait plus the OnTimer hook: from when the hub meant to call it to its
    return."""
    def run() -> Dict[str, List[int]]:
        entry: List[int] = []
        latency: List[int] = []
        logins: List[int] = []
        i = 0
        for name in ("OnTimer", "OnUserLogin", "OnUserLogout"):
            timer.take(name)
        while not stop.is_set():
            due = time.perf_counter_ns() + int(EVENT_EVERY * 1e9)
            time.sleep(EVENT_EVERY)
            entry.append(time.perf_counter_ns() - due)
            hub.plugin.hook("OnTimer", time.time())
            latency.append(time.perf_counter_ns() - due)
            timer.login_acc = 0
            user = hub.login(f"churn{i}", share=5, record=False)
            logins.append(timer.login_acc)
            user.logout()
            i += 1
        return {"hook_entry": entry, "timer_latency": latency, "login": logins, "OnTimer": timer.take("OnTimer"),
                "OnUserLogout": timer.take("OnUserLogout")}
    return hub.call(run, timeout=3600)


def run_load(generator: str, url: str, path: str, connections: int, seconds: float) -> Dict[str, Any]:
    """GET ``url + path`` for ``seconds`` over ``connections`` keep-alive connections, from a separate
    process: wrk (C, little CPU per request, so the two CPUs stay for the hub and the API, as when the
    clients are other machines) or this file's Python client (a CPU-bound process beside the hub)."""
    if generator == "wrk":
        run = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", url + path],
                             capture_output=True, text=True, timeout=seconds + 120, check=True).stdout
        found = {k: re.search(rf"{k}\D*([\d.]+)", run) for k in ("Requests/sec", "Non-2xx or 3xx responses",
                                                                 "Socket errors")}
        errors = sum(int(float(m.group(1))) for k, m in found.items() if m and k != "Requests/sec")
        return {"rps": round(float(found["Requests/sec"].group(1))), "errors": errors}  # type: ignore[union-attr]
    process = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--client", url, path,
                                str(seconds), str(connections)], stdout=subprocess.PIPE, text=True)
    report = json.loads(process.communicate(timeout=seconds + 120)[0])
    return {"rps": round(report["requests"] / report["seconds"]), "errors": report["errors"]}


def phase(hub: Hub, timer: HookTimer, seconds: float, load: Any = None) -> Dict[str, Any]:
    """``seconds`` of a busy hub, with ``load = (generator, url, path, connections)`` hitting the API."""
    stop = threading.Event()
    result: Dict[str, Any] = {}
    worker = threading.Thread(target=lambda: result.update(busy_hub(hub, timer, stop)))
    worker.start()
    out: Dict[str, Any] = {}
    if load is None:
        time.sleep(seconds)
    else:
        out = run_load(*load, seconds=seconds)
    stop.set()
    worker.join()
    return {**out, "hooks": {k: quantiles(v) for k, v in result.items()}}


def measure(count: int, seconds: float, connections: int, generator: str) -> Dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="vhctl-api-bench-") as tmp:
        hub = make_hub(Path(tmp))
        try:
            timer = HookTimer(hub)
            url = api_url(hub)
            costs = login_users(hub, timer, count)
            settle(hub, url, count)
            # The simulator's users, connections and protocol state are C++ objects in a real hub, which
            # Python's garbage collector never walks; here they would make every full collection
            # (on whichever thread, holding the GIL) tens of milliseconds. Out of its way with them,
            # as the API does with the web stack at registration (bundle/heap.py).
            gc.collect()
            gc.freeze()
            tenth = max(1, count // 10)
            return {
                "users": count,
                "login_first_10pct": quantiles(costs[:tenth]), "login_last_10pct": quantiles(costs[-tenth:]),
                "tick_steady": quantiles(ticks(hub, timer, 500)),
                "reconcile": reconciliation(hub, timer),
                "hub_minutes": hub_minutes(hub, timer, 10),
                "no_load": phase(hub, timer, seconds),
                "stats_load": phase(hub, timer, seconds, (generator, url, "/api/stats", connections)),
                "users_load": phase(hub, timer, seconds, (generator, url, "/api/users?limit=100", connections)),
            }
        finally:
            hub.call(hub.plugin.hook, "OnUnLoad", 0)
            hub.stop()


def table(results: List[Dict[str, Any]]) -> List[str]:
    def cell(q: Dict[str, float]) -> str:
        return f"{q['median_us']:>8.1f} {q['p99_us']:>9.1f}"

    lines = [f"{'measure (hub thread, microseconds)':<52} {'median':>8} {'p99':>9}"]
    for r in results:
        n = r["users"]
        lines.append(f"--- {n} users")
        lines.append(f"{'login: our hooks, first 10% of logins':<52} {cell(r['login_first_10pct'])}")
        lines.append(f"{'login: our hooks, last 10% of logins':<52} {cell(r['login_last_10pct'])}")
        lines.append(f"{'OnTimer, steady state, no API load':<52} {cell(r['tick_steady'])}")
        rec = r["reconcile"]
        lines.append(f"{f'OnTimer during {LIST_PASSES} reconciliation passes':<52} {cell(rec)}  "
                     f"({rec['ticks']} ticks, {rec['ticks_over_1ms']} over 1 ms, max {rec['max_us']} us, "
                     f"{rec['total_ms']} ms in all)")
        mins = r["hub_minutes"]
        lines.append(f"{'OnTimer, 10 min of 1 s ticks, reconcile every 60 s':<52} {cell(mins)}  "
                     f"({mins['ticks']} ticks, {mins['passes']} passes, {mins['ticks_over_1ms']} over 1 ms, "
                     f"max {mins['max_us']} us)")
        for key, label in (("no_load", "no API load"), ("stats_load", "/api/stats"),
                           ("users_load", "/api/users?limit=100")):
            load = r[key]
            hooks = load["hooks"]
            if "rps" in load:
                title = f"load {label}: requests/s"
                lines.append(f"{title:<52} {load['rps']:>8} (errors {load['errors']})")
            else:
                lines.append(f"{label}:")
            lines.append(f"{'  OnTimer':<52} {cell(hooks['OnTimer'])}")
            lines.append(f"{'  login (our hooks)':<52} {cell(hooks['login'])}")
            lines.append(f"{'  OnUserLogout':<52} {cell(hooks['OnUserLogout'])}")
            entry = "  hook entry: wait for the GIL + OS wake-up"
            lines.append(f"{entry:<52} {cell(hooks['hook_entry'])}")
            lines.append(f"{'  OnTimer latency: that wait + the hook':<52} {cell(hooks['timer_latency'])}")
    return lines


def main(argv: List[str]) -> None:
    if argv[:1] == ["--client"]:
        client(argv[1], argv[2], float(argv[3]), int(argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each load phase")
    parser.add_argument("--connections", type=int, default=8, help="load generator connections")
    parser.add_argument("--generator", choices=("wrk", "python"), default="wrk" if shutil.which("wrk") else "python",
                        help="load generator: wrk (Debian's package; default when installed) or a Python client")
    parser.add_argument("--json", action="store_true", help="print the raw figures as JSON")
    args = parser.parse_args(argv)
    results = [measure(n, args.seconds, args.connections, args.generator) for n in args.users]
    print(json.dumps(results, indent=1) if args.json else "\n".join(table(results)))


if __name__ == "__main__":
    main(sys.argv[1:])
