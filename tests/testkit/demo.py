"""A `vhctl demo` subprocess for the end-to-end tests: what it printed first, its log, its API.
The ``start_demo`` fixture (tests/e2e/conftest.py) starts them and kills any left at teardown."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testkit.wire import wait_for_match


@dataclass
class DemoRun:
    """A `vhctl demo` subprocess and what it printed first."""

    proc: subprocess.Popen
    hub_port: int
    api_port: int
    nick: str
    password: str
    stderr: Path

    def log(self) -> str:
        return self.stderr.read_text()

    def log_line(self, pattern: str, timeout: float = 10.0) -> re.Match[str]:
        """The first log line matching ``pattern``. The demo writes its start-up log right after
        its three lines, so a reader that just got those lines may be ahead of it: wait for it."""
        return wait_for_match(self.log, pattern, timeout=timeout, flags=re.M, what="the demo's log")

    def loaded_script(self) -> Path:
        """The hub_api.py the demo loaded, from its log line ``!pyload PATH: <reply>``."""
        return Path(self.log_line(r"^vhctl demo: !pyload (\S+): Script #0 is now loaded: \1$")[1])

    def get(self, path: str) -> tuple[int, Any]:
        """A real HTTP GET on the printed API URL: (status, decoded JSON)."""
        url = f"http://127.0.0.1:{self.api_port}{path}"
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, json.load(resp)

    def wait_exit(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"vhctl demo did not exit in {timeout} s; its log:\n{self.log()}") from None
