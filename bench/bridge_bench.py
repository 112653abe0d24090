"""What the Matterbridge bridge costs the hub thread, and how fast it relays, in the simulator.

1. Hub-thread time per relayed chat line (OnParsedMsgChat through the rendered matterbridge.py,
   timed around the plugin's hook dispatch) with the Matterbridge stand-in healthy, slow (every
   answer 2 s late) and down (stopped), median and p99. Beside it, in the same run, the reference
   design: a blocking POST /api/message inside the hook (5 s timeout), timed the same way.
2. Matterbridge -> hub: messages injected into the stand-in as fast as it takes them (one call on its
   loop, so the test harness is not the limit), until a logged-in user has received every line (the
   hub's OnTimer every --tick seconds drives the drain); msg/s, lines lost, and the hub-thread time
   of each OnTimer meanwhile (median and p99: the drain stays within the runtime's tick budget).
   Beside it, in the same run, the previous design: one safe send (one work item, one
   SendDataToAll) per message.
3. hub -> Matterbridge: chat lines typed back to back until the stand-in's remote side has them all.

Run: ~/.cache/vhctl/venv-test/bin/python bench/bridge_bench.py [--mode single|sub] [--lines 2000] [--inbound 5000]
     [--tick 0.1] [--only inbound] [--json]
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


def timed_ticks(runtime: Any) -> List[int]:
    """Wrap the runtime's OnTimer handler: the list fills with each tick's hub-thread time (ns)."""
    spent: List[int] = []
    handlers = runtime.dispatcher.handlers
    handler = handlers["OnTimer"]

    def timed(now: float) -> int:
        began = time.perf_counter_ns()
        try:
            return handler(now)
        finally:
            spent.append(time.perf_counter_ns() - began)

    handlers["OnTimer"] = timed
    return spent


def previous_design(comp: Any) -> Callable[[dict], None]:
    """The bridge's first inbound path: each message one ``main_chat`` (one work item, one send)."""
    inbound = comp._deliver.__func__.__globals__["inbound"]  # the component's own module (sub mode)

    def deliver(msg: dict) -> None:
        shown = inbound(msg, comp.settings.bridge_to_hub_format, comp.link.account)
        if shown is not None:
            comp.ctx.hub.main_chat(comp.settings.bot_nick, "\n".join(shown.lines))

    return deliver


def inbound_flood(mb: MatterbridgeStandIn, user: Any, runtime: Any, count: int, word: str) -> Dict[str, Any]:
    """``count`` remote lines at once; msg/s until the user has them all, and the OnTimer times."""
    marker = f"<[Bridge]> [irc] <bob> {word} {count - 1}|".encode()
    handler = runtime.dispatcher.handlers["OnTimer"]
    ticks = timed_ticks(runtime)
    began = time.perf_counter()
    try:
        mb.inject_many([f"{word} {i}" for i in range(count)], "bob")
        while marker not in user.received and time.perf_counter() - began < 300:
            time.sleep(0.005)
        elapsed = time.perf_counter() - began
    finally:
        runtime.dispatcher.handlers["OnTimer"] = handler
    got = user.received.count(f"<[Bridge]> [irc] <bob> {word} ".encode())
    return {"msg_s": round(got / elapsed), "sent": count, "shown": got, "lost": count - got,
            "on_timer": quantiles(ticks) if ticks else None}


def inbound_both(hub: Hub, mb: MatterbridgeStandIn, user: Any, count: int) -> Dict[str, Any]:
    """Matterbridge -> hub with this design and, in the same run, the previous one."""
    runtime = hub.plugin.script_module(hub.plugin.scripts()[-1][0]).hub_runtime.runtime()
    comp = next(i.component for i in runtime.instances() if i.ctx.name == "bridge")
    results = {"matterbridge_to_hub": inbound_flood(mb, user, runtime, count, "in")}
    comp._reader.deliver = previous_design(comp)
    try:
        results["matterbridge_to_hub_previous"] = inbound_flood(mb, user, runtime, count, "old")
    finally:
        comp._reader.deliver = comp._deliver
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", default="single", choices=("single", "sub"))
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("--inbound", type=int, default=5000)
    parser.add_argument("--tick", type=float, default=0.1)
    parser.add_argument("--only", choices=("inbound",), help="run only this part")
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
            if args.only == "inbound":
                results.update(inbound_both(hub, mb, user, args.inbound))
                return finish(results, args.json)
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
            results.update(inbound_both(hub, mb, user, args.inbound))
        finally:
            if hub.running:
                hub.call(hub.plugin.hook, "OnUnLoad", 0)
            hub.stop()
            mb.stop()
    finish(results, args.json)


def finish(results: Dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(results, indent=1))
        return
    for key, value in results.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
