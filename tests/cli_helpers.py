"""Running the real `vhctl` CLI in a subprocess, as a sysadmin would (shared by the test folders)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Run:
    """What one CLI run gave."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def json(self) -> dict:
        return json.loads(self.stdout)


def run_vhctl(config: Path, *args: str, env: dict | None = None, prefix: tuple = ()) -> Run:
    """`python -m vhctl --config CONFIG ARGS` in a real subprocess, from the checkout."""
    started = time.monotonic()
    result = subprocess.run([*prefix, sys.executable, "-m", "vhctl", "--config", str(config), *args],
                            cwd=REPO, capture_output=True, text=True, timeout=600,
                            env={**os.environ, **(env or {})})
    return Run(result.returncode, result.stdout, result.stderr, time.monotonic() - started)
