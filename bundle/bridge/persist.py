"""Settings changed from chat, written back into the config file vhctl reads (comments kept).

tomlkit round-trips the user's comments and layout (as ``vhctl configure`` does); the whole result
is validated with the one settings model before the file is replaced atomically, and only a regular
file is ever replaced. Runs on a component thread (it reads, writes and fsyncs a file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vhctl_hub.config import ConfigError, settings_from_dict
from vhctl_hub.files import atomic_write


def save_setting(path: Path, key: str, value: Any) -> None:
    """Set ``section.name`` in the TOML file; ConfigError (one line) when it cannot be done."""
    import tomlkit  # only when an operator changes a setting

    path = Path(path)
    if path.exists() and not path.is_file():
        raise ConfigError(f"{path} is not a regular file")
    try:
        doc = tomlkit.parse(path.read_text(encoding="utf-8")) if path.exists() else tomlkit.document()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    except tomlkit.exceptions.TOMLKitError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    section, _, name = key.partition(".")
    table = doc.get(section)
    if table is None:
        table = tomlkit.table()
        doc[section] = table
    table[name] = value
    text = tomlkit.dumps(doc)
    settings_from_dict(tomlkit.parse(text).unwrap(), origin=str(path))
    try:
        atomic_write(path, text)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write ({exc.strerror or exc})") from None
