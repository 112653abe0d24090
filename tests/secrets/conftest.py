"""Fixtures of the keyring tests: a fresh HOME with no desktop session, a real hub venv made by a real
`vhctl install`, and a real second Unix user for the hub."""

from __future__ import annotations

import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
from testkit.keyring import HUB_PYTHON, Headless, headless_env
from testkit.unixuser import run_scoped, unix_user

#: The hub's user in the ownership tests (created and removed by the ``hub_user`` fixture).
HUB_USER = run_scoped("vhctl-hub-test")


@dataclass
class Installed:
    """One real `vhctl install` in a fresh headless HOME (world-readable, so the hub user can run it)."""

    root: Path
    venv: Path
    config: Path
    headless: Headless
    output: subprocess.CompletedProcess


@pytest.fixture(scope="session")
def installed() -> Iterator[Installed]:
    """Built once per session: it downloads the hub's packages. Debian's own Python makes the venv, so
    that another user can run it (the test runner's Python may sit under /root)."""
    root = Path(tempfile.mkdtemp(prefix="vhctl-secrets-"))
    root.chmod(0o755)
    home = root / "home"
    home.mkdir()
    headless = Headless(home, headless_env(home))
    config = root / "config.toml"
    done = headless.run("--config", str(config), "install", "--python", HUB_PYTHON, "--venv", str(root / "venv"))
    assert done.returncode == 0, done.stderr
    yield Installed(root, root / "venv", config, headless, done)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def hub_user() -> Iterator[pwd.struct_passwd]:
    """A real system user for the hub, with its own home (useradd; removed afterwards)."""
    home = Path(tempfile.mkdtemp(prefix="vhctl-hubuser-")) / HUB_USER
    home.parent.chmod(0o755)
    try:
        with unix_user(HUB_USER, "--create-home", "--home-dir", str(home)) as user:
            yield user
    finally:
        shutil.rmtree(home.parent, ignore_errors=True)
