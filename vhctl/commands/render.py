"""`vhctl render`: write the hub scripts an operator loads with `!pyload`."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Annotated, Any, Iterable, List, Optional

import typer

from vhctl import configfile, paths
from vhctl.errors import VhctlError
from vhctl.files import write_generated
from vhctl.output import emit
from vhctl.scripts import SCRIPTS, render_script
from vhctl.state import state
from vhctl.options import JsonOption

HELP = """Write the hub scripts (hub_api.py, matterbridge.py) for the hub venv recorded by `vhctl install`.

The scripts hold no secret: only the venv's path and this config file's path. A script vhctl
wrote before is backed up when it changes; a file vhctl did not write is never overwritten.
Then, in hub chat, as an admin: !pyload /path/to/hub_api.py (and matterbridge.py);
after a change: !pyreload with the same path. The lines to type are printed.

Examples:

  vhctl render                          # into hub.scripts_dir from the config

  vhctl render --dry-run                # say what would change, write nothing

  vhctl render --diff                   # show the changes, write nothing

  vhctl render --to /etc/verlihub/scripts --json
"""


def register(app: typer.Typer) -> None:
    @app.command("render", help=HELP)
    def render_command(
        to: Annotated[Optional[Path], typer.Option(
            "--to", metavar="DIR",
            help="folder to write into (default: hub.scripts_dir, else vhctl's data folder); "
            "recorded as hub.scripts_dir")] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="write nothing; say what would change")] = False,
        diff: Annotated[bool, typer.Option("--diff", help="write nothing; show each change as a diff")] = False,
        as_json: JsonOption = False,
    ) -> None:
        emit(render_scripts(state.config_path, to, write=not (dry_run or diff), diff=diff), as_json, _human)


def render_scripts(config_path: Path, to: Optional[Path] = None, write: bool = True,
                   diff: bool = False) -> dict[str, Any]:
    """Render every hub script into the scripts folder (or, ``write=False``, only say what would
    change, with a unified diff per script when ``diff``); returns what `--json` prints."""
    settings = configfile.read(config_path)
    folder = Path(to or settings.hub.scripts_dir or paths.default_scripts_dir(config_path)).expanduser()
    folder = folder.resolve()
    if folder.exists() and not folder.is_dir():
        raise VhctlError(f"{folder} is not a folder")
    written: List[dict[str, Any]] = []
    for template in SCRIPTS:
        target = folder / template
        text = render_script(template, settings, config_path)
        old = target.read_text(encoding="utf-8", errors="replace") if target.is_file() else None
        changed = old != text
        entry: dict[str, Any] = {"path": str(target), "changed": changed, "written": write and changed,
                                 "pyload": f"!pyload {target}", "pyreload": f"!pyreload {target}"}
        if write:
            backup = write_generated(target, text)
            entry["backup"] = str(backup) if backup else None
        if diff:
            entry["diff"] = "".join(difflib.unified_diff(
                (old or "").splitlines(keepends=True), text.splitlines(keepends=True),
                fromfile=str(target) if old is not None else "/dev/null", tofile=str(target)))
        written.append(entry)
    if not write:
        return {"scripts_dir": str(folder), "scripts": written, "dry_run": True}
    recorded = {"hub.scripts_dir": str(folder)}
    if not settings.hub.state_dir:  # the scripts and `vhctl status` must agree on the status folder
        recorded["hub.state_dir"] = str(paths.default_state_dir(config_path))
    changes = {k: v for k, v in recorded.items() if v != getattr(settings.hub, k.split(".")[1])}
    if changes:
        configfile.update(config_path, changes)
    return {"scripts_dir": str(folder), "scripts": written}


def _human(result: dict[str, Any]) -> Iterable[str]:
    dry = result.get("dry_run", False)
    for script in result["scripts"]:
        if dry:
            yield f"{script['path']}: {'would change' if script['changed'] else 'unchanged'} (nothing written)"
        else:
            state_word = "written" if script["changed"] else "unchanged"
            yield f"{script['path']}: {state_word}" + (f" (previous kept as {script['backup']})"
                                                        if script.get("backup") else "")
        if script.get("diff"):
            yield script["diff"].rstrip("\n")
    if dry:
        return
    yield "in hub chat, as an admin (the plugin matches the path exactly; a bare name means its own"
    yield "scripts folder, whose every .py it also loads when it starts):"
    for script in result["scripts"]:
        yield f"  load: {script['pyload']}    after a change: {script['pyreload']}"
