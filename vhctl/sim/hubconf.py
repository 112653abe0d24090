"""The hub's config variables (``config`` in the hub DB) and the free key/value SetupList.

Values are kept as strings, the way ``vh.GetConfig`` returns them (A5: ``max_users`` is ``'6000'``),
each with the hub's item type, which OnSetConfig reports (A3: 12 for a string; the numbering is
Verlihub's ``tItemType``). Changes are persisted to ``<basedir>/sim-hub-db.json`` because the real
SetConfig writes to the DB and survives restarts (A13).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

# Verlihub's tItemType numbering.
T_BOOL, T_CHAR, T_INT, T_UINT, T_LONG, T_ULONG = 1, 2, 3, 4, 5, 6
T_LLONG, T_STRING, T_DOUBLE = 9, 12, 13
#: What OnSetConfig gets as the type of a variable the hub does not know (A3).
T_UNKNOWN = 4294967295

#: name -> (type, default). The ones the brief, the spec and the scripts touch; not all ~400.
DEFAULTS: dict[str, tuple[int, str]] = {
    "hub_name": (T_STRING, "Verlihub"),
    "hub_desc": (T_STRING, ""),
    "hub_topic": (T_STRING, ""),
    "hub_host": (T_STRING, ""),
    "hub_icon_url": (T_STRING, ""),
    "hub_logo_url": (T_STRING, ""),
    "hub_owner": (T_STRING, ""),
    "hub_category": (T_STRING, ""),
    "hub_security": (T_STRING, "Verlihub"),
    "hub_security_desc": (T_STRING, "Hub security"),
    "opchat_name": (T_STRING, "OpChat"),
    "opchat_desc": (T_STRING, "Operator chat"),
    "opchat_class": (T_INT, "3"),
    "oplist_class": (T_INT, "3"),
    "max_users": (T_INT, "6000"),
    "min_nick": (T_UINT, "1"),
    "max_nick": (T_UINT, "64"),
    "hub_encoding": (T_STRING, "CP1252"),
    "hub_version": (T_STRING, "1.7.0.0"),
    "cmd_start_op": (T_STRING, "+!/"),
    "cmd_start_user": (T_STRING, "+!/"),
    "plugin_mod_class": (T_INT, "5"),
    "int_chat_ms": (T_ULONG, "1000"),
    "delayed_chat": (T_BOOL, "0"),
    "drop_invalid_key": (T_BOOL, "0"),
    "send_user_info": (T_BOOL, "1"),
    "dns_lookup": (T_BOOL, "0"),
    "tban_kick": (T_ULONG, "300"),
    "unknown_cmd_chat": (T_BOOL, "0"),
    # Protocol-flood protection (A17). The real default redirect is an Internet host; here it is
    # empty (no $ForceMove) and only a loopback address is ever sent.
    "max_class_proto_flood": (T_INT, "2"),
    "proto_flood_chat_lim": (T_UINT, "5"),
    "proto_flood_chat_time": (T_UINT, "10"),
    "proto_flood_tban_time": (T_ULONG, "1800"),
    "redir_host0": (T_STRING, ""),
}

_INT_TYPES = {T_BOOL, T_INT, T_UINT, T_LONG, T_ULONG, T_LLONG}


class HubConfig:
    """The ``config`` variables plus the SetupList; strings in, strings out (hub-internal text)."""

    def __init__(self, db_path: Path, overrides: Optional[dict[str, str]] = None) -> None:
        self.db_path = db_path
        self._types = {name: t for name, (t, _v) in DEFAULTS.items()}
        self._values = {name: v for name, (_t, v) in DEFAULTS.items()}
        self._setup: dict[str, dict[str, str]] = {}
        self._load()
        for name, value in (overrides or {}).items():
            self._types.setdefault(name, T_STRING)
            self._values[name] = str(value)

    # --- hub variables -------------------------------------------------------------------------

    def __getitem__(self, name: str) -> str:
        return self._values[name]

    def get(self, name: str) -> Optional[str]:
        """The value as a string, "" when empty, None for an unknown variable."""
        return self._values.get(name)

    def number(self, name: str) -> int:
        """A numeric variable as an int (0 when unset or unreadable, like the hub's atoi)."""
        try:
            return int(float(self._values.get(name) or 0))
        except ValueError:
            return 0

    def type_of(self, name: str) -> int:
        return self._types.get(name, T_UNKNOWN)

    def convert(self, name: str, value: str) -> Optional[str]:
        """``value`` as the variable's type would store it, or None if it does not convert."""
        kind = self._types.get(name)
        if kind is None:
            return None
        if kind in _INT_TYPES:
            try:
                number = int(float(value.strip() or 0))
            except ValueError:
                return None
            return str(int(bool(number))) if kind == T_BOOL else str(number)
        if kind == T_DOUBLE:
            try:
                return repr(float(value))
            except ValueError:
                return None
        return value

    def store(self, name: str, value: str, persist: bool = True) -> None:
        self._values[name] = value
        if persist:
            self._save()

    # --- SetupList (any other "conf" name) -----------------------------------------------------

    def get_setup(self, conf: str, var: str) -> Optional[str]:
        return self._setup.get(conf, {}).get(var)

    def store_setup(self, conf: str, var: str, value: str) -> None:
        self._setup.setdefault(conf, {})[var] = value
        self._save()

    # --- persistence ---------------------------------------------------------------------------

    def _load(self) -> None:
        try:
            data = json.loads(self.db_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        for name, value in data.get("config", {}).items():
            if name in self._values:
                self._values[name] = value
        self._setup = {k: dict(v) for k, v in data.get("setup", {}).items()}

    def _save(self) -> None:
        changed = {n: v for n, v in self._values.items() if DEFAULTS.get(n, (0, None))[1] != v}
        data = {"config": changed, "setup": self._setup}
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.db_path.with_name(self.db_path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.db_path)
