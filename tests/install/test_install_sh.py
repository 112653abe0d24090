"""install.sh puts vhctl into its own venv (a non-editable install of this checkout) and links it;
run twice (the second time with --dev) it stays working."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from vhctl import interpreter
from vhctl.errors import VhctlError

REPO = Path(__file__).resolve().parents[2]


def install_sh(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    variables = {**os.environ, "VHCTL_PREFIX": str(tmp_path / "cli-venv"), "VHCTL_BIN_DIR": str(tmp_path / "bin"),
                 **env}
    return subprocess.run(["bash", str(REPO / "install.sh"), *args], capture_output=True, text=True,
                          timeout=600, env=variables, cwd=tmp_path, stdin=subprocess.DEVNULL)


@pytest.mark.slow
def test_install_sh_twice_gives_a_working_isolated_vhctl(tmp_path: Path) -> None:
    first = install_sh(tmp_path)
    assert first.returncode == 0, first.stderr
    link = tmp_path / "bin" / "vhctl"
    assert link.is_symlink() and link.resolve() == (tmp_path / "cli-venv" / "bin" / "vhctl").resolve()
    assert f"{tmp_path / 'bin'} is not on your PATH" in first.stdout

    second = install_sh(tmp_path, "--dev")  # safe to run again, and adds the test tools
    assert second.returncode == 0, second.stderr
    helped = subprocess.run([str(link), "--help"], capture_output=True, text=True, cwd=tmp_path)
    assert helped.returncode == 0 and "install" in helped.stdout

    python = tmp_path / "cli-venv" / "bin" / "python"
    probe = ("import importlib.resources as r, sys, vhctl, vhctl_hub, vhctl_templates, pytest\n"
             "print(sys.prefix != sys.base_prefix, vhctl.__file__.startswith(sys.prefix),\n"
             "      (r.files('vhctl_hub') / 'requirements.txt').is_file(),\n"
             "      vhctl_templates.__file__.startswith(sys.prefix))")
    out = subprocess.run([str(python), "-I", "-c", probe], capture_output=True, text=True, cwd=tmp_path)
    assert out.stdout.split() == ["True"] * 4, out.stderr  # a venv, non-editable, package data included
    cfg = (tmp_path / "cli-venv" / "pyvenv.cfg").read_text()
    assert "include-system-site-packages = false" in cfg


def test_install_sh_refuses_python_older_than_3_10(tmp_path: Path) -> None:
    try:
        old = interpreter.find("3.9")
    except VhctlError:
        pytest.skip("no Python 3.9 on this machine")
    run = install_sh(tmp_path, VHCTL_PYTHON=old.executable)
    assert run.returncode == 1
    assert "needs Python 3.10 or newer" in run.stderr and "3.9" in run.stderr
    assert not (tmp_path / "cli-venv").exists()


def test_install_sh_rejects_unknown_options(tmp_path: Path) -> None:
    run = install_sh(tmp_path, "--nope")
    assert run.returncode == 1 and "unknown option '--nope'" in run.stderr


def _tree(folder: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``folder`` with its size and mtime."""
    return {str(p.relative_to(folder)): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in folder.rglob("*")}


@pytest.mark.slow
def test_install_sh_works_from_a_read_only_checkout_and_leaves_it_untouched(tmp_path: Path) -> None:
    """Root ignores write bits, so the checkout is a read-only bind mount in a private mount namespace."""
    if os.geteuid() != 0 or subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0:
        pytest.skip("needs root and unshare for a read-only bind mount")
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    subprocess.run(f"tar -C {REPO} --exclude=./.git --exclude=./build --exclude='*.egg-info' --exclude=__pycache__ "
                   f"-cf - . | tar -C {checkout} -xf -", shell=True, check=True)
    before = _tree(checkout)
    script = ('mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" && touch "$0/probe" 2>/dev/null '
              '&& exit 99; exec bash "$0/install.sh" --no-link')
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "VHCTL_PREFIX": str(tmp_path / "cli-venv"), "VHCTL_BIN_DIR": str(tmp_path / "bin"),
           "TMPDIR": str(temp)}
    run = subprocess.run(["unshare", "-m", "sh", "-c", script, str(checkout)], capture_output=True, text=True,
                         timeout=900, env=env, cwd=tmp_path, stdin=subprocess.DEVNULL)
    assert run.returncode == 0, run.stdout + run.stderr
    assert _tree(checkout) == before
    assert not (tmp_path / "bin").exists()  # --no-link leaves the bin folder alone
    version = subprocess.run([str(tmp_path / "cli-venv" / "bin" / "vhctl"), "--version"], capture_output=True,
                             text=True)
    assert version.returncode == 0 and version.stdout.startswith("vhctl ")
    assert not list(temp.glob("vhctl-build.*"))  # its copy is gone
