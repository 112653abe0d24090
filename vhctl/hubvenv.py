"""The hub's venv: made with the plugin's Python, holding ``vhctl_hub`` and its few dependencies.

Rules this module keeps:
- Only ``vhctl_hub`` (copied from the installed package, with a minimal dist-info so pip knows it)
  and ``vhctl_hub/requirements.txt`` go in; never the CLI's own dependencies.
- Every question about the venv (its site-packages, its version, whether imports work) is asked
  of the venv's own interpreter, because only it knows (Debian, pyenv and python.org builds lay
  venvs out differently).
- Completion is a marker file written LAST, holding a fingerprint of what was installed. A run that
  fails leaves no marker (and a venv it created is removed), so nothing half-installed ever looks
  complete and the next run redoes the work. A run whose fingerprint matches changes nothing.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import importlib.resources
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import vhctl_hub
from vhctl_hub.files import atomic_write

from vhctl.errors import VhctlError
from vhctl.interpreter import Interpreter, venv_hint
from vhctl.output import Progress

PACKAGE = "vhctl_hub"
#: Written last; its fingerprint says what a complete install contains.
MARKER = ".vhctl-install.json"
#: Written when vhctl creates a venv: vhctl may rebuild it (never a venv it did not make).
OWNER = ".vhctl-hub-venv"
#: What the hub scripts import; checked with the venv's own interpreter.
CHECK_IMPORTS = (PACKAGE, "fastapi", "uvicorn", "requests", "keyring")
#: Environment that would send pip somewhere else than this venv, or leak the CLI's packages in.
_FOREIGN_ENV = ("PYTHONPATH", "PYTHONHOME", "PYTHONUSERBASE", "PIP_USER", "PIP_TARGET", "PIP_PREFIX",
                "PIP_ROOT")
_LOW_SPACE = 32 * 1024 * 1024

_SITE_PROBE = ("import json, sys, sysconfig\n"
               "print(json.dumps({'purelib': sysconfig.get_paths()['purelib'],\n"
               "  'version': '%d.%d.%d' % sys.version_info[:3], 'prefix': sys.prefix}))\n")
_IMPORT_PROBE = ("import importlib, json, sys\n"
                 "bad = {}\n"
                 "for name in sys.argv[1:]:\n"
                 "    try:\n"
                 "        importlib.import_module(name)\n"
                 "    except Exception as exc:\n"
                 "        bad[name] = '%s: %s' % (type(exc).__name__, exc)\n"
                 "hub = sys.modules.get('vhctl_hub')\n"
                 "print(json.dumps({'bad': bad, 'hub': getattr(hub, '__file__', None)}))\n")


@dataclass(frozen=True)
class HubVenv:
    path: Path
    python: Path
    version: str
    site_packages: Path
    changed: bool


def ensure(venv: Path, interpreter: Interpreter, progress: Progress) -> HubVenv:
    """Make ``venv`` complete and current; returns what it is. Uses three progress steps."""
    venv = Path(os.path.abspath(Path(venv).expanduser()))
    progress.step(f"Preparing the venv {venv}")
    fresh = _prepare(venv, interpreter, progress)
    try:
        return _fill(venv, fresh, progress)
    except OSError as exc:
        raise os_error(exc, venv) from None
    finally:
        if fresh and not _marker(venv):
            shutil.rmtree(venv, ignore_errors=True)


def bundle_files() -> list[tuple[str, bytes]]:
    """``(path inside site-packages, content)`` of every file of the hub package: its ``.py``
    files and ``requirements.txt``, never ``__pycache__``."""

    def walk(node, prefix: str) -> Iterator[tuple[str, bytes]]:
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            if child.is_dir():
                if child.name != "__pycache__":
                    yield from walk(child, f"{prefix}{child.name}/")
            elif child.name.endswith(".py") or child.name == "requirements.txt":
                yield f"{prefix}{child.name}", child.read_bytes()

    return list(walk(importlib.resources.files(PACKAGE), f"{PACKAGE}/"))


def fingerprint(files: list[tuple[str, bytes]], python_version: str) -> str:
    """Hash of everything an install depends on: the package files, its requirements (one of the
    files) and the venv's exact Python version."""
    digest = hashlib.sha256(f"vhctl-install 1\0{python_version}\0".encode())
    for name, data in files:
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def os_error(exc: OSError, where: Path) -> VhctlError:
    """One line for an OSError met while building the venv at ``where``."""
    target = exc.filename or where
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return VhctlError(no_space(where))
    if exc.errno in (errno.EACCES, errno.EPERM):
        return VhctlError(f"permission denied writing {target}: run as the user that owns "
                          f"{where.parent} (or as root for a system path), or choose another --venv")
    if exc.errno == errno.EROFS:
        return VhctlError(f"cannot write {target}: read-only file system; choose another --venv")
    return VhctlError(f"cannot write {target}: {exc.strerror or exc}")


def no_space(where: Path) -> str:
    return (f"no space left on the disk holding {where}: free some space (see `df -h {_existing(where)}`) "
            "and run `vhctl install` again")


# -- preparing the venv --------------------------------------------------------------------------


def _prepare(venv: Path, interpreter: Interpreter, progress: Progress) -> bool:
    """Create, rebuild or reuse the venv; True when it was (re)created by this run."""
    if venv.exists() and not venv.is_dir():
        raise VhctlError(f"--venv {venv} is a file; choose a folder")
    if not venv.exists() or not any(venv.iterdir()):
        _create(venv, interpreter, clear=False)
        progress.note(f"created with Python {interpreter.full_version} ({interpreter.executable})")
        return True
    if not (venv / "pyvenv.cfg").is_file():
        raise VhctlError(f"{venv} exists and is not a venv; choose another --venv or remove it")
    current = _venv_version(venv)
    if current is not None and current.rsplit(".", 1)[0] == interpreter.xy:
        progress.note(f"reusing it (Python {current})")
        return False
    found = f"Python {current}" if current else "a broken interpreter"
    if not (venv / OWNER).is_file():
        raise VhctlError(f"{venv} is a venv with {found} that vhctl did not make, but the hub needs "
                         f"Python {interpreter.xy}; choose another --venv or remove it")
    progress.note(f"it has {found}; rebuilding it with Python {interpreter.full_version}")
    _create(venv, interpreter, clear=True)
    return True


def _create(venv: Path, interpreter: Interpreter, clear: bool) -> None:
    """``python -m venv``, then ensurepip run by us: venv hides ensurepip's output, which is the
    only place that says why it failed (no space, or Debian's missing python3.X-venv)."""
    try:
        venv.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise os_error(exc, venv) from None
    steps = [
        [interpreter.executable, "-I", "-m", "venv", "--without-pip", *(["--clear"] if clear else []), str(venv)],
        [str(_python(venv)), "-I", "-m", "ensurepip", "--upgrade", "--default-pip"],
    ]
    for command in steps:
        result = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                                env=_clean_env())
        if result.returncode != 0:
            shutil.rmtree(venv, ignore_errors=True)
            output = result.stdout + result.stderr
            missing = any(sign in output for sign in ("No module named ensurepip", "No module named venv",
                                                      "ensurepip is not available"))
            raise VhctlError(
                explain_failure(output, venv)
                or (f"Python {interpreter.xy} ({interpreter.executable}) cannot make venvs (its venv/ensurepip "
                    f"module is missing): install it with {venv_hint(interpreter.xy)} and run again"
                    if missing else None)
                or low_space(venv)
                or f"`{' '.join(command)}` failed: {_last_line(output)}")
    try:
        (venv / OWNER).write_text("made by `vhctl install`, which may rebuild this venv\n")
    except OSError as exc:
        raise os_error(exc, venv) from None


def _venv_version(venv: Path) -> str | None:
    try:
        return _ask(venv)["version"]
    except VhctlError:
        return None


def _python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _ask(venv: Path) -> dict:
    """Site-packages, version and prefix, from the venv's own interpreter."""
    try:
        result = subprocess.run([str(_python(venv)), "-I", "-c", _SITE_PROBE], capture_output=True,
                                text=True, timeout=60, stdin=subprocess.DEVNULL)
        if result.returncode == 0:
            return json.loads(result.stdout.strip().splitlines()[-1])
        detail = _last_line(result.stderr)
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
        detail = str(exc)
    raise VhctlError(f"the venv's interpreter {_python(venv)} does not run ({detail})")


# -- filling it --------------------------------------------------------------------------------


def _fill(venv: Path, fresh: bool, progress: Progress) -> HubVenv:
    info = _ask(venv)
    site = Path(info["purelib"])
    if Path(os.path.realpath(info["prefix"])) != Path(os.path.realpath(venv)):
        raise VhctlError(f"{_python(venv)} reports the prefix {info['prefix']}, not {venv}; the venv is "
                         "damaged: remove it and run `vhctl install` again")
    files = bundle_files()
    digest = fingerprint(files, info["version"])
    progress.step("Installing vhctl_hub and its dependencies")
    current = not fresh and _marker(venv).get("fingerprint") == digest
    if current:
        progress.note("already installed; nothing changed since the last run")
    else:
        _install(venv, site, files, progress)
    progress.step(f"Checking that the venv imports {', '.join(CHECK_IMPORTS)}")
    problem = _verify(venv, site)
    if problem and current:
        progress.note(f"{problem}; reinstalling")
        current = False
        _install(venv, site, files, progress)
        problem = _verify(venv, site)
    if problem:
        raise VhctlError(f"the hub venv {venv} is not usable: {problem}; run `vhctl install` again")
    if not current:
        marker = {"fingerprint": digest, "python": info["version"], "vhctl_hub": vhctl_hub.__version__,
                  "site_packages": str(site)}
        atomic_write(venv / MARKER, json.dumps(marker, indent=2, sort_keys=True) + "\n")
    return HubVenv(venv, _python(venv), info["version"], site, changed=fresh or not current)


def _marker(venv: Path) -> dict:
    try:
        data = json.loads((venv / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _install(venv: Path, site: Path, files: list[tuple[str, bytes]], progress: Progress) -> None:
    (venv / MARKER).unlink(missing_ok=True)  # from here on the venv is incomplete until re-marked
    install_package(site, files)
    progress.note(f"copied {PACKAGE} {vhctl_hub.__version__} into {site}")
    _pip_install(venv, site / PACKAGE / "requirements.txt", progress)


def install_package(site: Path, files: list[tuple[str, bytes]]) -> None:
    """Put the package and its dist-info into ``site`` atomically: both are built in a staging
    folder beside them, then renamed into place (a rename within one file system is atomic)."""
    for leftover in site.glob(f".{PACKAGE}-*"):  # staging folders of an interrupted run
        shutil.rmtree(leftover, ignore_errors=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{PACKAGE}-new-", dir=site))
    old = Path(tempfile.mkdtemp(prefix=f".{PACKAGE}-old-", dir=site))
    try:
        for name, data in files:
            (stage / name).parent.mkdir(parents=True, exist_ok=True)
            (stage / name).write_bytes(data)
        _write_dist_info(stage, files)
        for previous in [site / PACKAGE, *site.glob(f"{PACKAGE}-*.dist-info")]:
            if previous.exists():
                previous.rename(old / previous.name)
        for entry in stage.iterdir():
            entry.rename(site / entry.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def _write_dist_info(stage: Path, files: list[tuple[str, bytes]]) -> None:
    """A minimal dist-info (METADATA, INSTALLER, RECORD) so that pip lists, checks and can
    uninstall the package."""
    dist = f"{PACKAGE}-{vhctl_hub.__version__}.dist-info"
    requires = [line.split("#", 1)[0].strip() for name, data in files
                if name == f"{PACKAGE}/requirements.txt" for line in data.decode().splitlines()]
    metadata = "".join([
        "Metadata-Version: 2.1\n",
        "Name: vhctl-hub\n",
        f"Version: {vhctl_hub.__version__}\n",
        "Summary: vhctl's runtime inside the Verlihub hub (installed by `vhctl install`)\n",
        "Requires-Python: >=3.9\n",
        *(f"Requires-Dist: {requirement}\n" for requirement in requires if requirement),
    ])
    extra = [(f"{dist}/METADATA", metadata.encode()), (f"{dist}/INSTALLER", b"vhctl\n")]
    lines = []
    for name, data in [*files, *extra]:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(f"{name},sha256={digest},{len(data)}\n")
    for name, data in extra:
        (stage / name).parent.mkdir(parents=True, exist_ok=True)
        (stage / name).write_bytes(data)
    (stage / dist / "RECORD").write_text("".join(lines) + f"{dist}/RECORD,,\n")


def _pip_install(venv: Path, requirements: Path, progress: Progress) -> None:
    """Install the requirements with the venv's own pip, showing what it collects."""
    command = [str(_python(venv)), "-I", "-m", "pip", "install", "--disable-pip-version-check",
               "--no-input", "--progress-bar", "off", "-r", str(requirements)]
    lines: list[str] = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          stdin=subprocess.DEVNULL, env=_clean_env()) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip())
            if line.startswith(("Collecting ", "Installing collected packages")):
                progress.note(line.strip()[:150])
    if proc.returncode != 0:
        output = "\n".join(lines)
        raise VhctlError(explain_failure(output, venv) or low_space(venv) or f"pip failed: {_last_line(output)}")


def _verify(venv: Path, site: Path) -> str | None:
    """None when every hub import works from the venv's own site-packages, else what is wrong."""
    try:
        result = subprocess.run([str(_python(venv)), "-I", "-c", _IMPORT_PROBE, *CHECK_IMPORTS],
                                capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
        data = json.loads(result.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
        return f"its interpreter does not run ({exc})"
    if data["bad"]:
        return "; ".join(f"cannot import {name} ({why})" for name, why in data["bad"].items())
    hub_file = Path(os.path.realpath(data["hub"] or ""))
    if Path(os.path.realpath(site)) not in hub_file.parents:
        return f"{PACKAGE} is imported from {data['hub']}, not from {site}"
    return None


# -- explaining failures ----------------------------------------------------------------------


_NETWORK_SIGNS = ("Failed to establish a new connection", "Max retries exceeded", "Temporary failure in "
                  "name resolution", "Name or service not known", "Network is unreachable",
                  "Connection refused", "ConnectionError", "Could not fetch URL", "Read timed out",
                  "ProxyError", "SSLError", "(from versions: none)")


def explain_failure(output: str, where: Path) -> str | None:
    """One line for a failed venv/pip run from the cause its output names (None if it names none)."""
    if "[Errno 28]" in output or "No space left on device" in output:
        return no_space(where)
    if "[Errno 13]" in output or "Permission denied" in output:
        return (f"permission denied writing {where}: run as the user that owns it (or as root for a "
                "system path), or choose another --venv")
    if "[Errno 30]" in output or "Read-only file system" in output:
        return f"cannot write {where}: read-only file system; choose another --venv"
    if any(sign in output for sign in _NETWORK_SIGNS):
        missing = next((line.split(" for ", 1)[1] for line in output.splitlines()
                        if line.startswith("ERROR: No matching distribution found for ")), "the packages")
        return (f"could not download {missing} from the package index: check the network, proxy "
                "settings (HTTPS_PROXY) and pip's index (`pip config list`), then run `vhctl install` again")
    return None


def low_space(where: Path) -> str | None:
    """The no-space message when the disk holding ``where`` is (nearly) full: some tools report a
    full disk only as a failed subprocess."""
    try:
        return no_space(where) if shutil.disk_usage(_existing(where)).free < _LOW_SPACE else None
    except OSError:
        return None


def _existing(path: Path) -> Path:
    """``path`` or its nearest existing parent (for disk-space questions about a folder not made yet)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR")]
    return (errors or lines or ["(no output)"])[-1]


def _clean_env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key not in _FOREIGN_ENV}
