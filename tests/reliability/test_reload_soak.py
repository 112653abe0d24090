"""Reload soak: hub_api.py and matterbridge.py loaded together, 50 ``!pyreload`` of each with the API
serving and the bridge connected, then 20 ``!pyunload``/``!pyload`` cycles of each. Threads and
sockets come back to the baseline, the API's fixed port is bound again each time, and memory growth
is bounded (printed for the README table). Both plugin modes; the fixture asserts zero violations.

In sub mode FastAPI cannot start in a second interpreter (A10): the API says so once and the soak
there checks the bridge and that nothing leaks."""

from __future__ import annotations

import pytest

import gc
import os
import socket
import threading
import time
from typing import Any, Callable, List

from testkit.api import get, listening_ports
from testkit.bridge import wait_until
from conftest import free_port

RELOADS = 50
CYCLES = 20
#: RSS growth allowed over the whole soak once warmed up, MiB (measured: see the README table).
RSS_BOUND_MIB = 64


def rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        kib = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return kib / 1024


def socket_fds() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:
            pass
    return count


def ours(older: set) -> List[str]:
    """Names of the threads our scripts started (earlier tests' leftovers excluded)."""
    return sorted(t.name for t in set(threading.enumerate()) - older if t.name.startswith("vhctl-"))


def settled(lab: Any, single: bool) -> None:
    """Both scripts at work: the API answers on its port (single mode), the bridge is connected."""
    lab.bridge.connected(timeout=20)
    if single:
        assert get(lab.api.url(timeout=20) + "/health").status_code == 200


def cycle(script: Any) -> None:
    """``!pyunload`` then ``!pyload`` of one helper's script."""
    reply = script.command(f"!pyunload {script.sid}")
    assert "unloaded" in reply or "stopped" in reply, reply
    script.load()


def round_trip(lab: Any, user: Any, tag: str) -> None:
    """One line each way through the live bridge (also opens the poster's keep-alive connection)."""
    user.say(f"hub {tag}")
    lab.mb.wait_until(lambda mb: any(m["text"] == f"hub {tag}" for m in mb.received()), timeout=20)
    lab.mb.inject(f"remote {tag}", "bob")
    wait_until(lambda: f"[irc] <bob> remote {tag}" in lab.bridge.chat_lines(user), 20, lab.hub)


def soak(lab: Any, single: bool, step: Callable[[], None], rounds: int) -> None:
    for _ in range(rounds):
        step()
        settled(lab, single)


# Sub mode makes a new interpreter per load, 140 of them: about 110 s on an idle 2-core machine and
# 270 s with both cores busy, so the suite's 300 s default is no bound for it.
@pytest.mark.timeout(1200)
def test_A10_A18_fifty_reloads_and_twenty_unload_load_cycles_of_both_scripts_leak_nothing(make_lab, mode):
    single = mode == "single"
    older = set(threading.enumerate())
    port = free_port()
    lab = make_lab(mode, api_port=port)
    lab.bridge.load()
    lab.api.load()
    settled(lab, single)
    if single:
        assert lab.api.url().endswith(f":{port}")
    alice = lab.hub.login("alice", share=0)
    started = time.monotonic()
    # warm-up: first imports and caches; in sub mode also the API's one start (it cannot start again)
    soak(lab, single, lambda: (lab.api.reload(), lab.bridge.reload()), 5)
    round_trip(lab, alice, "before")
    base_threads = wait_until(lambda: ours(older), 20, lab.hub)
    gc.collect()
    base_sockets, base_ports, warm = socket_fds(), listening_ports(), rss_mib()
    soak(lab, single, lambda: (lab.api.reload(), lab.bridge.reload()), RELOADS - 5)
    soak(lab, single, lambda: (cycle(lab.api), cycle(lab.bridge)), CYCLES)

    round_trip(lab, alice, "after")   # the live bridge still carries chat both ways

    def back_to_baseline() -> bool:
        gc.collect()
        return (ours(older) == base_threads and socket_fds() <= base_sockets
                and listening_ports() == base_ports)
    try:
        wait_until(back_to_baseline, 30, lab.hub)
    except AssertionError:
        raise AssertionError(f"threads {ours(older)} vs {base_threads}, sockets {socket_fds()} vs "
                             f"{base_sockets}, ports {listening_ports()} vs {base_ports}") from None
    gc.collect()
    growth = rss_mib() - warm
    print(f"\nreload soak ({mode}): {RELOADS} reloads + {CYCLES} unload/load cycles of both scripts in "
          f"{time.monotonic() - started:.1f} s; RSS after warm-up {warm:.1f} MiB, growth {growth:+.1f} MiB; "
          f"threads {len(base_threads)}, sockets {base_sockets} (baseline kept)")
    assert growth < RSS_BOUND_MIB, f"RSS grew {growth:.1f} MiB"
    if single:   # the fixed port was bound again by every start, and is free once the API is unloaded
        assert lab.api.url().endswith(f":{port}")
        lab.api.command(f"!pyunload {lab.api.sid}")
        def port_free() -> bool:
            with socket.socket() as probe:
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:
                    return False
                return True
        wait_until(port_free, 20, lab.hub)
