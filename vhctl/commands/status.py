"""`vhctl status`: what is installed, and whether the hub-side components are really alive.

It reads the config, looks at the hub venv, the rendered scripts, the keyring (only whether a token
exists, never its value) and the status files the components write (``vhctl_hub.status``). A status
file alone proves nothing once the hub is gone (SIGTERM calls no hook, so nothing removes it): the
process it names must still exist and be the same process (started before the component), the
file must be fresh, and the API's port must answer. The running API is then asked over HTTP for
its health and stats, with short timeouts so that a hung hub cannot hang a cron job. For the bridge,
its status file tells the link's state (each direction, transport, last error, next retry), the
queue and the counters; Matterbridge itself is asked for /api/health with the Matterbridge token
(Matterbridge guards that route with the token too, M9), so an unreachable Matterbridge, or one
that refuses our token, makes a loaded bridge degraded.
"""

from __future__ import annotations

import http.client
import os
import socket
import time
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

import typer
from vhctl_hub import secrets as vault
from vhctl_hub.status import STALE_AFTER, read_status, scrub

from vhctl import configfile
from vhctl.state import state
from vhctl.hubkeyring import use_hub_keyring
from vhctl.errors import VhctlError
from vhctl.hubvenv import hub_state_dir
from vhctl.output import emit
from vhctl.scripts import SCRIPTS
from vhctl.options import JsonOption, TimeoutOption
from vhctl.probes import HttpRefused, get_json, probe_matterbridge

HELP = """Show the hub venv, the scripts, the tokens' presence and whether each component runs.

A component counts as running only when the hub process it names is alive, its status file is
fresh (the hub calls its script every few seconds) and, for the API, its port answers; the API's
/health and /api/stats are then read over HTTP. For the bridge: whether it is connected (and how),
its last error and next retry, the lines waiting and its counters, and whether Matterbridge itself
answers with our Matterbridge token. Tokens are never shown, only whether one is set.

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
        as_json: JsonOption = False,
        timeout: TimeoutOption = 2.0,
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
    use_hub_keyring(settings)  # before any probe that sends a token
    components = {name: _component(state_dir, name, settings.api.host, timeout) for name in SCRIPTS.values()}
    matterbridge = _bridge_and_matterbridge(components["bridge"], settings, timeout)
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
        "matterbridge": matterbridge,
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


# -- the bridge and Matterbridge --------------------------------------------------------------------

#: The link states in which a direction works (the reader's and the poster's own words).
_WORKING = {"in": ("connected",), "out": ("up", "idle")}


def _bridge_and_matterbridge(report: Dict[str, Any], settings: Any, timeout: float) -> Optional[Dict[str, Any]]:
    """Add the link's state to the bridge's ``report`` and ask Matterbridge for its health (only
    when the bridge has run: a hub without the bridge never waits on Matterbridge). A loaded bridge
    whose Matterbridge does not answer, or refuses our token, is degraded."""
    if report["stale"] is None:
        return None
    extra = report.get("extra") or {}
    report["link"] = bridge_link(report)
    url = str(extra.get("url") or settings.bridge.url)
    try:
        token = vault.read_secret("matterbridge")
    except vault.KeyringUnavailable:
        token = None
    health = probe_matterbridge(url, token, timeout)
    if report["health"] == "down":
        return health
    # the last error stays in the file after the link recovered: a problem only while it lasts
    problems = [line for line in report["problems"] if not line.startswith("last error: ")]
    if extra.get("running") is False:
        problems.append("the bridge is stopped (in hub chat: !bridge start)")
    else:
        problems.extend(_link_problems(report))
    if not health["ok"]:
        problems.append(f"Matterbridge: {health['message']}")
    if extra.get("gateway_check"):  # the bridge's own reading of the gateway names it sees
        problems.append(str(extra["gateway_check"]))
    report["problems"] = problems
    report["health"] = HEALTH_WORDS[DEGRADED if problems else OK]
    return health


def bridge_link(report: Dict[str, Any]) -> Dict[str, Any]:
    """The bridge's link as `status` shows it, from its status file (the bridge keeps no secret
    there): each direction's state, the transport, the last error, the next retry, the queue."""
    extra = report.get("extra") or {}
    now = time.time()
    retries = [report.get(f"{side}_retry_at") for side in _WORKING]
    due = [float(at) for at in retries if isinstance(at, (int, float))]
    return {
        "connected": all(report.get(f"{side}_state") in ok for side, ok in _WORKING.items()),
        "receiving": report.get("in_state"), "sending": report.get("out_state"),
        "transport": report.get("in_transport"), "url": extra.get("url"), "gateway": extra.get("gateway"),
        "account": extra.get("account"), "auth": extra.get("auth"),
        "last_error": report.get("last_error"),
        "next_retry_in_s": round(max(0.0, min(due) - now), 1) if due else None,
        "queue": {"waiting": extra.get("waiting"), "dropped_full": extra.get("dropped"),
                  "waiting_in": extra.get("waiting_in")},
        "counters": report.get("counters") or {},
    }


def _link_problems(report: Dict[str, Any]) -> List[str]:
    problems = []
    for side, word in (("in", "receiving"), ("out", "sending")):
        state_word = report.get(f"{side}_state")
        if state_word is None or state_word in _WORKING[side] or state_word == "connecting":
            continue
        error = report.get(f"{side}_error")
        retry = report["link"]["next_retry_in_s"]
        problems.append(f"{word} {state_word}" + (f": {error}" if error else "") +
                        (f"; next try in {retry:.0f} s" if retry is not None else ""))
    return problems


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
            result[key] = (get_json(address, port, path, None, timeout) if key == "health"
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
            return get_json(address, port, "/api/stats", token, timeout)
        except HttpRefused as exc:
            if exc.status != 401 or not token:
                raise
            if time.monotonic() >= deadline:
                break
            time.sleep(0.25)
    result["token_problem"] = ("the API refuses the token in the keyring; if this lasts, the hub "
                               "reads another keyring (run vhctl as the hub user)")
    return get_json(address, port, "/api/stats", None, timeout)


# -- for people ------------------------------------------------------------------------------------


def _human(data: Dict[str, Any]) -> Iterable[str]:
    if "error" in data:
        yield f"status:  down: {data['error']}"
        return
    yield f"config:  {data['config']}" + ("" if data["config_exists"] else " (not created yet: defaults)")
    venv = data["venv"]
    if venv["path"]:
        missing = "" if venv["present"] else " MISSING: run vhctl install"
        yield f"venv:    {venv['path']} (Python {venv['python']})" + missing
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
    matterbridge = data.get("matterbridge")
    if matterbridge:
        yield f"mb:      {'ok' if matterbridge['ok'] else 'problem'}: {matterbridge['message']}"
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
    if report.get("link") and report["health"] != "down":
        parts.append(_link_words(report["link"]))
    parts.extend(report["problems"])
    return label + ", ".join(parts)


def _link_words(link: Dict[str, Any]) -> str:
    """The bridge's link in a few words: connected or not, transport, queue and counters."""
    counters = link["counters"]
    head = (f"connected ({link['transport']})" if link["connected"] else
            f"receiving {link['receiving'] or '?'}, sending {link['sending'] or '?'}")
    return (f"{head}, gateway {link['gateway']}, {link['queue']['waiting'] or 0} waiting, "
            f"{counters.get('out_sent', 0)} sent, {counters.get('in_relayed', 0)} received, "
            f"{(link['queue']['dropped_full'] or 0) + counters.get('in_dropped', 0)} dropped")
