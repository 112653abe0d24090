"""Which hub scripts vhctl renders, and the values each one gets from the settings.

The one mapping from a template to the component it registers, shared by `vhctl render` and the
demo, so that both produce exactly the script an operator `!pyload`s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict

from vhctl_hub.config import Settings

from vhctl.errors import VhctlError
from vhctl.render import render

#: Template file -> the runtime component it registers (vhctl_hub.script.KNOWN_COMPONENTS).
SCRIPTS: Dict[str, str] = {"hub_api.py": "api", "matterbridge.py": "bridge"}


def script_values(settings: Settings, config_file: Path, component: str) -> Dict[str, str]:
    """The placeholder values of a hub script: where the venv is and which config it reads."""
    hub = settings.hub
    if not (hub.venv and hub.site_packages and hub.python):
        raise VhctlError("the hub venv is not recorded in the config yet: run `vhctl install` first")
    return {"venv": hub.venv, "site_packages": hub.site_packages, "python": hub.python,
            "config_file": str(Path(config_file).expanduser().resolve()), "component": component}


def render_script(template: str, settings: Settings, config_file: Path) -> str:
    """The text of one hub script for these settings."""
    if template not in SCRIPTS:
        raise VhctlError(f"unknown hub script {template!r}; known: {', '.join(SCRIPTS)}")
    return render(template, script_values(settings, config_file, SCRIPTS[template]))
