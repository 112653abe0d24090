"""Connection abuse against the REST API in a simulated hub: what honest clients and the hub thread see.

A simulated hub (single mode, --users users) loads hub_api.py; the hub thread works like a live hub
(api_bench's busy loop: a GIL-free 10 ms wait, then OnTimer, a login and a logout). Then, for
--seconds each:
1. no abuse: the baseline;
2. abuse: twice every admission limit of abusive sockets are held open at once: idle ones (connect,
   send nothing), half-open ones (request headers never finished), and slow readers (event streams
   that are never read), all from 127.0.0.1, re-opened as the server drops them. Meanwhile an honest
   client asks /health and /api/stats once every 100 ms on a new connection each time.
Reported: the hub thread's hook entry and OnTimer latency (median, p99, us) in both phases, the
honest client's answer times (median, p99, max, ms) and non-200 answers, and the admission counters.

Run: python bench/abuse_bench.py [--users 1000] [--seconds 10] [--json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

sys.path.insert(0, str(Path(__file__).parent))
from api_bench import HookTimer, api_url, login_users, make_hub, phase, runtime_of, settle

from vhctl_hub.api.admission import Limits

ABUSE_KINDS = {
    "idle": b"",
    "half_open": b"GET /api/stats HTTP/1.1\r\nHost: x\r\n",
    "slow_reader": b"GET /api/events HTTP/1.1\r\nHost: x\r\n\r\n",
}


def hold(port: int, first: bytes, count: int, stop: threading.Event, opened: List[int], churn: bool) -> None:
    """Open ``count`` abusive sockets and hold them until ``stop``; with ``churn``, re-open at once
    those the server closes (a connection flood), else only the first ``count``."""
    socks: List[socket.socket] = []
    while not stop.is_set():
        socks = [s for s in socks if _alive(s)]
        while len(socks) < count and not stop.is_set() and (churn or opened[0] < count):
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                if first:
                    sock.sendall(first)
                sock.setblocking(False)
                socks.append(sock)
                opened[0] += 1
            except OSError:
                break
        stop.wait(0.2)
    for sock in socks:
        sock.close()


def _alive(sock: socket.socket) -> bool:
    try:
        return sock.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def honest(port: int, stop: threading.Event) -> Dict[str, List[Any]]:
    """One request every 100 ms on a fresh connection, /health and /api/stats in turn."""
    times: Dict[str, List[Any]] = {"/health": [], "/api/stats": [], "failures": []}
    paths = ("/health", "/api/stats")
    i = 0
    while not stop.is_set():
        path = paths[i % 2]
        i += 1
        began = time.perf_counter()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            conn.close()
            if response.status != 200:
                times["failures"].append(f"{path} {response.status}")
            times[path].append(time.perf_counter() - began)
        except OSError as exc:
            times["failures"].append(f"{path} {type(exc).__name__}")
        stop.wait(0.1)
    return times


def ms(samples: List[float]) -> Dict[str, float]:
    if not samples:
        return {"n": 0}
    ordered = sorted(samples)
    return {"n": len(ordered), "median_ms": round(statistics.median(ordered) * 1e3, 1),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e3, 1),
            "max_ms": round(ordered[-1] * 1e3, 1)}


def abusers(port: int, seconds: float, churn: bool) -> Dict[str, Any]:
    """The abusive sockets and the honest client, for ``seconds`` (run in a process of its own, so
    that their Python work does not compete for the hub process's GIL as no remote client would)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    limits = Limits()
    counts = {"idle": 2 * max(limits.per_client, limits.max_connections) // 3,
              "half_open": 2 * max(limits.per_client, limits.max_connections) // 3,
              "slow_reader": 2 * limits.max_requests}
    stop = threading.Event()
    opened = {kind: [0] for kind in ABUSE_KINDS}
    holders = [threading.Thread(target=hold, daemon=True,
                                args=(port, ABUSE_KINDS[k], counts[k], stop, opened[k], churn))
               for k in ABUSE_KINDS]
    for thread in holders:
        thread.start()
    answers: Dict[str, Any] = {}
    client = threading.Thread(target=lambda: answers.update(honest(port, stop)), daemon=True)
    client.start()
    time.sleep(seconds)
    stop.set()
    for thread in (*holders, client):
        thread.join(30)
    return {"abusive_sockets": counts, "opened": {k: v[0] for k, v in opened.items()},
              "health": ms(answers.get("/health", [])), "stats": ms(answers.get("/api/stats", [])),
              "failures": answers.get("failures", [])[:10], "failure_count": len(answers.get("failures", []))}


def abuse_phase(hub: Any, timer: HookTimer, port: int, seconds: float,
                churn: bool) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    process = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--abusers", str(port),
                                "--seconds", str(seconds), *(["--churn"] if churn else [])],
                               stdout=subprocess.PIPE, text=True)
    hooks = phase(hub, timer, seconds)
    report = json.loads(process.communicate(timeout=seconds + 120)[0])
    return hooks, report


def main(argv: List[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--abusers", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--churn", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.abusers:
        print(json.dumps(abusers(args.abusers, args.seconds, args.churn)))
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with tempfile.TemporaryDirectory(prefix="vhctl-abuse-bench-") as tmp:
        hub = make_hub(Path(tmp))
        try:
            timer = HookTimer(hub)
            url = api_url(hub)
            login_users(hub, timer, args.users)
            settle(hub, url, args.users)
            port = int(url.rsplit(":", 1)[1])
            server = runtime_of(hub).instances()[0].component.server
            result: Dict[str, Any] = {"users": args.users, "seconds": args.seconds,
                                      "no_abuse": phase(hub, timer, args.seconds)["hooks"]}
            for name, churn in (("held", False), ("flood", True)):
                before = dict(server.gate.counts)
                hooks, report = abuse_phase(hub, timer, port, args.seconds, churn)
                result[name] = {"hooks": hooks["hooks"], **report,
                                "gate": {k: v - before[k] for k, v in server.gate.counts.items()}}
        finally:
            hub.call(hub.plugin.hook, "OnUnLoad", 0)
            hub.stop()
    if args.json:
        print(json.dumps(result, indent=1))
        return
    base = result["no_abuse"]
    print(f"users {args.users}, {args.seconds:g} s a phase; hub thread, us (median / p99)")
    for name in ("held", "flood"):
        run = result[name]
        for key in ("hook_entry", "timer_latency"):
            a, b = base[key], run["hooks"][key]
            print(f"{name:5} {key:14} no abuse {a['median_us']:8.1f} / {a['p99_us']:8.1f} | "
                  f"abuse {b['median_us']:8.1f} / {b['p99_us']:8.1f}")
        print(f"{name:5} honest /health {run['health']}  /api/stats {run['stats']}  failures "
              f"{run['failure_count']} {run['failures'][:3]}")
        print(f"{name:5} sockets {run['abusive_sockets']} opened {run['opened']} admission {run['gate']}")


if __name__ == "__main__":
    main(sys.argv[1:])
