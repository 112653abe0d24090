"""Reading and changing the TOML config file without losing the user's comments or layout.

The model and its checks are ``vhctl_hub.config``; this module only edits the file (with tomlkit,
which round-trips comments), validates the whole result before writing, and writes atomically with
a backup. A rejected change leaves the file untouched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import tomlkit
from vhctl_hub.config import ConfigError, Settings, load_settings, settings_from_dict
from vhctl_hub.files import NotARegularFile, existing_regular, write_target

from vhctl.errors import VhctlError
from vhctl.files import write_with_backup

HEADER = (
    "vhctl settings (one model for the CLI and the hub scripts). Tokens are never stored here:\n"
    "they live in the keyring (`vhctl token`). Edit by hand or with `vhctl configure`."
)


def read(path: Path) -> Settings:
    """Load and validate; a problem becomes a one-line VhctlError. Only a regular file (or a symlink
    to one) is read: a FIFO would block and a device is no config."""
    try:
        existing_regular(write_target(path))
    except NotARegularFile as exc:
        raise VhctlError(f"{exc}: a config file must be a regular file; choose another --config") from None
    try:
        return load_settings(path)
    except ConfigError as exc:
        raise VhctlError(str(exc)) from None


def update(path: Path, changes: Mapping[str, Any]) -> Settings:
    """Set ``{"section.name": value}`` in the file, validating the result first; returns it."""
    current = read(path)
    try:
        for key, value in changes.items():
            current = current.replace(key, value)
    except ConfigError as exc:
        raise VhctlError(f"{path}: {exc}") from None
    doc = tomlkit.parse(path.read_text(encoding="utf-8")) if path.exists() else _new_document()
    for key, value in changes.items():
        section, _, name = key.partition(".")
        table = doc.get(section)
        if table is None:
            table = tomlkit.table()
            doc[section] = table
        table[name] = list(value) if isinstance(value, tuple) else value
    text = tomlkit.dumps(doc)
    try:
        settings_from_dict(tomlkit.parse(text).unwrap(), origin=str(path))
    except ConfigError as exc:  # pragma: no cover - the model check above already passed
        raise VhctlError(str(exc)) from None
    write_with_backup(path, text)
    return current


def _new_document() -> tomlkit.TOMLDocument:
    doc = tomlkit.document()
    for line in HEADER.splitlines():
        doc.add(tomlkit.comment(line))
    return doc
