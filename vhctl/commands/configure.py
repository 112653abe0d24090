"""`vhctl configure`: show or change settings in the config file (comments kept, backup made)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Dict, Iterable, List, Optional

import typer
from vhctl_hub.config import describe, known_keys

from vhctl import configfile
from vhctl.errors import VhctlError
from vhctl.output import emit
from vhctl.state import state

HELP = """Show the settings, or set some: KEY=VALUE with KEY one of `vhctl configure --keys`.

VALUE is read as TOML (8001, true, ["http://a.example"], "text"); a bare word that is not valid
TOML is taken as text. The whole result is checked before anything is written: a wrong value is
reported as one line and the file stays as it was. Comments in the file are kept; the previous
content is kept in one backup beside it (NAME.bak). Only a regular file is replaced (a symlink's
target is written), with its owner, group and mode. Tokens are never settings (`vhctl token`).

Examples:

  vhctl configure                      # show every setting
  vhctl configure api.port=8001
  vhctl configure api.cors_origins='["https://stats.example.org"]'
  vhctl configure hub.state_dir=/var/lib/vhctl --json
"""


def register(app: typer.Typer) -> None:
    @app.command("configure", help=HELP)
    def configure_command(
        assignments: Annotated[Optional[List[str]], typer.Argument(
            metavar="KEY=VALUE", help="settings to change", show_default=False)] = None,
        keys: Annotated[bool, typer.Option("--keys", help="list every key with what it means")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="print the settings as JSON")] = False,
    ) -> None:
        if keys:
            emit({key: describe(key) for key in known_keys()}, as_json,
                 lambda data: (f"{key:32} {text}" for key, text in data.items()))
            return
        emit(configure(state.config_path, assignments or []), as_json, _human)


def parse_assignment(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` -> (key, value), VALUE read as a TOML value or else as plain text."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or key not in known_keys():
        raise VhctlError(f"{text!r}: expected KEY=VALUE with KEY one of: {', '.join(known_keys())}")
    try:
        import tomllib
    except ImportError:  # pragma: no cover - Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        return key, tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return key, raw


def configure(config_path: Path, assignments: List[str]) -> Dict[str, Any]:
    """Apply the assignments (all or none); returns the resulting settings and the file's path."""
    changes = dict(parse_assignment(item) for item in assignments)
    settings = configfile.update(config_path, changes) if changes else configfile.read(config_path)
    return {"config": str(config_path), "changed": sorted(changes), "settings": settings.to_dict()}


def _human(result: Dict[str, Any]) -> Iterable[str]:
    yield f"# {result['config']}" + (f" (changed: {', '.join(result['changed'])})" if result["changed"] else "")
    for section, values in result["settings"].items():
        for name, value in values.items():
            yield f"{section}.{name} = {json.dumps(value, ensure_ascii=False)}"
