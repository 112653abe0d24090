"""The one place that knows where vhctl keeps things on disk.

Resolution order for the config file: ``--config``, then ``$VHCTL_CONFIG``, then the user's file if it
exists, then the system-wide file (``/etc/vhctl/config.toml``, for hubs run by a service user) if it
exists, else the user's file (created on first write). Everything is looked up when a command runs,
never at import, so that the environment of that run is the one that counts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import platformdirs

from vhctl.errors import VhctlError

APP = "vhctl"
CONFIG_ENV = "VHCTL_CONFIG"
SYSTEM_CONFIG_ENV = "VHCTL_SYSTEM_CONFIG"
DEFAULT_SYSTEM_CONFIG = "/etc/vhctl/config.toml"


def system_config() -> Path:
    """The system-wide config file (``$VHCTL_SYSTEM_CONFIG`` moves it, for tests and packagers)."""
    return Path(os.environ.get(SYSTEM_CONFIG_ENV) or DEFAULT_SYSTEM_CONFIG)


def user_config_file() -> Path:
    """The per-user config file (platformdirs' config dir)."""
    return Path(platformdirs.user_config_dir(APP)) / "config.toml"


def config_file(explicit: Optional[Path] = None) -> Path:
    """The config file this invocation reads and writes, as an absolute path.

    A file the user names (``--config`` or ``$VHCTL_CONFIG``) must be in an existing folder: a typo
    in the folder is an error, never a new folder."""
    env = os.environ.get(CONFIG_ENV)
    named = Path(explicit).expanduser() if explicit is not None else Path(env).expanduser() if env else None
    if named is not None:
        named = Path(os.path.abspath(named))
        if not named.parent.is_dir():
            source = "--config" if explicit is not None else f"${CONFIG_ENV}"
            raise VhctlError(f"{source} {named}: the folder {named.parent} does not exist "
                             "(vhctl does not create it; create it or fix the path)")
        return named
    user = user_config_file()
    system = system_config()
    if not user.exists() and system.exists():
        return system
    return user


def data_dir() -> Path:
    """Where vhctl keeps what it makes (the default hub venv, rendered scripts)."""
    return Path(platformdirs.user_data_dir(APP))


def default_hub_venv(config: Path) -> Path:
    """The hub venv's default place: beside a system-wide config, else under the data dir."""
    if config == system_config():
        return config.parent / "hub-venv"
    return data_dir() / "hub-venv"


def install_lock_file(venv: Path) -> Path:
    """The lock `vhctl install` holds while it works on ``venv`` (beside it: the venv may not exist)."""
    venv = Path(os.path.abspath(Path(venv).expanduser()))
    return venv.parent / f".{venv.name}.vhctl-install.lock"


def default_scripts_dir(config: Path) -> Path:
    """Where rendered scripts go when the config names no scripts folder."""
    if config == system_config():
        return config.parent / "scripts"
    return data_dir() / "scripts"


def default_state_dir(config: Path) -> Path:
    """Where hub-side components publish their status for `vhctl status`."""
    if config == system_config():
        return config.parent / "state"
    return Path(platformdirs.user_state_dir(APP))
