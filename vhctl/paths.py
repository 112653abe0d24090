"""The one place that knows where vhctl keeps things on disk.

Resolution order for the config file: ``--config``, then ``$VHCTL_CONFIG``, then the user's file if it
exists, then the system-wide file (``/etc/vhctl/config.toml``, for hubs run by a service user) if it
exists, else the user's file (created on first write).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import platformdirs

APP = "vhctl"
CONFIG_ENV = "VHCTL_CONFIG"
SYSTEM_CONFIG = Path(os.environ.get("VHCTL_SYSTEM_CONFIG", "/etc/vhctl/config.toml"))


def user_config_file() -> Path:
    """The per-user config file (platformdirs' config dir)."""
    return Path(platformdirs.user_config_dir(APP)) / "config.toml"


def config_file(explicit: Optional[Path] = None) -> Path:
    """The config file this invocation reads and writes."""
    if explicit is not None:
        return Path(explicit).expanduser()
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env).expanduser()
    user = user_config_file()
    if not user.exists() and SYSTEM_CONFIG.exists():
        return SYSTEM_CONFIG
    return user


def data_dir() -> Path:
    """Where vhctl keeps what it makes (the default hub venv, rendered scripts)."""
    return Path(platformdirs.user_data_dir(APP))


def default_hub_venv(config: Path) -> Path:
    """The hub venv's default place: beside a system-wide config, else under the data dir."""
    if config == SYSTEM_CONFIG:
        return config.parent / "hub-venv"
    return data_dir() / "hub-venv"


def install_lock_file(venv: Path) -> Path:
    """The lock `vhctl install` holds while it works on ``venv`` (beside it: the venv may not exist)."""
    venv = Path(os.path.abspath(Path(venv).expanduser()))
    return venv.parent / f".{venv.name}.vhctl-install.lock"


def default_scripts_dir(config: Path) -> Path:
    """Where rendered scripts go when the config names no scripts folder."""
    if config == SYSTEM_CONFIG:
        return config.parent / "scripts"
    return data_dir() / "scripts"


def default_state_dir(config: Path) -> Path:
    """Where hub-side components publish their status for `vhctl status`."""
    if config == SYSTEM_CONFIG:
        return config.parent / "state"
    return Path(platformdirs.user_state_dir(APP))
