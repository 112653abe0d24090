"""The pacer that hands the GIL to the hub thread while the API is busy."""

from __future__ import annotations

import threading
import time
from typing import List

from vhctl_hub.api.pacer import Pacer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make(cpu: Clock, naps: List[float]) -> Pacer:
    return Pacer(slice_s=0.0003, nap_s=0.00015, cpu_clock=cpu, sleep=naps.append)


def test_no_pause_while_the_thread_is_within_its_slice():
    cpu, naps = Clock(), []
    pacer = make(cpu, naps)
    for _ in range(2):
        cpu.now += 0.0001
        pacer.pace()
    assert naps == [] and pacer.paused == 0.0


def test_a_pause_after_each_slice_of_cpu_time_then_a_fresh_slice():
    cpu, naps = Clock(), []
    pacer = make(cpu, naps)
    cpu.now += 0.0004        # parsing, handlers and writes: all of the thread's CPU time counts
    pacer.pace()
    assert naps == [0.00015]
    cpu.now += 0.0001
    pacer.pace()
    assert naps == [0.00015]
    cpu.now += 0.0002
    pacer.pace()
    assert naps == [0.00015, 0.00015]
    assert abs(pacer.paused - 0.0003) < 1e-12


def test_the_pause_is_a_real_sleep_that_frees_the_gil():
    """Another Python thread runs during the pause (a blocking sleep holds no GIL)."""
    ran = threading.Event()
    spin_until = time.thread_time() + 0.001
    pacer = Pacer(slice_s=0.0, nap_s=0.05)
    other = threading.Thread(target=ran.set)
    while time.thread_time() < spin_until:
        pass
    other.start()
    pacer.pace()
    assert ran.is_set()
    other.join()


def test_the_default_cpu_clock_is_the_calling_threads_own():
    """Another thread burning CPU does not use up the server thread's slice."""
    naps: List[float] = []
    pacer = Pacer(slice_s=0.05, nap_s=0.0, sleep=naps.append)
    stop = time.perf_counter() + 0.2

    def burn() -> None:
        while time.perf_counter() < stop:
            pass

    other = threading.Thread(target=burn)
    other.start()
    other.join()
    pacer.pace()
    assert naps == []
