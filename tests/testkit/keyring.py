"""What the keyring tests share: a fresh headless environment and the Python a real hub embeds."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from testkit.cli import REPO

#: Debian's own Python (what a real hub embeds; another user can run it), else the test runner's.
HUB_PYTHON = next((p for p in ("/usr/bin/python3.11", "/usr/bin/python3") if os.access(p, os.X_OK)), sys.executable)
_SESSION_ENV = ("DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "WAYLAND_DISPLAY", "XDG_RUNTIME_DIR", "PYTHON_KEYRING_BACKEND",
                "VHCTL_KEYRING", "VHCTL_CONFIG", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME")


@dataclass
class Headless:
    """A fresh HOME on a server without a desktop session; ``run`` is the real CLI in it."""

    home: Path
    env: dict

    def run(self, *args: str, stdin: str | None = None, user: str | None = None) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", user, "--"] if user else []
        return subprocess.run([*prefix, sys.executable, "-m", "vhctl", *args], cwd=REPO, env=self.env,
                              input=stdin, capture_output=True, text=True, timeout=600)


def headless_env(home: Path) -> dict:
    env = {key: value for key, value in os.environ.items() if key not in _SESSION_ENV}
    return {**env, "HOME": str(home)}
