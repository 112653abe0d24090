"""Running the real `vhctl` CLI in a subprocess, as a sysadmin would (shared by the test folders)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parents[2]

#: What a desktop session or the caller's own vhctl set-up would add; a fresh server has none of it.
SESSION_ENV = ("DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "WAYLAND_DISPLAY", "XDG_RUNTIME_DIR",
               "PYTHON_KEYRING_BACKEND", "VHCTL_KEYRING", "VHCTL_CONFIG", "XDG_DATA_HOME",
               "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME")


@dataclass
class Run:
    """What one CLI run gave."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def json(self) -> dict:
        return json.loads(self.stdout)


def headless_env(home: Path, **extra: str) -> dict:
    """The environment of a login on a fresh headless server whose HOME is ``home`` (no desktop
    session, no XDG overrides, no system-wide vhctl config)."""
    env = {key: value for key, value in os.environ.items() if key not in SESSION_ENV}
    return {**env, "HOME": str(home), "VHCTL_SYSTEM_CONFIG": str(home / "no-system-config.toml"),
            "COLUMNS": "80", **extra}


def vhctl_command(*args: str) -> list[str]:
    """The argv of the CLI from this checkout (``python -m vhctl ...``)."""
    return [sys.executable, "-m", "vhctl", *args]


def run_vhctl(config: Optional[Path], *args: str, env: dict | None = None, prefix: tuple = (),
              stdin: str | None = None, replace_env: bool = False) -> Run:
    """`python -m vhctl --config CONFIG ARGS` in a real subprocess, from the checkout (no --config
    when ``config`` is None). ``env`` adds to this process's environment, or is the whole
    environment with ``replace_env`` (e.g. ``headless_env(...)``)."""
    started = time.monotonic()
    options = ("--config", str(config)) if config is not None else ()
    environment = dict(env or {}) if replace_env else {**os.environ, **(env or {})}
    result = subprocess.run([*prefix, *vhctl_command(*options, *args)], cwd=REPO, capture_output=True,
                            text=True, timeout=600, env=environment, input=stdin,
                            stdin=None if stdin is not None else subprocess.DEVNULL)
    return Run(result.returncode, result.stdout, result.stderr, time.monotonic() - started)
