"""`vhctl token`: the REST API token and the Matterbridge token, kept in the keyring the hub uses.

Every action runs as the hub's user (the owner of its state folder): the keyring is that user's, so a
token stored by anyone else would never reach the hub. The keyring is the one `vhctl install` chose
for the hub venv the config names (``vhctl_hub.secrets.use_venv``), never one found by discovery.
"""

from __future__ import annotations

import getpass
import sys
from enum import Enum
from typing import Annotated, Any, Dict, Iterable

import typer
from vhctl_hub import secrets as vault

from vhctl import configfile
from vhctl.hubkeyring import select_hub_keyring
from vhctl.state import state
from vhctl.errors import VhctlError
from vhctl.output import emit
from vhctl.options import JsonOption

HELP = """Create, replace, show or delete the API token and the Matterbridge token.

The API token: requests with 'Authorization: Bearer <token>' see private fields (ip, host, email)
and the token-only endpoints. The Matterbridge token: what matterbridge.toml's [api] section names
as Token, so that only the bridge talks to Matterbridge's API.

Both live in the keyring `vhctl install` chose for the hub (never in a file vhctl renders). Run
these commands as the user the hub runs as. A running hub picks up a change within seconds.

A new token is printed once, alone on stdout, also when stdout is not a terminal.

Examples:

  vhctl token generate              # the API token, if there is none yet

  vhctl token rotate matterbridge   # replace the Matterbridge token

  vhctl token show --reveal         # print the API token

  TOKEN=$(vhctl token rotate)

  curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/api/users
"""


class Secret(str, Enum):
    api = "api"
    matterbridge = "matterbridge"


LABELS = {"api": "API token", "matterbridge": "Matterbridge token"}
#: Longest token `set` accepts, characters.
MAX_TOKEN = 512
NameArg = Annotated[Secret, typer.Argument(help="which token: api or matterbridge")]


def register(app: typer.Typer) -> None:
    group = typer.Typer(help=HELP, no_args_is_help=True, add_completion=False, rich_markup_mode=None)

    @group.command("generate", help="Create the token if there is none (an existing one is kept).")
    def generate_command(name: NameArg = Secret.api, as_json: JsonOption = False) -> None:
        _report(new_token(name.value, replace=False), as_json)

    @group.command("rotate", help="Replace the token with a new one (clients of the old one get 401).")
    def rotate_command(name: NameArg = Secret.api, as_json: JsonOption = False) -> None:
        _report(new_token(name.value, replace=True), as_json)

    @group.command("set", help="Store a token you have (read from stdin, or typed twice at a prompt).")
    def set_command(name: NameArg = Secret.api, as_json: JsonOption = False) -> None:
        _report(set_token(name.value, _read_value(name.value)), as_json)

    @group.command("show", help="Say whether the token is set and where (masked unless --reveal).")
    def show_command(name: NameArg = Secret.api,
                     reveal: Annotated[bool, typer.Option("--reveal", help="print the whole token")] = False,
                     as_json: JsonOption = False) -> None:
        _report(show(name.value, reveal), as_json)

    @group.command("delete", help="Remove the token (the API then serves public data only).")
    def delete_command(name: NameArg = Secret.api, as_json: JsonOption = False) -> None:
        _report(delete(name.value), as_json)

    app.add_typer(group, name="token", help=HELP)


# -- the actions (plain functions; the typer commands above only print their results) -------------


def locate(name: str) -> Dict[str, Any]:
    """Where the token ``name`` is kept and whether it is set (never the token)."""
    _select_keyring()
    chosen = _call(vault.backend)
    is_set = _call(vault.read_secret, name) is not None
    return {"name": name, "backend": vault.backend_name(chosen), "path": vault.storage_path(chosen),
            "service": vault.SERVICE, "username": vault.NAMES[name], "token_set": is_set}


def new_token(name: str, replace: bool) -> Dict[str, Any]:
    """Generate a token (``replace``: even if one is set); the result holds it only when it is new."""
    where = locate(name)
    if where["token_set"] and not replace:
        return {**where, "status": "exists"}
    token = vault.new_token()
    _call(vault.store_secret, name, token)
    return {**where, "token_set": True, "status": "rotated" if where["token_set"] else "created",
            "token": token}


def set_token(name: str, value: str) -> Dict[str, Any]:
    """Store ``value`` as the token ``name``."""
    where = locate(name)
    _call(vault.store_secret, name, value)
    return {**where, "token_set": True, "status": "replaced" if where["token_set"] else "stored"}


def show(name: str, reveal: bool) -> Dict[str, Any]:
    where = locate(name)
    token = _call(vault.read_secret, name)
    out = {**where, "status": "shown"}
    if token is not None:
        out["masked"] = vault.mask(token)
        if reveal:
            out["token"] = token
    return out


def delete(name: str) -> Dict[str, Any]:
    where = locate(name)
    removed = _call(vault.delete_secret, name)
    return {**where, "token_set": False, "status": "deleted" if removed else "absent"}


# -- helpers --------------------------------------------------------------------------------------


def _select_keyring() -> None:
    select_hub_keyring(configfile.read(state.config_path), "token ...")


def _call(function: Any, *args: Any) -> Any:
    try:
        return function(*args)
    except vault.KeyringUnavailable as exc:
        raise VhctlError(f"cannot use the keyring: {exc}") from None


def _read_value(name: str) -> str:
    """The token for `set`: typed twice at a terminal (not echoed), else one line of stdin. Never
    an argument: arguments show in `ps` and in the shell's history."""
    label = LABELS[name]
    if sys.stdin.isatty():
        value = getpass.getpass(f"{label}: ")
        if getpass.getpass(f"{label} again: ") != value:
            raise VhctlError("the two entries differ; nothing was stored")
    else:
        value = sys.stdin.readline().rstrip("\r\n")
    if not value or len(value) > MAX_TOKEN or any(ch.isspace() or not ch.isprintable() for ch in value):
        raise VhctlError(f"a token must be 1 to {MAX_TOKEN} printable characters without spaces; "
                         "nothing was stored")
    return value


def _where(result: Dict[str, Any]) -> str:
    return result["backend"] + (f" ({result['path']})" if result["path"] else "")


def _explain(result: Dict[str, Any]) -> str:
    """The line for people, on stderr (stdout carries only a token)."""
    label, where, status = LABELS[result["name"]], _where(result), result["status"]
    if status == "exists":
        return f"The {label} is already set in {where}; `vhctl token rotate {result['name']}` replaces it."
    if status in ("created", "rotated"):
        verb = "Created the" if status == "created" else "Replaced the"
        return (f"{verb} {label} in {where}. It is printed once, below, and not shown again "
                f"(unless asked for with `vhctl token show {result['name']} --reveal`).")
    if status in ("stored", "replaced"):
        return f"Stored the {label} in {where}."
    if status == "deleted":
        return f"Deleted the {label} from {where}."
    if status == "absent":
        return f"No {label} was set in {where}; nothing changed."
    if not result["token_set"]:
        return f"No {label} is set in {where}; create one with `vhctl token generate {result['name']}`."
    return f"The {label} is set in {where}."


def _report(result: Dict[str, Any], as_json: bool) -> None:
    if not as_json:
        typer.echo(_explain(result), err=True)
    emit(result, as_json, _human)


def _human(result: Dict[str, Any]) -> Iterable[str]:
    if result.get("token"):
        yield result["token"]
    elif result.get("masked"):
        yield result["masked"]

