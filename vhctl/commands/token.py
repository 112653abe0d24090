"""`vhctl token`: create, rotate or locate the REST API's bearer token (kept in the keyring)."""

from __future__ import annotations

import sys
from typing import Any, Iterable

import typer

from vhctl.errors import VhctlError
from vhctl.output import emit
from vhctl_hub import secrets as vault

HELP = f"""Create, rotate or locate the REST API token.

Requests with 'Authorization: Bearer <token>' see the private fields (ip, host, email) and the
token-only endpoints; everyone else gets public data. The token lives in the keyring of the user who
runs this command (service "{vault.SERVICE}", user "{vault.USERNAME}"), never in a file vhctl writes:
run it as the user the hub runs as, so the hub finds it. A running API picks up a new token within
a few seconds.

A new token is printed ONCE, alone on stdout, and only when stdout is a terminal or with --print
(so it does not end up in logs by accident). An existing token is never printed: --rotate replaces it
(clients using the old one then get 401).

Examples:

  vhctl token                      # create a token if there is none (shown once)

  vhctl token --rotate             # replace the token

  TOKEN=$(vhctl token --rotate --print)

  vhctl token --show-path          # where the keyring keeps it

  curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/api/users
"""


def register(app: typer.Typer) -> None:
    @app.command("token", help=HELP)
    def token_command(
        rotate: bool = typer.Option(False, "--rotate", help="replace the token with a new one"),
        show_path: bool = typer.Option(False, "--show-path",
                                       help="print where the keyring keeps the token and change nothing"),
        print_token: bool = typer.Option(False, "--print",
                                         help="print a new token even when stdout is not a terminal"),
        as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
    ) -> None:
        if show_path:
            where = locate()
            if not as_json and not where["token_set"]:
                typer.echo("vhctl: no API token is set yet; create one with `vhctl token`", err=True)
            emit(where, as_json, lambda r: [r["path"] or r["backend"]])
            return
        result = ensure_token(rotate=rotate, reveal=print_token or sys.stdout.isatty())
        if not as_json:
            typer.echo(_explain(result), err=True)
        emit(result, as_json, _human)


def _backend() -> Any:
    try:
        return vault.backend()
    except vault.KeyringUnavailable as exc:
        raise VhctlError(f"cannot use the keyring: {exc}") from None


def locate() -> dict[str, Any]:
    """Where the token is kept, and whether one is set (never the token)."""
    chosen = _backend()
    try:
        is_set = vault.read_token() is not None
    except vault.KeyringUnavailable as exc:
        raise VhctlError(f"cannot use the keyring: {exc}") from None
    return {"backend": vault.backend_name(chosen), "path": vault.storage_path(chosen),
            "service": vault.SERVICE, "username": vault.USERNAME, "token_set": is_set}


def ensure_token(rotate: bool, reveal: bool) -> dict[str, Any]:
    """Create the token if missing (or replace it with ``rotate``); the token is in the result only
    when it is new and ``reveal`` is true."""
    result = locate()
    if result["token_set"] and not rotate:
        return {**result, "status": "exists", "shown": False}
    token = vault.new_token()
    try:
        vault.store_token(token)
    except vault.KeyringUnavailable as exc:
        raise VhctlError(f"cannot store the token: {exc}") from None
    status = "rotated" if result["token_set"] else "created"
    out = {**result, "token_set": True, "status": status, "shown": reveal}
    if reveal:
        out["token"] = token
    return out


def _where(result: dict[str, Any]) -> str:
    return f"{result['backend']}" + (f" ({result['path']})" if result["path"] else "")


def _explain(result: dict[str, Any]) -> str:
    """The message for people, on stderr (stdout carries only the token)."""
    where = _where(result)
    if result["status"] == "exists":
        return f"An API token is already set in {where}; --rotate replaces it."
    verb = "Replaced the" if result["status"] == "rotated" else "Created an"
    if result["shown"]:
        return f"{verb} API token in {where}. It is shown once, below; keep it somewhere safe."
    return (f"{verb} API token in {where}. It is not shown because stdout is not a terminal; "
            "run `vhctl token --rotate --print` to make a new one and see it.")


def _human(result: dict[str, Any]) -> Iterable[str]:
    if result.get("token"):
        yield result["token"]
