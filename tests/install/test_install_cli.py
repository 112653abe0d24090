"""`vhctl install` through the real CLI in a subprocess: a real venv filled from the package index,
a quick second run, and one-line refusals that leave nothing half-installed (F1, F2)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from testkit.cli import REPO
from vhctl_hub.config import load_settings

from vhctl.errors import VhctlError
from vhctl.installlock import install_lock
from vhctl.output import Progress

THIS = f"{sys.version_info.major}.{sys.version_info.minor}"
OTHER = "3.9" if THIS != "3.9" else "3.10"
MARKER = ".vhctl-install.json"
HUB_REQUIREMENTS = REPO / "bundle" / "requirements.txt"


def venv_python(venv: Path, code: str) -> str:
    result = subprocess.run([str(venv / "bin" / "python"), "-I", "-c", code], capture_output=True,
                            text=True, timeout=120, check=True)
    return result.stdout.strip()


def assert_one_line_error(run, *words: str) -> None:
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    assert lines[-1].startswith("vhctl: error: "), run.stderr
    assert all(not line.startswith("vhctl: error") for line in lines[:-1])
    assert "Traceback" not in run.stderr
    for word in words:
        assert word in lines[-1]


@pytest.mark.slow
def test_F1_first_install_builds_a_working_venv_and_records_it(hub_venv) -> None:
    result = hub_venv.first.json()
    venv, site = hub_venv.venv, Path(result["site_packages"])
    assert {"venv", "python", "site_packages", "plugin_mode", "changed"} <= set(result)
    assert result["changed"] is True and result["python"] == THIS and result["venv"] == str(venv)
    assert venv in site.parents and site.is_dir()
    assert site == Path(venv_python(venv, "import sysconfig; print(sysconfig.get_paths()['purelib'])"))
    assert (venv / MARKER).is_file()
    hub = load_settings(hub_venv.config).hub
    assert (hub.venv, hub.site_packages, hub.python) == (str(venv), str(site), THIS)
    assert "[1/5]" in hub_venv.first.stderr and "Collecting fastapi" in hub_venv.first.stderr
    print(f"first install: {hub_venv.first.seconds:.1f} s")

    hub_file = venv_python(venv, "import vhctl_hub, fastapi, uvicorn, httptools, requests, keyring; "
                                 "print(vhctl_hub.__file__)")
    assert Path(hub_file).parent == site / "vhctl_hub"
    cli_only = venv_python(venv, "import importlib.util as u; "
                                 "print([n for n in ('typer', 'platformdirs', 'vhctl') if u.find_spec(n)])")
    assert cli_only == "[]"


@pytest.mark.slow
def test_the_hub_package_is_a_wheel_pip_installed_and_lists(hub_venv) -> None:
    venv = hub_venv.venv
    shown = subprocess.run([str(venv / "bin" / "python"), "-I", "-m", "pip", "show", "-f", "vhctl-hub"],
                           capture_output=True, text=True, check=True).stdout
    requires = next(line for line in shown.splitlines() if line.startswith("Requires: "))[10:].split(", ")
    wanted = [re.split(r"[<>=!;\s\[]", line, maxsplit=1)[0] for line in HUB_REQUIREMENTS.read_text().splitlines()
              if line.strip() and not line.startswith("#") and ";" not in line]
    assert "Version: 0.1.0" in shown and sorted(n.lower() for n in requires) == sorted(n.lower() for n in wanted)
    site = Path(hub_venv.first.json()["site_packages"])
    dist_info = next(site.glob("vhctl_hub-*.dist-info"))
    assert dist_info.joinpath("INSTALLER").read_text().strip() == "pip"
    assert "Wheel-Version: 1.0" in dist_info.joinpath("WHEEL").read_text()
    assert "vhctl_hub/requirements.txt,sha256=" in dist_info.joinpath("RECORD").read_text()
    listed = subprocess.run([str(venv / "bin" / "python"), "-I", "-m", "pip", "list", "--format", "json"],
                            capture_output=True, text=True, check=True).stdout
    assert {"name": "vhctl-hub", "version": "0.1.0"} in json.loads(listed)
    assert "built vhctl_hub-0.1.0-py3-none-any.whl with pip" in hub_venv.first.stderr
    assert "installed vhctl-hub 0.1.0 with pip" in hub_venv.first.stderr


@pytest.mark.slow
def test_second_run_changes_nothing_and_reuses_the_recorded_venv(hub_venv, vhctl) -> None:
    marker = hub_venv.venv / MARKER
    before = (marker.stat().st_mtime_ns, hub_venv.config.read_bytes())
    run = vhctl(hub_venv.config, "install", "--python", THIS, "--json")  # venv from the config
    assert run.returncode == 0, run.stderr
    assert run.json()["changed"] is False and run.json()["venv"] == str(hub_venv.venv)
    assert "already installed" in run.stderr and "Collecting" not in run.stderr
    assert (marker.stat().st_mtime_ns, hub_venv.config.read_bytes()) == before
    assert not list(hub_venv.config.parent.glob("config.toml.bak*"))
    print(f"second install: {run.seconds:.1f} s (first {hub_venv.first.seconds:.1f} s)")


@pytest.mark.slow
def test_a_second_install_of_the_same_venv_waits_for_the_first(hub_venv) -> None:
    """While one install holds the venv's lock, another says whom it waits for, then finds the venv
    complete and changes nothing."""
    with install_lock(hub_venv.venv, Progress(total=1, quiet=True)):
        second = subprocess.Popen([sys.executable, "-m", "vhctl", "--config", str(hub_venv.config),
                                   "install", "--json"], cwd=REPO, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        seen = []
        for line in second.stderr:
            seen.append(line)
            if "waiting for another vhctl install" in line:
                break
        assert f"(pid {os.getpid()})" in seen[-1], seen
        with pytest.raises(subprocess.TimeoutExpired):   # still waiting while the lock is held
            second.wait(0.5)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, "".join(seen) + err
    assert json.loads(out)["changed"] is False


@pytest.mark.slow
def test_a_damaged_venv_is_repaired_by_the_next_run(hub_venv, vhctl) -> None:
    subprocess.run([str(hub_venv.venv / "bin" / "python"), "-I", "-m", "pip", "uninstall", "-y", "-q", "uvicorn"],
                   check=True, capture_output=True)
    run = vhctl(hub_venv.config, "install", "--json")
    assert run.returncode == 0, run.stderr
    assert run.json()["changed"] is True and "cannot import uvicorn" in run.stderr
    venv_python(hub_venv.venv, "import uvicorn")


@pytest.mark.slow
def test_F2_plugin_mode_is_recorded_and_sub_mode_warns(hub_venv, gcc, vhctl, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    plugin = gcc.plugin(gcc.wrapper("sub", gcc.libpython(THIS)))
    run = vhctl(config, "install", "--plugin", str(plugin), "--venv", str(hub_venv.venv), "--json")
    assert run.returncode == 0, run.stderr
    assert run.json()["plugin_mode"] == "sub" and run.json()["plugin"] == str(plugin)
    assert "vhctl: warning:" in run.stderr and "-DPYTHON_USE_SINGLE_INTERPRETER=ON" in run.stderr
    hub = load_settings(config).hub
    assert (hub.plugin, hub.plugin_mode, hub.python) == (str(plugin), "sub", THIS)

    gcc.plugin(gcc.wrapper("single", gcc.libpython(THIS)))  # the hub was rebuilt in single mode
    run = vhctl(config, "install", "--json")  # the recorded plugin is read again
    assert run.returncode == 0, run.stderr
    assert run.json()["plugin_mode"] == "single" and "warning" not in run.stderr
    assert load_settings(config).hub.plugin_mode == "single"


def test_F1_plugin_embedding_another_python_is_refused(gcc, vhctl, tmp_path: Path) -> None:
    plugin = gcc.plugin(gcc.wrapper("single", gcc.libpython(OTHER)))
    config, venv = tmp_path / "config.toml", tmp_path / "venv"
    run = vhctl(config, "install", "--plugin", str(plugin), "--python", THIS, "--venv", str(venv))
    assert_one_line_error(run, f"embeds Python {OTHER}", f"--python {THIS}")
    assert not venv.exists() and not config.exists()


def test_nonexistent_python_is_one_line(vhctl, tmp_path: Path) -> None:
    run = vhctl(tmp_path / "config.toml", "install", "--python", "/nonexistent/python3.11",
                "--venv", str(tmp_path / "venv"))
    assert_one_line_error(run, "/nonexistent/python3.11", "no such file")
    assert not (tmp_path / "venv").exists()


def test_missing_python_version_says_what_to_install(vhctl, tmp_path: Path) -> None:
    run = vhctl(tmp_path / "config.toml", "install", "--python", "3.99", "--venv", str(tmp_path / "venv"))
    assert_one_line_error(run, "apt-get install python3.99 python3.99-venv")


def test_a_folder_that_is_not_a_venv_is_left_alone(vhctl, tmp_path: Path) -> None:
    target = tmp_path / "data"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    run = vhctl(tmp_path / "config.toml", "install", "--python", sys.executable, "--venv", str(target))
    assert_one_line_error(run, "is not a venv")
    assert [p.name for p in target.iterdir()] == ["keep.txt"]


def test_help_shows_examples(vhctl, tmp_path: Path) -> None:
    run = vhctl(tmp_path / "config.toml", "install", "--help")
    assert run.returncode == 0
    assert "Examples:" in run.stdout and "vhctl install --plugin /usr/local/lib/libpython_pi.so" in run.stdout
    assert "--json" in run.stdout


@pytest.mark.slow
def test_registry_unreachable_leaves_no_venv(vhctl, tmp_path: Path) -> None:
    (tmp_path / "no-wheels").mkdir()
    offline = {"PIP_CONFIG_FILE": os.devnull, "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
               "PIP_FIND_LINKS": str(tmp_path / "no-wheels"), "PIP_RETRIES": "0", "PIP_DEFAULT_TIMEOUT": "3",
               "PIP_NO_CACHE_DIR": "1"}
    config, venv = tmp_path / "config.toml", tmp_path / "venv"
    run = vhctl(config, "install", "--python", sys.executable, "--venv", str(venv), env=offline)
    assert_one_line_error(run, "could not download", "package index")
    assert not venv.exists() and not config.exists()


def _unshare_works(*flags: str) -> bool:
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", *flags, "true"], capture_output=True).returncode == 0


@pytest.mark.slow
def test_no_space_left_leaves_no_venv(vhctl, tmp_path: Path) -> None:
    if not _unshare_works("-rm"):
        pytest.skip("cannot make a private mount namespace here (unshare -rm)")
    small = tmp_path / "small"
    small.mkdir()
    mount_small = ("unshare", "-rm", "sh", "-c", 'mount -t tmpfs -o size=6m tmpfs "$0" && exec "$@"', str(small))
    config, venv = tmp_path / "config.toml", small / "venv"
    run = vhctl(config, "install", "--python", sys.executable, "--venv", str(venv), prefix=mount_small)
    assert_one_line_error(run, "no space left", "df -h")
    assert not config.exists() and not venv.exists()  # the tmpfs is gone; nothing was written outside it


def test_debian_python_without_its_venv_package_gets_the_apt_hint(vhctl, tmp_path: Path) -> None:
    """Debian's python3.X without python3.X-venv: the real interpreter, its ensurepip hidden by an
    empty folder mounted over it in a private mount namespace (what the missing package leaves)."""
    debian_python, ensurepip = Path(f"/usr/bin/python{THIS}"), Path(f"/usr/lib/python{THIS}/ensurepip")
    if not (debian_python.exists() and ensurepip.is_dir()):
        pytest.skip(f"no Debian python{THIS} here")
    if not _unshare_works("-rm"):
        pytest.skip("cannot make a private mount namespace here (unshare -rm)")
    empty = tmp_path / "empty"
    empty.mkdir()
    hide = ("unshare", "-rm", "sh", "-c", 'mount --bind "$0" "$1" && shift && exec "$@"', str(empty), str(ensurepip))
    config, venv = tmp_path / "config.toml", tmp_path / "venv"
    run = vhctl(config, "install", "--python", str(debian_python), "--venv", str(venv), prefix=hide)
    assert_one_line_error(run, f"`apt-get install python{THIS}-venv`", "cannot make venvs")
    assert not config.exists() and not venv.exists()


def test_permission_denied_is_one_line(vhctl, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    prefix: tuple = ()
    if os.geteuid() == 0:  # root ignores modes: drop that power in a user namespace instead
        if not _unshare_works("-r"):
            pytest.skip("running as root and cannot enter a user namespace (unshare -r)")
        os.chown(locked, 65534, 65534)
        prefix = ("unshare", "-r")
    locked.chmod(0o555)
    try:
        run = vhctl(tmp_path / "config.toml", "install", "--python", sys.executable,
                    "--venv", str(locked / "venv"), prefix=prefix)
    finally:
        locked.chmod(0o755)
    assert_one_line_error(run, "permission denied")
    assert list(locked.iterdir()) == [] and not (tmp_path / "config.toml").exists()


def test_an_install_that_waits_too_long_gives_up_in_one_line(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    with install_lock(venv, Progress(total=1, quiet=True)):
        with pytest.raises(VhctlError) as caught:
            with install_lock(venv, Progress(total=1, quiet=True), wait=0.3):
                pass
    assert "another vhctl install of this venv is still running" in str(caught.value)
    assert f"(pid {os.getpid()})" in str(caught.value)
    with install_lock(venv, Progress(total=1, quiet=True), wait=0.3):  # free again
        assert not venv.exists()  # the lock lives beside the venv, never in it
