"""Probe scripts and helpers shared by the plugin tests."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any, Callable

from vhctl.sim.hub import Hub

# A script whose OnTimer runs queued jobs ``job(vh)`` on the hub thread and keeps their outcome.
RUNNER = """
import vh
JOBS = []
RESULTS = []

def OnTimer(t):
    while JOBS:
        job = JOBS.pop(0)
        try:
            RESULTS.append(("ok", job(vh)))
        except Exception as exc:
            RESULTS.append(("err", type(exc).__name__, str(exc)))
    return 1
"""


def write_script(directory: Path, name: str, source: str) -> str:
    """Write a probe script (dedented) and return its path as a string."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return str(path)


def load(hub: Hub, path: str) -> int:
    """``!pyload`` as the built-in master; returns the new script id (fails the test otherwise)."""
    reply = hub.pyload(path)
    assert " is now loaded: " in reply, reply
    return int(reply.split("#", 1)[1].split(" ", 1)[0])


def globals_of(hub: Hub, sid: int) -> Any:
    """The module holding a loaded script's globals (shared ``__main__`` in single mode)."""
    module = hub.plugin.script_module(sid)
    assert module is not None, f"script #{sid} is not loaded"
    return module


def install_runner(hub: Hub, tmp: Path, name: str = "runner.py") -> int:
    return load(hub, write_script(tmp, name, RUNNER))


def run(hub: Hub, sid: int, job: Callable[[Any], Any]) -> Any:
    """Run ``job(vh)`` inside the runner's OnTimer; return its result or raise AssertionError with
    the exception it raised (type name and message) as ``("err", type, message)``."""
    space = globals_of(hub, sid)
    space.JOBS.append(job)
    hub.tick()
    outcome = space.RESULTS.pop()
    return outcome[1] if outcome[0] == "ok" else outcome


def stderr(hub: Hub) -> str:
    return "\n".join(hub.stderr_lines)
