"""Fixtures of the foundation tests: a fresh headless HOME, and a real second Unix user and group."""

from __future__ import annotations

import grp
import os
import pwd
import subprocess
from pathlib import Path
from typing import Callable, Iterator

import pytest
from testkit.cli import Run, headless_env, run_vhctl

#: The service account the ownership tests give files to (a system user with its own group).
SERVICE_USER = "vhctl-test-svc"


@pytest.fixture(scope="session")
def service_account() -> Iterator[pwd.struct_passwd]:
    """A real system user with a group of its own (useradd; removed afterwards)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to create a second Unix user and group")
    subprocess.run(["userdel", SERVICE_USER], capture_output=True)
    subprocess.run(["groupdel", SERVICE_USER], capture_output=True)
    subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                    "--shell", "/usr/sbin/nologin", SERVICE_USER], check=True, capture_output=True)
    account = pwd.getpwnam(SERVICE_USER)
    assert grp.getgrgid(account.pw_gid).gr_name == SERVICE_USER and account.pw_uid != 0
    yield account
    subprocess.run(["userdel", SERVICE_USER], capture_output=True)
    subprocess.run(["groupdel", SERVICE_USER], capture_output=True)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A fresh, empty HOME."""
    folder = tmp_path / "home"
    folder.mkdir()
    return folder


@pytest.fixture
def cli(home: Path) -> Callable[..., Run]:
    """``cli(config_or_None, *args, **env)``: the real CLI in the fresh headless HOME."""

    def run(config: Path | None, *args: str, stdin: str | None = None, **env: str) -> Run:
        return run_vhctl(config, *args, env=headless_env(home, **env), replace_env=True, stdin=stdin)

    return run
