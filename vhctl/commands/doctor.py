"""`vhctl doctor`: every check of ``vhctl.doctor``, one line each with its fix."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Dict, Iterable, Optional

import typer

from vhctl import doctor
from vhctl.state import state
from vhctl.output import emit
from vhctl.options import JsonOption, TimeoutOption

HELP = """Check the installation: Python versions, plugin mode, venv imports, scripts, keyring,
config, the API's port and Matterbridge; one line per check with what to do about it.

Matterbridge is asked for its health with the Matterbridge token. Given Matterbridge's own config
(--matterbridge-toml), the doctor also checks that it has our account where bridge.url points,
with our token, and an enabled gateway named like bridge.gateway that holds that account.

Exit code: 0 when no check failed (warnings allowed), 1 otherwise. Tokens are never shown.

Examples:

  vhctl doctor
  vhctl doctor --matterbridge-toml /etc/matterbridge/matterbridge.toml
  vhctl doctor --json | jq '.checks[] | select(.status != "ok")'
"""


def register(app: typer.Typer) -> None:
    @app.command("doctor", help=HELP)
    def doctor_command(
        as_json: JsonOption = False,
        timeout: TimeoutOption = 2.0,
        matterbridge_toml: Annotated[Optional[Path], typer.Option(
            "--matterbridge-toml", metavar="PATH",
            help="Matterbridge's config, to compare its account and gateway with ours")] = None,
    ) -> None:
        data = doctor.run_all(state.config_path, timeout, matterbridge_toml)
        emit(data, as_json, _human)
        raise typer.Exit(data["exit_code"])


def _human(data: Dict[str, Any]) -> Iterable[str]:
    for check in data["checks"]:
        line = f"{check['status']:<4}  {check['name']}: {check['message']}"
        yield line + (f" -> {check['fix']}" if check["fix"] else "")
