"""`vhctl matterbridge-toml`: the matterbridge.toml part that lets the hub's bridge in.

The Token is the Matterbridge token from the hub's keyring. In a file it is written as is (the one
place it must appear: Matterbridge reads it there); on stdout a placeholder stands in its place
unless ``--reveal`` asks for it. A file needs a token: without one the command says how to make it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Iterable, Optional

import typer
from vhctl_hub import secrets as vault
from vhctl_hub.config import Settings

from vhctl import configfile, mbconfig
from vhctl.state import state
from vhctl.hubkeyring import select_hub_keyring
from vhctl.errors import VhctlError
from vhctl.files import write_with_backup
from vhctl.output import emit

HELP = """Print or write the matterbridge.toml part for the hub's bridge.

It holds our api account (listening where bridge.url points, with the Matterbridge token) and a
gateway named like bridge.gateway with that account in it, plus commented examples for IRC,
Matrix and Discord. Matterbridge reads the token from this file, so a written file gets the real
token (a new file is made readable by its owner only); on the screen a placeholder stands in its
place unless you add --reveal. Make the token first with: vhctl token generate matterbridge
The token is in the hub user's keyring: run this as the user the hub runs as.

--merge adds the part to your existing matterbridge.toml and keeps everything else as you wrote
it; the old file is kept as matterbridge.toml.bak. If the file already has our account or our
gateway, nothing is written unless you add --force.
--output does not replace an existing file unless you add --force.

Examples:

  vhctl matterbridge-toml                       # look at it (token hidden)

  vhctl matterbridge-toml --output /etc/matterbridge/matterbridge.toml

  vhctl matterbridge-toml --merge /etc/matterbridge/matterbridge.toml
"""

TOKEN_MISSING = ("no Matterbridge token is set; create it first with: vhctl token generate "
                 "matterbridge")
#: Mode of a new matterbridge.toml: it holds a token.
NEW_FILE_MODE = 0o600


def register(app: typer.Typer) -> None:
    @app.command("matterbridge-toml", help=HELP)
    def matterbridge_toml_command(
        output: Annotated[Optional[Path], typer.Option(
            "--output", "-o", metavar="PATH", help="write a new file")] = None,
        merge: Annotated[Optional[Path], typer.Option(
            "--merge", metavar="PATH", help="add the part to this existing matterbridge.toml")] = None,
        force: Annotated[bool, typer.Option(
            "--force", help="--merge: replace our account and gateway if the file has them; "
            "--output: replace an existing file (backed up)")] = False,
        reveal: Annotated[bool, typer.Option(
            "--reveal", help="on stdout: print the real token instead of a placeholder")] = False,
        as_json: Annotated[bool, typer.Option(
            "--json", help="with --output/--merge: print the result as JSON")] = False,
    ) -> None:
        if output is not None and merge is not None:
            raise VhctlError("use either --output or --merge, not both")
        settings = configfile.read(state.config_path)
        if output is None and merge is None:
            sys.stdout.write(to_stdout(settings, reveal))
            return
        if merge is not None:
            result = merge_into(settings, merge, force)
        else:
            result = write_new(settings, output, force)  # type: ignore[arg-type]
        emit(result, as_json, _human)


def to_stdout(settings: Settings, reveal: bool) -> str:
    """The snippet for the screen: the placeholder as Token unless ``reveal``."""
    if not reveal:
        print("vhctl: the Token line is a placeholder; write the file with --output/--merge, or "
              "print the token with: vhctl token show matterbridge --reveal", file=sys.stderr)
        return mbconfig.snippet(settings, mbconfig.PLACEHOLDER)
    return mbconfig.snippet(settings, _token(settings))


def write_new(settings: Settings, path: Path, force: bool) -> dict[str, Any]:
    """Write the snippet alone to ``path``; an existing file (the user's own config) only with
    ``force``, backed up."""
    path = Path(path).expanduser()
    _folder_exists(path)
    if path.is_file() and not force:
        raise VhctlError(f"{path} exists; add to it with --merge {path}, or replace it with --force "
                         "(it is backed up first)")
    backup = write_with_backup(path, mbconfig.snippet(settings, _token(settings)), mode=_mode(path))
    return _result(path, backup, "written")


def merge_into(settings: Settings, path: Path, force: bool) -> dict[str, Any]:
    """Add the snippet to the existing matterbridge.toml ``path``."""
    path = Path(path).expanduser()
    if not path.exists():
        raise VhctlError(f"{path} does not exist; to make a new file use --output {path}")
    if not path.is_file():
        raise VhctlError(f"{path} is not a regular file: vhctl only ever replaces a regular file; "
                         "choose another path")
    try:
        existing = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise VhctlError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    replaced = mbconfig.conflicts(existing, settings) if force else []
    merged = mbconfig.merge(existing, settings, _token(settings), force, str(path))
    backup = write_with_backup(path, merged)
    return {**_result(path, backup, "merged"), "replaced": replaced}


def _token(settings: Settings) -> str:
    """The Matterbridge token from the hub's keyring: only the hub's user has it."""
    select_hub_keyring(settings, "matterbridge-toml ...")
    try:
        token = vault.read_secret("matterbridge")
    except vault.KeyringUnavailable as exc:
        raise VhctlError(f"cannot use the keyring: {exc}") from None
    if token is None:
        raise VhctlError(TOKEN_MISSING)
    return token


def _folder_exists(path: Path) -> None:
    if not path.parent.is_dir():
        raise VhctlError(f"the folder {path.parent} does not exist; create it first or choose another path")


def _mode(path: Path) -> Optional[int]:
    """A new file is private; an existing one keeps its mode."""
    return None if path.exists() else NEW_FILE_MODE


def _result(path: Path, backup: Optional[Path], status: str) -> dict[str, Any]:
    return {"path": str(path), "status": status, "backup": str(backup) if backup else None}


def _human(result: dict[str, Any]) -> Iterable[str]:
    yield f"{result['status']}: {result['path']}"
    if result.get("replaced"):
        yield f"replaced: {', '.join(result['replaced'])}"
    if result["backup"]:
        yield f"previous content kept in {result['backup']}"
    yield "restart Matterbridge to use it"
