"""The system site folders on the hosted scripts' ``sys.path`` (A19).

A hub linked against Debian's python3 runs Debian's site.py, so ``/usr/local/lib/python3.X/
dist-packages`` and ``/usr/lib/python3/dist-packages`` are on every script's path, after whatever
the script puts in front: a script can import system packages it never shipped (keyring found
``gi`` and ``dbus`` that way). The simulator stands for them with two folders under the hub's base
dir, appended to the process's path while the hub runs (scripts share the process's path in
single mode and copy it at load in sub mode). Tests put packages there to see what leaks in.
"""

from __future__ import annotations

import sys
from pathlib import Path


class SystemSite:
    """``<basedir>/system/local-dist-packages`` and ``<basedir>/system/dist-packages``."""

    def __init__(self, basedir: Path) -> None:
        root = basedir / "system"
        self.local = root / "local-dist-packages"   # /usr/local/lib/python3.X/dist-packages
        self.dist = root / "dist-packages"          # /usr/lib/python3/dist-packages
        self._entries = [str(self.local), str(self.dist)]

    def add(self) -> None:
        """Create the folders and append them to ``sys.path`` (hub thread, before any load)."""
        for entry in self._entries:
            Path(entry).mkdir(parents=True, exist_ok=True)
            if entry not in sys.path:
                sys.path.append(entry)

    def remove(self) -> None:
        """Take them off ``sys.path`` again when the hub process "ends"."""
        for entry in self._entries:
            while entry in sys.path:
                sys.path.remove(entry)
