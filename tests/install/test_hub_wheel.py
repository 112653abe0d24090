"""The hub package reaches the hub's venv as a wheel that pip builds (from a copy in a temporary
folder) and installs, so `pip list`, `pip check` and `vhctl doctor` see it like any package."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from testkit.cli import REPO

from vhctl import hubvenv

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the CLI runs on 3.10 too
    import tomli as tomllib

MARKER = ".vhctl-install.json"


def requirement_lines() -> list[str]:
    lines = (REPO / "bundle" / "requirements.txt").read_text().splitlines()
    return [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]


def tree_state(folder: Path) -> dict:
    """Every path under ``folder`` with its size and modification time."""
    return {str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns)
            for path in folder.rglob("*")}


def dist_info(hub_venv) -> Path:
    site = Path(hub_venv.first.json()["site_packages"])
    return next(site.glob("vhctl_hub-*.dist-info"))


def doctor_imports(hub_venv, vhctl) -> dict:
    run = vhctl(hub_venv.config, "doctor", "--json", "--timeout", "0.5")
    return next(check for check in run.json()["checks"] if check["name"] == "imports")


def test_the_hub_source_names_every_requirement_and_holds_every_module() -> None:
    source = dict(hubvenv.hub_source())
    project = tomllib.loads(source["pyproject.toml"].decode())
    assert project["project"]["name"] == "vhctl-hub" and project["project"]["version"] == "0.1.0"
    assert project["project"]["dependencies"] == requirement_lines()
    assert project["build-system"]["build-backend"] == "flit_core.buildapi"
    modules = {str(p.relative_to(REPO / "bundle")) for p in (REPO / "bundle").rglob("*.py")
               if "__pycache__" not in p.parts}
    assert {name.removeprefix("vhctl_hub/") for name in source if name.endswith(".py")} == modules
    assert "vhctl_hub/requirements.txt" in source
    assert not [name for name in source if "__pycache__" in name or name.endswith(".pyc")]


@pytest.mark.slow
def test_the_wheel_is_built_from_a_copy_and_leaves_the_checkout_alone(hub_venv, tmp_path: Path) -> None:
    before = tree_state(REPO / "bundle"), sorted(os.listdir(REPO))
    source = hubvenv.hub_source()
    wheel = hubvenv.build_wheel(hub_venv.venv, source, tmp_path)
    assert wheel.name == "vhctl_hub-0.1.0-py3-none-any.whl" and tmp_path in wheel.parents
    assert (tree_state(REPO / "bundle"), sorted(os.listdir(REPO))) == before
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read("vhctl_hub-0.1.0.dist-info/METADATA").decode()
        packed = {name: archive.read(name) for name, _ in source[1:]}
    assert {name for name, _ in source[1:]} <= names
    assert packed == dict(source[1:])  # byte for byte what the package holds
    requires = [line[len("Requires-Dist: "):] for line in metadata.splitlines() if line.startswith("Requires-Dist: ")]
    assert [r.replace(" ", "") for r in requires] == [r.replace(" ", "") for r in requirement_lines()]
    assert "Requires-Python: >=3.9" in metadata


def test_what_is_wrong_with_the_hub_distribution_is_one_phrase() -> None:
    assert hubvenv.dist_problem({"version": "0.1.0", "installer": "pip"}) is None
    assert hubvenv.dist_problem(None) == "pip does not know vhctl-hub (no metadata of it in the venv)"
    assert hubvenv.dist_problem({"version": "0.1.0", "installer": "vhctl"}) == \
        "vhctl-hub was not installed by pip (but by vhctl)"
    assert hubvenv.dist_problem({"version": "0.0.9", "installer": "pip"}) == \
        "the venv has vhctl-hub 0.0.9, this vhctl brings 0.1.0"


@pytest.mark.slow
def test_pip_check_finds_the_hub_venv_consistent(hub_venv) -> None:
    run = subprocess.run([str(hub_venv.venv / "bin" / "python"), "-I", "-m", "pip", "check"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.slow
def test_a_hub_package_pip_did_not_install_is_replaced_by_its_wheel(hub_venv, vhctl) -> None:
    """An earlier vhctl copied the package and wrote its metadata itself (INSTALLER "vhctl"): the
    doctor says so, and the next install lets pip put the wheel in its place."""
    installer = dist_info(hub_venv) / "INSTALLER"
    installer.write_text("vhctl\n")
    imports = doctor_imports(hub_venv, vhctl)
    assert imports["status"] == "fail" and "not installed by pip" in imports["message"], imports
    run = vhctl(hub_venv.config, "install", "--json")
    assert run.returncode == 0, run.stderr
    assert run.json()["changed"] is True and "built vhctl_hub-0.1.0-py3-none-any.whl with pip" in run.stderr
    assert installer.read_text().strip() == "pip"
    imports = doctor_imports(hub_venv, vhctl)
    assert imports["status"] == "ok" and "(pip list: vhctl-hub 0.1.0)" in imports["message"], imports


@pytest.mark.slow
def test_a_changed_package_of_the_same_version_is_reinstalled_whole(hub_venv, vhctl) -> None:
    """Same version, other files (a checkout that moved on): pip would keep the installed copy, so
    the wheel is forced in; a run after that changes nothing."""
    site = Path(hub_venv.first.json()["site_packages"])
    module = site / "vhctl_hub" / "text.py"
    module.write_text("raise ImportError('stale copy')\n")
    marker = json.loads((hub_venv.venv / MARKER).read_text())
    (hub_venv.venv / MARKER).write_text(json.dumps({**marker, "fingerprint": "of another checkout"}))
    run = vhctl(hub_venv.config, "install", "--json")
    assert run.returncode == 0, run.stderr
    assert run.json()["changed"] is True and "built vhctl_hub-0.1.0-py3-none-any.whl with pip" in run.stderr
    assert module.read_bytes() == (REPO / "bundle" / "text.py").read_bytes()
    again = vhctl(hub_venv.config, "install", "--json")
    assert again.returncode == 0 and again.json()["changed"] is False, again.stderr
    assert "already installed" in again.stderr and "built" not in again.stderr
