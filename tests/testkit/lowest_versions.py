"""The lowest release a hub requirement allows, installed beside the dev venv (never into it), so a
test can run the same code with it first on ``sys.path``."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

HUB_REQUIREMENTS = Path(__file__).resolve().parents[2] / "bundle" / "requirements.txt"


def install_lowest(name: str, target: Path) -> str:
    """Install the newest patch release of the floor of ``name``'s range in bundle/requirements.txt
    into ``target`` (no dependencies: the dev venv has them); returns the floor, e.g. ``"3.3"``."""
    line = next(r for r in HUB_REQUIREMENTS.read_text().splitlines() if r.startswith(name))
    floor = re.search(r">=([\d.]+)", line).group(1)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
                    "--target", str(target), f"{name}=={floor}.*"], check=True, timeout=300)
    return floor
