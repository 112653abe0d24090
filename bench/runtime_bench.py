"""Hub-thread cost of the vhctl runtime, measured in the simulator (both plugin modes).

What it measures (the simulator times every hook dispatch on the hub thread, all scripts together):
1. idle: a rendered hub_api.py with an idle component that keeps the hub cache, against a bare
   script whose hooks (the same set) just ``return 1`` (the floor the plugin itself costs): OnTimer,
   OnParsedMsgAny (every user message), chat, login, logout, MyINFO, each with 100 users online;
2. flood: OnTimer while a background thread keeps the main-thread work queue full of no-op items
   (the tick budget, settings.runtime.tick_budget_ms, bounds the time taken).

Run: ~/.cache/vhctl/venv-test/bin/python bench/runtime_bench.py [--events N] [--budget-ms 3]
Prints a table (median and p99 in microseconds).
"""

from __future__ import annotations

import argparse
import sys
import sysconfig
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, List, Tuple

from vhctl.render import render
from vhctl.sim.hub import Hub

COMPONENT = '''
import threading
from vhctl_hub.component import Component
from vhctl_hub.workqueue import QueueFull


class Idle(Component):
    """Keeps the hub cache, like the API does, and nothing else."""
    name = "idle"
    needs_cache = True


class Flood(Idle):
    """A background thread that keeps the main-thread queue full of no-op work."""
    name = "flood"

    def start(self):
        self.ctx.start_thread(self._flood, "flood")

    def _flood(self):
        noop = int
        while not self.ctx.stopping.is_set():
            try:
                self.ctx.submit(noop)
            except QueueFull:
                self.ctx.stopping.wait(0.0005)
'''

BARE = '''
def OnTimer(now): return 1
def OnUserLogin(nick): return 1
def OnUserLogout(nick): return 1
def OnParsedMsgAny(nick, raw): return 1
def OnParsedMsgMyINFO(nick, desc, tag, speed, email, share): return 1
def OnParsedMsgChat(nick, text): return 1
def OnHubCommand(nick, command, user_class, in_pm, prefix): return 1
def OnUnLoad(code): return 1
'''

HOOKS = ("OnTimer", "OnParsedMsgAny", "OnParsedMsgChat", "OnUserLogin", "OnUserLogout", "OnParsedMsgMyINFO")


def _script(tmp: Path, component: str, budget_ms: float) -> str:
    site = sysconfig.get_paths()["purelib"]
    config = tmp / "vhctl.toml"
    config.write_text(f'[hub]\nstate_dir = "{tmp / "state"}"\n[runtime]\ntick_budget_ms = {budget_ms}\n',
                      encoding="utf-8")
    scripts = tmp / "scripts"
    scripts.mkdir(exist_ok=True)
    (scripts / "vhctl_bench_component.py").write_text(COMPONENT, encoding="utf-8")
    text = render("hub_api.py", {"venv": str(Path(site).parents[2]), "site_packages": site,
                                 "python": "%d.%d" % sys.version_info[:2], "config_file": str(config),
                                 "component": f"vhctl_bench_component:{component}"})
    path = scripts / "hub_api.py"
    path.write_text(text, encoding="utf-8")
    return str(path)


def _ticks(hub: Hub, count: int) -> None:
    for _ in range(count):
        time.sleep(0.002)  # distinct millisecond timestamps, as on a real hub (A8)
        hub.tick()


def _drive(hub: Hub, events: int) -> None:
    """Users online, then ticks, chat, MyINFO changes, logins and logouts."""
    crowd = hub.login_many([(f"user{i}", {"share": i * 1000}) for i in range(100)])
    talker = hub.login("talker", user_class=3)
    _ticks(hub, 5)  # the cache's first reconciliation happens here
    hub.plugin.reset_hook_stats()
    _ticks(hub, events)
    for i in range(events):
        talker.say(f"line {i}")
    for i in range(events):
        crowd[i % len(crowd)].myinfo(share=i)
    for i in range(events):
        hub.login(f"visitor{i}").logout()


def measure(mode: str, script: str, events: int) -> Dict[str, Dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        hub = Hub(Path(tmp) / "hub", mode=mode, timer_period=3600.0, echo_stderr=False, chat_rules=False,
                  config={"hub_name": "BenchHub"})
        hub.dns_delay = 0.0
        hub.start()
        try:
            path = Path(tmp) / "bare.py"
            if script == "bare":
                path.write_text(BARE, encoding="utf-8")
            else:
                path = Path(_script(Path(tmp), "Idle", 3.0))
            assert "is now loaded" in hub.pyload(str(path))
            _drive(hub, events)
            stats = hub.plugin.hook_stats()
            assert not hub.plugin.violations, hub.plugin.violations
            if script != "bare":
                hub.call(hub.plugin.hook, "OnUnLoad", 0)
        finally:
            hub.stop()
    return {h: stats[h] for h in HOOKS if h in stats}


def measure_flood(mode: str, events: int, budget_ms: float) -> Tuple[Dict[str, float], float]:
    with tempfile.TemporaryDirectory() as tmp:
        hub = Hub(Path(tmp) / "hub", mode=mode, timer_period=3600.0, echo_stderr=False,
                  config={"hub_name": "BenchHub"})
        hub.dns_delay = 0.0
        hub.start()
        try:
            assert "is now loaded" in hub.pyload(_script(Path(tmp), "Flood", budget_ms))
            _ticks(hub, 5)
            time.sleep(0.2)  # let the flood fill the queue
            hub.plugin.reset_hook_stats()
            _ticks(hub, events)
            stats = hub.plugin.hook_stats()["OnTimer"]
            drained = _queue_done(hub) / max(1, events)
            assert not hub.plugin.violations, hub.plugin.violations
            hub.call(hub.plugin.hook, "OnUnLoad", 0)
        finally:
            hub.stop()
    return stats, drained


def _queue_done(hub: Hub) -> int:
    slot_id = hub.plugin.scripts()[0][0]
    return hub.plugin.script_module(slot_id).hub_runtime.runtime().queue.done


def main(argv: List[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=300, help="events of each kind (default 300)")
    parser.add_argument("--budget-ms", type=float, default=3.0, help="tick budget for the flood run")
    args = parser.parse_args(argv)
    print(f"vhctl runtime bench: {args.events} events per kind, Python {sys.version.split()[0]}, "
          f"{threading.active_count()} threads at start")
    print(f"{'mode':6} {'hook':18} {'bare med':>9} {'bare p99':>9} {'vhctl med':>10} {'vhctl p99':>10}  (us)")
    for mode in ("single", "sub"):
        bare = measure(mode, "bare", args.events)
        ours = measure(mode, "vhctl", args.events)
        for hook in HOOKS:
            b, o = bare.get(hook, {}), ours.get(hook, {})
            print(f"{mode:6} {hook:18} {b.get('median_us', 0):9.1f} {b.get('p99_us', 0):9.1f} "
                  f"{o.get('median_us', 0):10.1f} {o.get('p99_us', 0):10.1f}")
    print(f"\nOnTimer while a thread floods the work queue (tick budget {args.budget_ms:g} ms):")
    print(f"{'mode':6} {'median us':>10} {'p99 us':>10} {'max us':>10} {'items/tick':>11}")
    for mode in ("single", "sub"):
        stats, drained = measure_flood(mode, args.events, args.budget_ms)
        print(f"{mode:6} {stats['median_us']:10.1f} {stats['p99_us']:10.1f} {stats['max_us']:10.1f} "
              f"{drained:11.0f}")


if __name__ == "__main__":
    main(sys.argv[1:])
