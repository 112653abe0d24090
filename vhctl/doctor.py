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
from urllib.parse import urlsplit

from vhctl_hub import secrets as vault
from vhctl_hub.config import Settings

from vhctl import configfile, hubvenv, plugin_lib
from vhctl.commands.status import _get_json
from vhctl.commands.token import use_hub_keyring
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
    return Result("imports", OK, f"all {len(VENV_IMPORTS)} modules import; vhctl_hub {found['version']}")


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
        health = _get_json(address, port, "/health", None, timeout)
    except (OSError, ValueError, http.client.HTTPException):
        health = None
    if isinstance(health, dict) and "status" in health:
        return Result("api port", OK, f"{address}:{port} is our API (it says {health['status']})")
    return Result("api port", FAIL, f"{address}:{port} is taken by another program",
                  "stop that program, or choose another: `vhctl configure api.port=PORT`")


def _http_status(url: str, path: str, token: Optional[str], timeout: float) -> int:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=timeout)
    try:
        connection.request("GET", parts.path.rstrip("/") + path,
                           headers={"Authorization": f"Bearer {token}"} if token else {})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def check_matterbridge(settings: Settings, timeout: float) -> Result:
    """Matterbridge answers /api/health with our Matterbridge token (401: the tokens differ)."""
    url = settings.bridge.url
    try:
        token = vault.read_secret("matterbridge")
    except vault.KeyringUnavailable:
        token = None
    try:
        code = _http_status(url, "/api/health", token, timeout)
    except (OSError, http.client.HTTPException) as exc:
        return Result("matterbridge", FAIL, f"{url} does not answer ({exc})",
                      "start Matterbridge, or set its address: `vhctl configure bridge.url=URL`")
    if code in (400, 401):  # no token sent, or another one than Matterbridge's
        what = "wants a token and none is stored" if code == 400 else "refuses our Matterbridge token"
        return Result("matterbridge", FAIL, f"{url} {what}",
                      "store the Token of Matterbridge's [api] section: `vhctl token set matterbridge`")
    if code != 200:
        return Result("matterbridge", FAIL, f"{url}/api/health answered HTTP {code}",
                      "check that bridge.url is Matterbridge's API address")
    return Result("matterbridge", OK, f"{url} answers" + (" and accepts our token" if token else ""))


def check_gateway(settings: Settings) -> Result:
    """The gateway the bridge joins is named (it must match a [[gateway]] name in Matterbridge)."""
    return Result("gateway", OK, f"bridge.gateway = {settings.bridge.gateway!r}")


def run_all(config_path: Path, timeout: float = 2.0) -> Dict[str, Any]:
    """Every check in order, as plain data with the exit code (1 when any check failed)."""
    first, settings = check_config(config_path)
    results: List[Result] = [first]
    if settings is not None:
        checks: List[Callable[[], Result]] = [
            lambda: check_python(settings), lambda: check_plugin_mode(settings),
            lambda: check_imports(settings), lambda: check_scripts(settings, config_path),
            lambda: check_keyring(settings), lambda: check_api_port(settings, timeout),
            lambda: check_matterbridge(settings, timeout), lambda: check_gateway(settings)]
        results.extend(check() for check in checks)
    failed = any(result.status == FAIL for result in results)
    return {"checks": [asdict(result) for result in results], "ok": not failed, "exit_code": 1 if failed else 0}
