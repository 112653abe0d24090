"""`vhctl status`: what is installed, and whether the hub-side components are really alive.

It reads the config, looks at the hub venv, the rendered scripts, the keyring (only whether a token
exists, never its value) and the status files the components write (``vhctl_hub.status``). A status
file alone proves nothing once the hub is gone (SIGTERM calls no hook, so nothing removes it): the
process it names must still exist and be the same process (started before the component), the
file must be fresh, and the API's port must answer. The running API is then asked over HTTP for
its health and stats, with short timeouts so that a hung hub cannot hang a cron job.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import time
from pathlib import Path
from typing import Annotated, Any, Dict, Iterable, List, Optional

import typer
from vhctl_hub import secrets as vault
from vhctl_hub.status import STALE_AFTER, read_status, scrub

from vhctl import configfile
from vhctl.cli import state
from vhctl.errors import VhctlError
from vhctl.hubvenv import hub_state_dir
from vhctl.output import emit
from vhctl.scripts import SCRIPTS

HELP = """Show the hub venv, the scripts, the tokens' presence and whether each component runs.

A component counts as running only when the hub process it names is alive, its status file is
fresh (the hub calls its script every few seconds) and, for the API, its port answers; the API's
/health and /api/stats are then read over HTTP. Tokens are never shown, only whether one is set.

Exit code: 0 all well, 1 degraded (running, with a problem), 2 down (nothing answers, or a
component is dead). With --json the output is always one JSON document, errors included: usable
from Nagios, systemd timers and cron.

Examples:

  vhctl status
  vhctl status --json | jq '.components.api.port'
  vhctl status --json --timeout 1 || echo "hub API needs attention"
"""

OK, DEGRADED, DOWN = 0, 1, 2
HEALTH_WORDS = {OK: "ok", DEGRADED: "degraded", DOWN: "down"}


def register(app: typer.Typer) -> None:
    @app.command("status", help=HELP)
    def status_command(
        as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
        timeout: Annotated[float, typer.Option(
            "--timeout", min=0.1, max=30.0, metavar="SECONDS",
            help="longest wait for each network check")] = 2.0,
    ) -> None:
        try:
            data = collect(state.config_path, timeout)
        except VhctlError as exc:
            if not as_json:
                raise
            data = {"health": HEALTH_WORDS[DOWN], "exit_code": DOWN, "error": str(exc)}
        emit(data, as_json, _human)
        raise typer.Exit(data["exit_code"])


def collect(config_path: Path, timeout: float = 2.0) -> Dict[str, Any]:
    """Everything `vhctl status` reports, as plain data, with the overall health and exit code."""
    settings = configfile.read(config_path)
    hub = settings.hub
    venv = Path(hub.venv) if hub.venv else None
    scripts_dir = Path(hub.scripts_dir) if hub.scripts_dir else None
    state_dir = hub_state_dir(settings)
    components = {name: _component(state_dir, name, settings.api.host, timeout) for name in SCRIPTS.values()}
    loaded = [c["health"] for c in components.values() if c["health"] != "not loaded"]
    code = max((_code(word) for word in loaded), default=DOWN)
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
        "token": _token_state(settings),
        "state_dir": str(state_dir),
        "components": components,
        "health": HEALTH_WORDS[code],
        "exit_code": code,
        "hint": None if loaded else _start_hint(scripts_dir),
    }


def _code(word: str) -> int:
    return next(code for code, name in HEALTH_WORDS.items() if name == word)


def _start_hint(scripts_dir: Optional[Path]) -> str:
    script = str(scripts_dir / "hub_api.py") if scripts_dir else "/path/to/hub_api.py"
    return (f"nothing is running: start the hub, then in hub chat as an admin: !pyload {script} "
            "(run `vhctl render` first if the scripts are missing); to try it without a hub: vhctl demo")


def _token_state(settings: Any) -> Dict[str, Any]:
    from vhctl.commands.token import use_hub_keyring

    use_hub_keyring(settings)
    try:
        return {"stored": vault.read_token() is not None, "problem": None}
    except vault.KeyringUnavailable as exc:
        return {"stored": False, "problem": str(exc)}


# -- one component ---------------------------------------------------------------------------------


def _component(state_dir: Path, name: str, host: str, timeout: float) -> Dict[str, Any]:
    raw = read_status(state_dir, name)
    if raw is None:
        return {"state": "never run", "health": "not loaded", "stale": None, "problems": []}
    report = scrub(raw)
    age = time.time() - float(report.get("updated_at") or 0)
    report["age_s"] = round(age, 1)
    report["stale"] = age > STALE_AFTER
    problems: List[str] = []
    down = False
    pid = report.get("pid")
    alive = process_alive(pid, report.get("started_at")) if isinstance(pid, int) else None
    report["process_alive"] = alive
    if report.get("state") == "stopped":
        # A clean stop (!quit, !pyunload, a reload's hand-over) was recorded by the component
        # itself: its reason is the news, whatever the age of the file or the process.
        down = True
        problems.append(f"stopped: {report.get('stop_reason') or 'no reason recorded'}")
    elif alive is False:
        down = True
        problems.append(f"the hub process (pid {pid}) is gone; its last status is from {age:.0f} s ago")
    elif report["stale"]:
        down = True
        problems.append(f"no report for {age:.0f} s: the hub no longer calls the script")
    elif report.get("state") != "running":
        down = True
        problems.append(f"it reports {report.get('state', 'nothing')}")
    if not down and name == "api" and report.get("port"):
        http = _probe_api(host, int(report["port"]), timeout)
        report["http"] = http
        if http.get("error"):
            down = True
            problems.append(http["error"])
        elif http.get("health", {}).get("status") != "healthy":
            problems.append(f"the API says {http.get('health', {}).get('status', 'nothing')}")
        if http.get("token_problem"):
            problems.append(http["token_problem"])
    if down:
        report["running"] = False
    if report.get("last_error") and not down:
        problems.append(f"last error: {report['last_error']}")
    report["problems"] = problems
    report["health"] = HEALTH_WORDS[DOWN if down else DEGRADED if problems else OK]
    return report


def process_alive(pid: int, started_at: Any) -> bool:
    """Whether ``pid`` is a live process that existed when the component started (a PID reused by
    a later process, or a zombie, is not the hub)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, another user's (the hub's service user)
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
    except (OSError, IndexError, StopIteration, ValueError):
        return True  # no /proc to ask: the kill(0) answer stands
    if fields[0] == "Z":
        return False
    started = boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    return not isinstance(started_at, (int, float)) or started <= float(started_at) + 2.0


#: How long `status` waits for the API to take up a token it refused: the API re-reads the keyring
#: about a second after it refuses one, so a status right after `vhctl token generate` or `rotate`
#: sees the new token instead of reporting a failure.
TOKEN_PICKUP_SECONDS = 5.0


def _probe_api(host: str, port: int, timeout: float) -> Dict[str, Any]:
    """The API's port, /health and /api/stats (with the token when there is one)."""
    address = "127.0.0.1" if host in ("0.0.0.0", "") else "::1" if host == "::" else host
    try:
        socket.create_connection((address, port), timeout=timeout).close()
    except OSError as exc:
        return {"error": f"port {port} on {address} does not answer ({exc.strerror or exc})"}
    result: Dict[str, Any] = {"url": f"http://{address}:{port}"}
    try:
        token = vault.read_token()
    except vault.KeyringUnavailable:
        token = None
    for key, path in (("health", "/health"), ("stats", "/api/stats")):
        try:
            result[key] = (_get_json(address, port, path, None, timeout) if key == "health"
                           else _stats(address, port, token, timeout, result))
        except (OSError, ValueError, http.client.HTTPException) as exc:
            return {**result, "error": f"GET {path} failed: {exc}"}
    return result


def _stats(address: str, port: int, token: Optional[str], timeout: float, result: Dict[str, Any]) -> Any:
    """/api/stats with the stored token; when the API refuses it (just created or rotated, or the
    hub uses another keyring), wait a little for the API to take it up, then fall back to the
    public view and say so in ``result["token_problem"]``."""
    deadline = time.monotonic() + TOKEN_PICKUP_SECONDS
    while True:
        try:
            return _get_json(address, port, "/api/stats", token, timeout)
        except HttpRefused as exc:
            if exc.status != 401 or not token:
                raise
            if time.monotonic() >= deadline:
                break
            time.sleep(0.25)
    result["token_problem"] = ("the API refuses the token in the keyring; if this lasts, the hub "
                               "reads another keyring (run vhctl as the hub user)")
    return _get_json(address, port, "/api/stats", None, timeout)


class HttpRefused(ValueError):
    """An answer other than 200."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


def _get_json(host: str, port: int, path: str, token: Optional[str], timeout: float) -> Any:
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise HttpRefused(response.status)
        return json.loads(body)
    finally:
        connection.close()


# -- for people ------------------------------------------------------------------------------------


def _human(data: Dict[str, Any]) -> Iterable[str]:
    if "error" in data:
        yield f"status:  down: {data['error']}"
        return
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
                         f"unavailable: {token['problem']}" if token["problem"] else "none: run vhctl token generate")
    for name, report in data["components"].items():
        yield _component_line(name, report)
    yield f"health:  {data['health']}"
    if data["hint"]:
        yield f"hint:    {data['hint']}"


def _component_line(name: str, report: Dict[str, Any]) -> str:
    label = f"{name}:".ljust(9)
    if report["stale"] is None:
        return f"{label}never run (no status in the state folder)"
    stopped = report.get("state") == "stopped"
    parts: List[str] = [report["health"], str(report.get("state", "?")) if report["health"] != "down" or stopped
                        else "not running"]
    if report.get("port") and not stopped:
        parts.append(f"port {report['port']}")
    stats = (report.get("http") or {}).get("stats") or {}
    if "users_online" in stats:
        count = stats["users_online"]
        parts.append(f"{count} user{'' if count == 1 else 's'} online")
    for key, value in sorted(report.items()):
        if key.endswith("_state") and value:
            parts.append(f"{key[:-6]} {value}")
    parts.extend(report["problems"])
    return label + ", ".join(parts)
