"""The checks behind `vhctl doctor`: each one looks at one thing and says how to fix it.

Every check is a plain function returning a ``Result`` (ok, warn or fail, what was found, and the
fix), so that the command only prints them and the tests can call them one by one. Nothing here
changes anything: the checks read the config, ask the venv's own Python, compare the scripts with
what `vhctl render` would write, read the keyring (never showing a token) and ask loopback ports,
with short timeouts so that a hung hub or Matterbridge cannot hang the doctor.
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from vhctl_hub import secrets as vault
from vhctl_hub.config import Settings
from vhctl_hub.status import read_status

from vhctl import configfile, hubvenv, mbconfig, plugin_lib
from vhctl.hubvenv import hub_state_dir
from vhctl.probes import get_json, probe_matterbridge
from vhctl.hubkeyring import use_hub_keyring
from vhctl.errors import VhctlError
from vhctl.scripts import SCRIPTS, render_script

OK, WARN, FAIL = "ok", "warn", "fail"

#: What the hub scripts import from the venv (the runtime, the API and the bridge, the keyring).
VENV_IMPORTS = ("vhctl_hub", "fastapi", "uvicorn", "websockets", "urllib3", "keyring", "keyrings.alt")
#: The install's own import probe, followed by one more line: vhctl_hub's version.
_IMPORT_PROBE = hubvenv._IMPORT_PROBE + "print(json.dumps(getattr(hub, '__version__', None)))\n"


@dataclass(frozen=True)
class Result:
    """One check's verdict: ``fix`` is what to do about it (empty when all is well)."""

    name: str
    status: str
    message: str
    fix: str = ""


def _venv(settings: Settings) -> Optional[Path]:
    return Path(settings.hub.venv) if settings.hub.venv else None


def check_config(config_path: Path) -> Tuple[Result, Optional[Settings]]:
    """The config file loads and validates (a missing file means the defaults)."""
    try:
        settings = configfile.read(config_path)
    except VhctlError as exc:
        return Result("config", FAIL, str(exc), "fix the file, or see `vhctl configure --help`"), None
    where = str(config_path) if config_path.exists() else f"{config_path} (not created yet: defaults)"
    return Result("config", OK, f"valid: {where}"), settings


def check_python(settings: Settings) -> Result:
    """The venv's Python is the one the plugin embeds (another X.Y cannot be imported by the hub)."""
    venv = _venv(settings)
    if venv is None or not (venv / "pyvenv.cfg").exists():
        return Result("python", FAIL, "no hub venv recorded or found", "run `vhctl install --plugin PATH`")
    actual = hubvenv._venv_version(venv)
    if actual is None:
        return Result("python", FAIL, f"the venv's Python ({venv}/bin/python) does not run",
                      "run `vhctl install` again to rebuild the venv")
    wanted, source = settings.hub.python, "the config"
    if settings.hub.plugin:
        try:
            info = plugin_lib.inspect(Path(settings.hub.plugin))
            wanted, source = info.python or wanted, f"the plugin's {info.libpython or 'libpython'}"
        except VhctlError as exc:
            return Result("python", FAIL, str(exc), "run `vhctl install --plugin PATH` with the hub's plugin")
    xy = ".".join(actual.split(".")[:2])
    if wanted and wanted != xy:
        return Result("python", FAIL, f"the venv has Python {actual} but {source} wants {wanted}",
                      f"run `vhctl install --python python{wanted}` to rebuild the venv")
    return Result("python", OK, f"venv Python {actual} matches {source} ({wanted or 'not recorded'})")


def check_plugin_mode(settings: Settings) -> Result:
    """What the plugin's build means for reloading hub_api.py."""
    mode = settings.hub.plugin_mode
    if mode == "single":
        return Result("plugin mode", OK, "single interpreter: !pyload and !pyreload of both scripts work")
    rebuild = f"rebuild the plugin with {plugin_lib.SINGLE_MODE_OPTION}, then `vhctl install --plugin PATH`"
    if mode == "sub":
        return Result("plugin mode", WARN, "sub-interpreters: the first !pyload of hub_api.py works, but "
                      "a !pyreload in the same hub process does not", f"restart the hub to reload, or {rebuild}")
    return Result("plugin mode", WARN, "unknown: the plugin's build mode could not be told",
                  "run `vhctl install --plugin PATH` with the hub's plugin")


def check_imports(settings: Settings) -> Result:
    """The venv's own Python imports everything the hub scripts need."""
    venv = _venv(settings)
    if venv is None or not (venv / "bin" / "python").exists():
        return Result("imports", FAIL, "no hub venv to import from", "run `vhctl install`")
    try:
        run = subprocess.run([str(venv / "bin" / "python"), "-I", "-c", _IMPORT_PROBE, *VENV_IMPORTS],
                             capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        *_, report, version = run.stdout.strip().splitlines()
        found = {**json.loads(report), "version": json.loads(version)}
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
        return Result("imports", FAIL, f"the venv's Python did not answer ({exc})", "run `vhctl install` again")
    if found["bad"]:
        names = "; ".join(f"{name} ({why})" for name, why in sorted(found["bad"].items()))
        return Result("imports", FAIL, f"cannot import: {names}", "run `vhctl install` again")
    problem = hubvenv.dist_problem(found["dist"])  # the wheel pip installed, as `pip list` shows it
    if problem:
        return Result("imports", FAIL, f"vhctl_hub {found['version']} imports, but {problem}",
                      "run `vhctl install` again")
    return Result("imports", OK, f"all {len(VENV_IMPORTS)} modules import; vhctl_hub {found['version']} "
                  f"(pip list: {hubvenv.DISTRIBUTION} {found['dist']['version']})")


def check_scripts(settings: Settings, config_path: Path) -> Result:
    """Both rendered scripts exist and are exactly what `vhctl render` would write now."""
    if not settings.hub.scripts_dir:
        return Result("scripts", FAIL, "no scripts folder configured", "run `vhctl render`")
    folder = Path(settings.hub.scripts_dir)
    missing, stale = [], []
    for name in SCRIPTS:
        try:
            wanted = render_script(name, settings, config_path)
        except VhctlError as exc:
            return Result("scripts", FAIL, str(exc), "run `vhctl install`, then `vhctl render`")
        try:
            if (folder / name).read_text(encoding="utf-8") != wanted:
                stale.append(name)
        except (OSError, UnicodeDecodeError):
            missing.append(name)
    if missing or stale:
        parts = ([f"missing: {', '.join(missing)}"] if missing else []) + \
                ([f"out of date: {', '.join(stale)}"] if stale else [])
        return Result("scripts", FAIL, f"in {folder}: {'; '.join(parts)}",
                      "run `vhctl render`, then !pyreload the scripts in the hub")
    return Result("scripts", OK, f"{' and '.join(SCRIPTS)} in {folder} are current")


def check_keyring(settings: Settings) -> Result:
    """The hub's keyring is readable; which tokens are set (never their values)."""
    use_hub_keyring(settings)
    try:
        have = {name: vault.read_secret(name) is not None for name in vault.NAMES}
    except vault.KeyringUnavailable as exc:
        return Result("keyring", FAIL, f"unreadable: {exc}", "run `vhctl install` to choose a keyring")
    unset = [name for name, present in have.items() if not present]
    listing = ", ".join(f"{name} token {'set' if present else 'not set'}" for name, present in have.items())
    if unset:
        return Result("keyring", WARN, f"readable; {listing}",
                      "; ".join(f"run `vhctl token generate {name}`" if name == "api" else
                                f"run `vhctl token set {name}`" for name in unset))
    return Result("keyring", OK, f"readable; {listing}")


def check_api_port(settings: Settings, timeout: float) -> Result:
    """The API's port is free, or already served by our API (answering /health)."""
    host, port = settings.api.host, settings.api.port
    if port == 0:
        return Result("api port", OK, "any free port (api.port = 0)")
    address = "127.0.0.1" if host in ("0.0.0.0", "") else "::1" if host == "::" else host
    try:
        with socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET) as probe:
            probe.bind((address, port))
        return Result("api port", OK, f"{address}:{port} is free")
    except OSError:
        pass
    try:
        health = get_json(address, port, "/health", None, timeout)
    except (OSError, ValueError, http.client.HTTPException):
        health = None
    if isinstance(health, dict) and "status" in health:
        return Result("api port", OK, f"{address}:{port} is our API (it says {health['status']})")
    return Result("api port", FAIL, f"{address}:{port} is taken by another program",
                  "stop that program, or choose another: `vhctl configure api.port=PORT`")


def check_matterbridge(settings: Settings, timeout: float, asked: bool = False) -> Result:
    """Matterbridge answers /api/health with our Matterbridge token (400: none sent, 401: another
    one than Matterbridge's, M11). Not checked (a warning) on a hub that shows no sign of using the
    bridge, unless ``asked`` (a matterbridge.toml was given to compare)."""
    use_hub_keyring(settings)
    try:
        token = vault.read_secret("matterbridge")
    except vault.KeyringUnavailable:
        token = None
    if token is None and not asked and not bridge_in_use(settings):
        return Result("matterbridge", WARN, "not checked: no Matterbridge token, no [bridge] settings, and the "
                      "bridge never ran here (nothing to do if the hub uses only the REST API)",
                      "to bridge the hub's chat: `vhctl token set matterbridge`, then !pyload matterbridge.py")
    health = probe_matterbridge(settings.bridge.url, token, timeout)
    if health["ok"]:
        return Result("matterbridge", OK, health["message"])
    if health["http_status"] is None:
        fix = "start Matterbridge, or set its address: `vhctl configure bridge.url=URL`"
    elif health["http_status"] in (400, 401):
        fix = "store the Token of Matterbridge's [api] section: `vhctl token set matterbridge`"
    else:
        fix = "check that bridge.url is Matterbridge's API address"
    message = health["message"] if health["message"].startswith(settings.bridge.url) else \
        f"{settings.bridge.url}: {health['message']}"
    return Result("matterbridge", FAIL, message, fix)


def bridge_in_use(settings: Settings) -> bool:
    """Whether anything says the hub uses the bridge: [bridge] settings other than the defaults, or
    a status file the bridge component left in the hub's state folder."""
    return (settings.bridge != type(settings.bridge)()
            or read_status(hub_state_dir(settings), "bridge") is not None)


def read_matterbridge_toml(path: Optional[Path]) -> Tuple[Optional[Dict[str, Any]], Optional[Result]]:
    """The parsed matterbridge.toml ``path`` (None: not given), or the failed check saying why not."""
    if path is None:
        return None, None
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        return None, Result("matterbridge.toml", FAIL, f"cannot read {path} ({reason})",
                            "give the path of Matterbridge's config, and run as a user who may read it")
    try:
        return mbconfig.parse(text, str(path)), None
    except VhctlError as exc:
        return None, Result("matterbridge.toml", FAIL, str(exc), "fix the file; Matterbridge cannot read it either")


def check_mb_account(settings: Settings, data: Dict[str, Any], where: Path) -> Result:
    """Matterbridge's config has an api account where bridge.url points, with our token as Token."""
    use_hub_keyring(settings)
    try:
        token = vault.read_secret("matterbridge")
    except vault.KeyringUnavailable as exc:
        return Result("matterbridge.toml", FAIL, f"cannot compare the Token: {exc}", "run `vhctl install`")
    problem, fix = mbconfig.account_problem(data, settings, token, str(where))
    if problem:
        return Result("matterbridge.toml", FAIL, problem, fix)
    name = mbconfig.our_api_account(data, settings)
    return Result("matterbridge.toml", OK, f"[api.{name}] in {where} listens on "
                  f"{mbconfig.bind_address(settings)} with our Matterbridge token")


def check_gateway(settings: Settings, data: Optional[Dict[str, Any]], where: Optional[Path]) -> Result:
    """The gateway the bridge joins exists in Matterbridge's config, enabled, with our account (only
    named when vhctl is not told where that config is)."""
    gateway = settings.bridge.gateway
    if data is None or where is None:
        return Result("gateway", OK, f"bridge.gateway = {gateway!r} (compared with Matterbridge's config "
                      "when given: vhctl doctor --matterbridge-toml PATH)")
    problem, fix = mbconfig.gateway_problem(data, settings, str(where))
    if problem:
        return Result("gateway", FAIL, problem, fix)
    return Result("gateway", OK, f"the gateway {gateway!r} in {where} is enabled and has our account")


def run_all(config_path: Path, timeout: float = 2.0, matterbridge_toml: Optional[Path] = None) -> Dict[str, Any]:
    """Every check in order, as plain data with the exit code (1 when any check failed);
    ``matterbridge_toml``: Matterbridge's config, to compare with ours."""
    first, settings = check_config(config_path)
    results: List[Result] = [first]
    if settings is not None:
        mb_data, unreadable = read_matterbridge_toml(matterbridge_toml)
        checks: List[Callable[[], Result]] = [
            lambda: check_python(settings), lambda: check_plugin_mode(settings),
            lambda: check_imports(settings), lambda: check_scripts(settings, config_path),
            lambda: check_keyring(settings), lambda: check_api_port(settings, timeout),
            lambda: check_matterbridge(settings, timeout, matterbridge_toml is not None)]
        if unreadable is not None:
            checks.append(lambda: unreadable)
        elif mb_data is not None and matterbridge_toml is not None:
            checks.append(lambda: check_mb_account(settings, mb_data, matterbridge_toml))
        checks.append(lambda: check_gateway(settings, mb_data, matterbridge_toml))
        results.extend(check() for check in checks)
    failed = any(result.status == FAIL for result in results)
    return {"checks": [asdict(result) for result in results], "ok": not failed, "exit_code": 1 if failed else 0}
