"""Fixtures of the end-to-end tests: `vhctl demo` as a real subprocess, and TCP relays that keep
the bytes a DC client receives (microdc2 is tests/conftest.py's)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Callable, Iterator

import pytest

from testkit.demo import DemoRun
from testkit.fixtures import closing_factory
from testkit.wire import WireTap


@pytest.fixture
def start_demo(tmp_path: Path) -> Iterator[Callable[..., DemoRun]]:
    """``start_demo(*args)`` runs ``vhctl demo --hub-port 0 --api-port 0 *args`` and reads the three
    lines it always prints first; a demo still running at teardown is killed."""
    runs: list[DemoRun] = []

    def start(*args: str) -> DemoRun:
        err = tmp_path / f"demo{len(runs)}.stderr"
        with err.open("w") as err_file:
            proc = subprocess.Popen([sys.executable, "-m", "vhctl", "demo", "--hub-port", "0",
                                     "--api-port", "0", *args], stdout=subprocess.PIPE,
                                    stderr=err_file, text=True, cwd=tmp_path)
        assert proc.stdout is not None
        lines = [proc.stdout.readline().rstrip("\n") for _ in range(3)]
        hub = re.fullmatch(r"hub: dchub://127\.0\.0\.1:(\d+)", lines[0])
        api = re.fullmatch(r"api: http://127\.0\.0\.1:(\d+)", lines[1])
        op = re.fullmatch(r"op: (\S+) (\S+)", lines[2])
        assert hub and api and op, (lines, err.read_text())
        run = DemoRun(proc, int(hub[1]), int(api[1]), op[1], op[2], err)
        runs.append(run)
        return run

    yield start
    for run in runs:
        if run.proc.poll() is None:
            run.proc.kill()
            run.proc.wait()
        assert run.proc.stdout is not None
        run.proc.stdout.close()


@pytest.fixture
def wiretap() -> Iterator[Callable[[int], WireTap]]:
    """``wiretap(hub_port)`` -> a relay to the hub for one client (closed after the test)."""
    yield from closing_factory(WireTap, WireTap.close)
