"""Fixtures of the foundation tests: a fresh headless HOME, and a real second Unix user and group."""

from __future__ import annotations

import grp
import pwd
from pathlib import Path
from typing import Callable, Iterator

import pytest
from testkit.cli import Run, headless_env, run_vhctl
from testkit.unixuser import run_scoped, unix_user

#: The service account the ownership tests give files to (a system user with its own group).
SERVICE_USER = run_scoped("vhctl-test-svc")


@pytest.fixture(scope="session")
def service_account() -> Iterator[pwd.struct_passwd]:
    """A real system user with a group of its own (useradd; removed afterwards)."""
    with unix_user(SERVICE_USER, "--user-group", "--no-create-home", "--home-dir", "/nonexistent") as account:
        assert grp.getgrgid(account.pw_gid).gr_name == SERVICE_USER and account.pw_uid != 0
        yield account


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
