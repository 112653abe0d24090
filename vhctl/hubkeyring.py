"""Which keyring a token command uses, and who may run it: the hub's keyring is its Unix user's.

A token stored by another user would never reach the hub, so the commands that store or show one
(`token`, `matterbridge-toml`) refuse to run as anyone but the owner of the hub's state folder, and
every command that reads one (`status`, `doctor`) uses the keyring `vhctl install` recorded in the
hub venv (``vhctl_hub.secrets.use_venv``), never one found by discovery.
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path

from vhctl_hub import secrets as vault
from vhctl_hub.config import Settings

from vhctl import hubvenv
from vhctl.errors import VhctlError


def select_hub_keyring(settings: Settings, command: str) -> None:
    """Check the user (`vhctl COMMAND` must run as the hub's), then use the keyring recorded in the
    hub venv of ``settings``: every command that stores or shows a token calls this first."""
    check_hub_user(hubvenv.hub_state_dir(settings), command)
    use_hub_keyring(settings)


def use_hub_keyring(settings: Settings) -> None:
    """Make this process use the keyring recorded in the hub venv of ``settings`` (when there is
    one); every CLI command that reads a token (`status`, `doctor`) calls this first."""
    venv = Path(settings.hub.venv) if settings.hub.venv else None
    vault.use_venv(venv if venv and (venv / vault.RECORD).exists() else None)


def check_hub_user(state_dir: Path, command: str = "token ...") -> None:
    """Refuse to run as another user than the hub's (the owner of its state folder); ``command``
    is the example of what to run instead (after ``sudo -u USER vhctl``)."""
    try:
        owner = os.stat(state_dir).st_uid
    except OSError:
        return  # the hub has not run yet: nothing tells its user
    if owner == os.geteuid():
        return
    hub_user = _user_name(owner)
    raise VhctlError(f"the hub runs as {hub_user} (the owner of {state_dir}), not as {_user_name(os.geteuid())}: "
                     f"its tokens are in {hub_user}'s keyring; run this as {hub_user}, "
                     f"e.g. sudo -u {hub_user} vhctl {command}")


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"
