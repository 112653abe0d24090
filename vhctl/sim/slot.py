"""One script slot of the plugin: the wrapper's w_TScript plus the plugin's list entry (F3, F8,
F13).

A record shared by the plugin, its console, the interpreter modes and the vh module, so that none
of them needs to import another for it.
"""

from __future__ import annotations

import os
from typing import Any


def module_name(path: str) -> str:
    """F13: the file basename with a trailing ``.py`` removed (wrapper w_Load)."""
    base = path.rsplit("/", 1)[-1]
    dot = base.rfind(".")
    return base[:dot] if dot >= 0 and base[dot:] == ".py" else base


class Slot:
    """One loaded (or half-loaded) script."""

    __slots__ = ("id", "path", "fs_path", "name", "vh", "module", "hooks", "online", "private",
                 "sys_path")

    def __init__(self, sid: int, path: str) -> None:
        self.id = sid
        self.path = path                         # the hub string the console compares (F9)
        self.fs_path = os.fsdecode(path.encode("latin-1"))
        self.name = module_name(self.fs_path)
        self.vh: Any = None
        self.module: Any = None
        self.hooks: frozenset[str] = frozenset()
        self.online = False
        self.private: dict[str, Any] = {}        # sub mode: this slot's own modules
        self.sys_path: list[str] = []            # sub mode: this slot's sys.path
