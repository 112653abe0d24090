"""`vhctl status`: what is installed and what the hub-side components last reported, without the hub.

It reads the config, looks at the hub venv, the rendered scripts and the keyring (only whether a
token exists, never its value) and the status files the components write (``vhctl_hub.status``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Dict, Iterable, List

import typer
from vhctl_hub import secrets as vault
from vhctl_hub.statedir import fallback_state_dir
from vhctl_hub.status import STALE_AFTER, read_status, scrub

from vhctl import configfile
from vhctl.cli import state
from vhctl.output import emit
from vhctl.scripts import SCRIPTS

HELP = """Show the hub venv, the rendered scripts, the API token's presence and each component's state.

A component's state comes from the status file it writes every few seconds while the hub calls
its script; a status older than 15 s means the hub no longer calls it (unloaded, or the hub is
stopped). Tokens are never shown, only whether one is stored. Exit code 0 in every case.

Examples:

  vhctl status

  vhctl status --json | jq '.components.api.port'
"""


def register(app: typer.Typer) -> None:
    @app.command("status", help=HELP)
    def status_command(as_json: bool = typer.Option(False, "--json", help="print the result as JSON")) -> None:
        emit(collect(state.config_path), as_json, _human)


def collect(config_path: Path) -> Dict[str, Any]:
    """Everything `vhctl status` reports, as plain data."""
    settings = configfile.read(config_path)
    hub = settings.hub
    venv = Path(hub.venv) if hub.venv else None
    scripts_dir = Path(hub.scripts_dir) if hub.scripts_dir else None
    state_dir = Path(hub.state_dir) if hub.state_dir else fallback_state_dir()
    return {
        "config": str(config_path),
        "config_exists": config_path.exists(),
        "venv": {"path": hub.venv or None, "python": hub.python or None,
                 "present": bool(venv and (venv / "pyvenv.cfg").exists()),
                 "site_packages": hub.site_packages or None},
        "plugin": {"path": hub.plugin or None, "mode": hub.plugin_mode},
        "scripts": {name: {"path": str(scripts_dir / name) if scripts_dir else None,
                           "present": bool(scripts_dir and (scripts_dir / name).exists())}
                    for name in SCRIPTS},
        "token": _token_state(),
        "state_dir": str(state_dir),
        "components": {name: _component(state_dir, name) for name in SCRIPTS.values()},
    }


def _token_state() -> Dict[str, Any]:
    try:
        return {"stored": vault.read_token() is not None, "problem": None}
    except vault.KeyringUnavailable as exc:
        return {"stored": False, "problem": str(exc)}


def _component(state_dir: Path, name: str) -> Dict[str, Any]:
    raw = read_status(state_dir, name)
    if raw is None:
        return {"state": "never run", "stale": None}
    report = scrub(raw)
    age = time.time() - float(report.get("updated_at") or 0)
    report["age_s"] = round(age, 1)
    report["stale"] = age > STALE_AFTER
    return report


def _human(data: Dict[str, Any]) -> Iterable[str]:
    yield f"config:  {data['config']}" + ("" if data["config_exists"] else " (not created yet: defaults)")
    venv = data["venv"]
    if venv["path"]:
        yield f"venv:    {venv['path']} (Python {venv['python']})" + ("" if venv["present"] else " MISSING: run vhctl install")
    else:
        yield "venv:    not installed: run vhctl install"
    yield f"plugin:  {data['plugin']['path'] or 'unknown'} (mode: {data['plugin']['mode']})"
    for name, script in data["scripts"].items():
        where = script["path"] or "not rendered: run vhctl render"
        yield f"script:  {name}: {where}" + ("" if script["present"] or not script["path"] else " (missing)")
    token = data["token"]
    yield "token:   " + ("stored in the keyring" if token["stored"] else
                         f"unavailable: {token['problem']}" if token["problem"] else "none: run vhctl token")
    for name, report in data["components"].items():
        yield _component_line(name, report)


def _component_line(name: str, report: Dict[str, Any]) -> str:
    if report["stale"] is None:
        return f"{name}:     never run (no status in the state folder)"
    parts: List[str] = [str(report.get("state", "?"))]
    if report.get("port"):
        parts.append(f"port {report['port']}")
    if report["stale"]:
        parts.append(f"no report for {report['age_s']:.0f} s: the hub no longer calls the script")
    lag = report.get("lag") or {}
    if lag.get("queue_len"):
        parts.append(f"{lag['queue_len']} queued")
    if report.get("last_error"):
        parts.append(f"last error: {report['last_error']}")
    return f"{name}:     " + ", ".join(parts)
