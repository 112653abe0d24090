"""Real Unix users for the ownership tests, named for this test run.

A fixed name is shared by every suite on the machine: a CI run beside a developer's run (or a
loaded-machine check beside both) would create, use and delete the same user under each other, and
a test would fail by chance. The process id in the name keeps each run's users its own.
"""
from __future__ import annotations

import os
import pwd
import subprocess
from contextlib import contextmanager
from typing import Iterator

import pytest


def run_scoped(stem: str) -> str:
    """``stem`` with this test run's process id (well under useradd's 32 characters)."""
    return f"{stem}-{os.getpid()}"


@contextmanager
def unix_user(name: str, *useradd_args: str) -> Iterator[pwd.struct_passwd]:
    """A system user ``name`` with no login shell, made with ``useradd_args`` (a home, a group of its
    own...), removed with its group when the block ends. Skips the test where only root could do it."""
    if os.geteuid() != 0:
        pytest.skip("needs root to create a second Unix user")
    subprocess.run(["useradd", "--system", "--shell", "/usr/sbin/nologin", *useradd_args, name],
                   check=True, capture_output=True)
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], capture_output=True)
        subprocess.run(["groupdel", name], capture_output=True)  # its own group, where useradd made one
