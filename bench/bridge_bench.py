"""What the Matterbridge bridge costs the hub thread, and how fast it relays, in the simulator.

1. Hub-thread time per relayed chat line (OnParsedMsgChat through the rendered matterbridge.py,
   timed around the plugin's hook dispatch) with the Matterbridge stand-in healthy, slow (every
   answer 2 s late) and down (stopped), median and p99. Beside it, in the same run, the reference
   design: a blocking POST /api/message inside the hook (5 s timeout), timed the same way.
2. Matterbridge -> hub: messages injected into the stand-in as fast as it takes them, until a logged-in
   user has received every line (the hub's OnTimer every --tick seconds drives the drain); msg/s.
3. hub -> Matterbridge: chat lines typed back to back until the stand-in's remote side has them all.

Run: .venv/bin/python bench/bridge_bench.py [--mode single|sub] [--lines 2000] [--inbound 5000]
     [--tick 0.1] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

import urllib3

from vhctl.render import render
from vhctl.sim.hub import Hub
from vhctl.sim.matterbridge import MatterbridgeStandIn

SITE_PACKAGES = sysconfig.get_paths()["purelib"]
#: GIL-free pause between two chat lines on the hub thread (the hub's own work), seconds.
BETWEEN = 0.0005


def quantiles(samples_ns: List[int]) -> Dict[str, float]:
    ordered = sorted(samples_ns)
    return {"median_us": round(statistics.median(ordered) / 1e3, 1),
            "p99_us": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] / 1e3, 1),
            "samples": len(ordered)}


def time_on_hub(hub: Hub, count: int, step: Callable[[int], Any]) -> List[int]:
    """``step(i)`` ``count`` times on the hub thread, each timed."""

    def run() -> List[int]:
        spent = []
        for i in range(count):
            began = time.perf_counter_ns()
            step(i)
            spent.append(time.perf_counter_ns() - began)
            time.sleep(BETWEEN)
        return spent

    return hub.call(run, timeout=3600)


def reference_post(pool: urllib3.PoolManager, url: str) -> Callable[[int], Any]:
    """The reference script's design: POST inside the hook, 5 s timeout."""

    def step(i: int) -> None:
        try:
            pool.request("POST", url + "/api/message", body=json.dumps(
                {"gateway": "gateway1", "username": "alice", "text": f"ref {i}"}).encode(),
                headers={"Content-Type": "application/json"}, timeout=5.0, retries=False)
        except (urllib3.exceptions.HTTPError, OSError):
            pass

    return step


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", default="single", choices=("single", "sub"))
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("--inbound", type=int, default=5000)
    parser.add_argument("--tick", type=float, default=0.1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results: Dict[str, Any] = {"mode": args.mode, "tick_s": args.tick}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        mb = MatterbridgeStandIn(gateway="gateway1").start()
        config = folder / "vhctl.toml"
        config.write_text(f'[hub]\nstate_dir = "{folder / "state"}"\n[bridge]\nurl = "{mb.url}"\n'
                          'gateway = "gateway1"\nretry_initial = 0.2\nretry_max = 2.0\nqueue_size = 100000\n',
                          encoding="utf-8")
        script = folder / "matterbridge.py"
        script.write_text(render("matterbridge.py", {
            "venv": str(Path(SITE_PACKAGES).parents[2]), "site_packages": SITE_PACKAGES,
            "python": "%d.%d" % sys.version_info[:2], "config_file": str(config), "component": "bridge"}),
            encoding="utf-8")
        hub = Hub(folder / "hub", mode=args.mode, config={"hub_name": "Bench"}, hub_encoding="UTF-8",
                  echo_stderr=False, timer_period=args.tick, chat_rules=False).start()
        hub.dns_delay = 0.0
        try:
            reply = hub.pyload(str(script))
            assert " is now loaded: " in reply, reply
            deadline = time.monotonic() + 20
            while mb.ws_clients < 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            user = hub.login("alice", share=0)
            pool = urllib3.PoolManager(maxsize=1)
            ours = lambda i: hub.plugin.hook("OnParsedMsgChat", "alice", f"line {i}")  # noqa: E731
            # the runtime's own cost of a chat hook: a line the bridge does not relay (a command)
            results["not_relayed_baseline"] = quantiles(time_on_hub(
                hub, args.lines, lambda i: hub.plugin.hook("OnParsedMsgChat", "alice", f"+cmd {i}")))
            # healthy
            results["healthy"] = quantiles(time_on_hub(hub, args.lines, ours))
            mb.wait_received(args.lines, timeout=120)
            results["healthy_reference"] = quantiles(time_on_hub(hub, 200, reference_post(pool, mb.url)))
            # hub -> Matterbridge throughput
            before = len(mb.received())
            began = time.perf_counter()
            hub.call(lambda: [hub.plugin.hook("OnParsedMsgChat", "alice", f"burst {i}")
                              for i in range(args.lines)], timeout=600)
            mb.wait_received(before + args.lines, timeout=300)
            results["hub_to_matterbridge_msg_s"] = round(args.lines / (time.perf_counter() - began))
            # slow
            mb.set_delay(2.0)
            results["slow"] = quantiles(time_on_hub(hub, args.lines, ours))
            # 3 samples of 2 s each: the hub thread is frozen meanwhile (the runtime's watchdog
            # even pauses the component), which is the point of the comparison
            results["slow_reference"] = quantiles(time_on_hub(hub, 3, reference_post(pool, mb.url)))
            mb.set_delay(0.0)
            # down
            mb.stop()
            results["down"] = quantiles(time_on_hub(hub, args.lines, ours))
            results["down_reference"] = quantiles(time_on_hub(hub, 200, reference_post(pool, mb.url)))
            mb.restart()
            deadline = time.monotonic() + 30
            while mb.ws_clients < 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            # Matterbridge -> hub throughput
            marker = f"<[Bridge]> [irc] <bob> in {args.inbound - 1}|".encode()
            began = time.perf_counter()
            for i in range(args.inbound):
                mb.inject(f"in {i}", "bob")
            while marker not in user.received and time.perf_counter() - began < 300:
                time.sleep(0.01)
            elapsed = time.perf_counter() - began
            got = user.received.count(b"<[Bridge]> [irc] <bob> in ")
            results["matterbridge_to_hub"] = {"msg_s": round(got / elapsed), "sent": args.inbound, "shown": got}
        finally:
            if hub.running:
                hub.call(hub.plugin.hook, "OnUnLoad", 0)
            hub.stop()
            mb.stop()
    if args.json:
        print(json.dumps(results, indent=1))
        return
    for key, value in results.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
