"""`vhctl install`: build the hub's venv with the Python that the Verlihub plugin embeds."""

from pathlib import Path
from typing import Annotated, Any, Iterable, Optional

import typer
from vhctl_hub.config import Settings

from vhctl import configfile, hubvenv, interpreter, paths, plugin_lib
from vhctl.errors import VhctlError
from vhctl.installlock import install_lock
from vhctl.output import Progress, emit
from vhctl.state import state
from vhctl.options import JsonOption

HELP = """Make the hub's venv (vhctl_hub, fastapi, uvicorn, httptools, requests, keyring) for the plugin's Python.

The Verlihub Python plugin embeds one libpython, chosen when Verlihub was built, so the venv must
be of that same Python X.Y. With --plugin, vhctl reads which libpython the plugin links (and its
build mode: reloading hub_api.py needs the single-interpreter build) and finds that Python on this machine.
The venv's path, site-packages and Python are recorded in the config file for the hub scripts.
Running it again changes nothing when everything is in place; a second install of the same venv
started meanwhile waits for the first.

Examples:

  vhctl install --plugin /usr/local/lib/libpython_pi.so

  vhctl install --plugin /usr/local/lib --venv /srv/verlihub/hub-venv

  vhctl install --python 3.11 --json
"""


def register(app: typer.Typer) -> None:
    @app.command("install", help=HELP)
    def install_command(
        plugin: Annotated[Optional[Path], typer.Option(
            "--plugin", metavar="PATH",
            help="the hub's Python plugin (libpython_pi.so or libvh_python_wrapper.so) or its folder; "
            "default: the one recorded in the config")] = None,
        python: Annotated[Optional[str], typer.Option(
            "--python", metavar="PATH_OR_VERSION",
            help="the Python to build the venv with: a path, a command or a version such as 3.11 "
            "(must match the plugin's)")] = None,
        venv: Annotated[Optional[Path], typer.Option(
            "--venv", metavar="DIR",
            help="where the venv goes (default: the recorded one, else beside the config's data)")] = None,
        as_json: JsonOption = False,
    ) -> None:
        result = install(state.config_path, plugin=plugin, python=python, venv=venv)
        for warning in result["warnings"]:
            typer.echo(f"vhctl: warning: {warning}", err=True)
        emit(result, as_json, _human)


def install(config_path: Path, plugin: Optional[Path] = None, python: Optional[str] = None,
            venv: Optional[Path] = None, quiet: bool = False) -> dict[str, Any]:
    """Build or check the hub venv and record it in the config file; returns what `--json` prints."""
    settings = configfile.read(config_path)
    plugin_path = plugin or _recorded_plugin(settings.hub.plugin, config_path)
    if python is None and plugin_path is None and settings.hub.python:
        python = settings.hub.python  # a rerun without flags keeps the Python recorded last time
    venv_dir = venv or (Path(settings.hub.venv) if settings.hub.venv else paths.default_hub_venv(config_path))
    progress = Progress(total=5 + (plugin_path is not None), quiet=quiet)

    info = _read_plugin(plugin_path, python, progress) if plugin_path is not None else None
    required = info.python if info else None
    progress.step(f"Finding Python {python or required or ''}".rstrip())
    found = interpreter.resolve(python, required,
                                required_by=f"the plugin {info.path} (it links {info.libpython})" if info else "")
    progress.note(f"Python {found.full_version} at {found.executable}")

    with install_lock(venv_dir, progress):
        hub = hubvenv.ensure(venv_dir, found, progress, hub_uid=hubvenv.hub_uid(settings))
        changes: dict[str, Any] = {"hub.venv": str(hub.path), "hub.site_packages": str(hub.site_packages),
                                   "hub.python": found.xy}
        if info is not None:
            changes.update({"hub.plugin": str(info.path), "hub.plugin_mode": info.mode})
        # read again under the lock: an install that held it may have just recorded the same values
        config_changed = _record(config_path, configfile.read(config_path), changes, progress)

    mode = info.mode if info else settings.hub.plugin_mode
    return {
        "venv": str(hub.path),
        "python": found.xy,
        "python_version": hub.version,
        "python_executable": found.executable,
        "site_packages": str(hub.site_packages),
        "plugin": str(info.path) if info else settings.hub.plugin,
        "plugin_mode": mode,
        "config": str(config_path),
        "changed": hub.changed or config_changed,
        "warnings": _mode_warnings(mode) if info else [],
    }


def _read_plugin(path: Path, python: Optional[str], progress: Progress) -> plugin_lib.PluginInfo:
    progress.step(f"Reading the plugin {path}")
    info = plugin_lib.inspect(path)
    progress.note(f"it embeds Python {info.python} ({info.libpython})" if info.python
                  else "it links no libpython3.X.so")
    progress.note(f"build mode: {info.mode} ({info.evidence})")
    if info.python is None and python is None:
        raise VhctlError(f"cannot tell which Python {info.path} embeds (it links no libpython3.X.so); "
                         "pass --python VERSION")
    return info


def _record(config_path: Path, settings: Settings, changes: dict[str, Any], progress: Progress) -> bool:
    """Write ``changes`` into the config file unless it holds them already; True if it changed."""
    progress.step(f"Recording it in {config_path}")
    recorded = settings.to_dict()

    def differs(key: str, value: Any) -> bool:
        section, _, name = key.partition(".")
        return recorded[section][name] != value

    changed = any(differs(key, value) for key, value in changes.items())
    if changed:
        configfile.update(config_path, changes)
    progress.note("updated" if changed else "already up to date")
    return changed


def _recorded_plugin(recorded: str, config_path: Path) -> Optional[Path]:
    """The plugin the config names, so that a rerun checks against the same library."""
    if not recorded:
        return None
    if not Path(recorded).exists():
        raise VhctlError(f"{config_path} names the plugin {recorded}, which no longer exists; "
                         "pass --plugin PATH")
    return Path(recorded)


def _mode_warnings(mode: str) -> list[str]:
    if mode == plugin_lib.SUB:
        # A10, A24: FastAPI imports in the first sub-interpreter of a hub process, never in a later one
        return ["the plugin was built in sub-interpreter mode: hub_api.py loads once per hub process, "
                "but after a !pyreload or !pyunload of it, it loads again only when the hub restarts "
                "(matterbridge.py reloads freely); to reload the REST API without a restart, rebuild "
                f"Verlihub with `cmake {plugin_lib.SINGLE_MODE_OPTION}`"]
    if mode == plugin_lib.UNKNOWN:
        return ["could not tell how the plugin was built; hub_api.py needs a Verlihub built with "
                f"`cmake {plugin_lib.SINGLE_MODE_OPTION}`"]
    return []


def _human(result: dict[str, Any]) -> Iterable[str]:
    status = "installed" if result["changed"] else "unchanged"
    yield f"hub venv: {result['venv']} (Python {result['python_version']}, {status})"
    yield f"site-packages: {result['site_packages']}"
    if result["plugin"]:
        yield f"plugin: {result['plugin']} ({result['plugin_mode']} mode)"
    yield f"recorded in: {result['config']}"
