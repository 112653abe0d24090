"""The hub's venv: made with the plugin's Python, holding ``vhctl_hub`` and its few dependencies.

Rules this module keeps:
- Only the hub distribution ``vhctl-hub`` (the package ``vhctl_hub`` with its ``requirements.txt``)
  and its dependencies go in; never the CLI's own dependencies. pip builds it into a wheel (from a
  copy made in a temporary folder, never in the checkout, which may be read-only) and installs it,
  so pip lists, checks, upgrades and uninstalls it like any other package.
- Every question about the venv (its site-packages, its version, whether imports work) is asked
  of the venv's own interpreter, because only it knows (Debian, pyenv and python.org builds lay
  venvs out differently).
- Completion is a marker file written LAST, holding a fingerprint of what was installed. A run that
  fails leaves no marker (and a venv it created is removed), so nothing half-installed ever looks
  complete and the next run redoes the work. A run whose fingerprint matches changes nothing.
"""

from __future__ import annotations

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
from typing import Iterator, Optional

import vhctl_hub
from vhctl_hub.config import Settings
from vhctl_hub.files import atomic_write
from vhctl_hub.statedir import fallback_state_dir

from vhctl.errors import VhctlError
from vhctl.interpreter import Interpreter, venv_hint
from vhctl.keyringchoice import choose_keyring
from vhctl.output import Progress

PACKAGE = "vhctl_hub"
#: The hub distribution's name, as ``pip list`` shows it.
DISTRIBUTION = "vhctl-hub"
#: The build backend pip fetches into its isolated build environment to make the hub's wheel:
#: small, with no dependencies, and it packs every file of the package folder.
BUILD_BACKEND = "flit_core>=3.4,<5"
#: The oldest Python the hub side runs on (the hub's, not the CLI's).
HUB_REQUIRES_PYTHON = ">=3.9"
#: Written last; its fingerprint says what a complete install contains.
MARKER = ".vhctl-install.json"
#: Written when vhctl creates a venv: vhctl may rebuild it (never a venv it did not make).
OWNER = ".vhctl-hub-venv"
#: What the hub scripts import; checked with the venv's own interpreter.
CHECK_IMPORTS = (PACKAGE, "fastapi", "uvicorn", "prometheus_client", "requests", "keyring",
                 "keyrings.alt.file")
#: Environment that would send pip somewhere else than this venv, or leak the CLI's packages in.
_FOREIGN_ENV = ("PYTHONPATH", "PYTHONHOME", "PYTHONUSERBASE", "PIP_USER", "PIP_TARGET", "PIP_PREFIX",
                "PIP_ROOT", "PIP_NO_BUILD_ISOLATION", "PIP_REQUIRE_VIRTUALENV")
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
                 "try:\n"
                 "    from importlib import metadata\n"
                 f"    found = metadata.distribution({DISTRIBUTION!r})\n"
                 "    dist = {'version': found.version, 'installer': (found.read_text('INSTALLER') or '').strip()}\n"
                 "except Exception:\n"
                 "    dist = None\n"
                 "print(json.dumps({'bad': bad, 'hub': getattr(hub, '__file__', None), 'dist': dist}))\n")


@dataclass(frozen=True)
class HubVenv:
    path: Path
    python: Path
    version: str
    site_packages: Path
    changed: bool


def ensure(venv: Path, interpreter: Interpreter, progress: Progress, hub_uid: Optional[int] = None) -> HubVenv:
    """Make ``venv`` complete and current, with a keyring chosen for the hub's user ``hub_uid``
    (default: this user); returns what it is. Uses three progress steps."""
    venv = Path(os.path.abspath(Path(venv).expanduser()))
    progress.step(f"Preparing the venv {venv}")
    fresh = _prepare(venv, interpreter, progress)
    try:
        hub = _fill(venv, fresh, progress)
        choose_keyring(venv, _python(venv), os.geteuid() if hub_uid is None else hub_uid, progress)
        return hub
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


def hub_source() -> list[tuple[str, bytes]]:
    """The hub distribution's source tree, ``(relative path, content)``: a ``pyproject.toml`` made
    from the package's version and requirements, then the package's files."""
    files = bundle_files()
    requirements = next(data for name, data in files if name == f"{PACKAGE}/requirements.txt")
    return [("pyproject.toml", hub_pyproject(requirements.decode("utf-8")).encode()), *files]


def hub_pyproject(requirements: str) -> str:
    """The hub distribution's ``pyproject.toml``: its dependencies are the lines of
    ``requirements`` (comments left out), so the wheel's metadata and the file cannot differ."""
    requires = [line.split("#", 1)[0].strip() for line in requirements.splitlines()]
    dependencies = "".join(f"    {json.dumps(line)},\n" for line in requires if line)
    return (f'[build-system]\nrequires = [{json.dumps(BUILD_BACKEND)}]\nbuild-backend = "flit_core.buildapi"\n\n'
            f'[project]\nname = "{DISTRIBUTION}"\nversion = {json.dumps(vhctl_hub.__version__)}\n'
            'description = "vhctl\'s runtime inside the Verlihub hub (installed by `vhctl install`)"\n'
            f'requires-python = "{HUB_REQUIRES_PYTHON}"\ndependencies = [\n{dependencies}]\n')


def fingerprint(files: list[tuple[str, bytes]], python_version: str) -> str:
    """Hash of everything an install depends on: the distribution's source (its package files,
    its metadata and requirements) and the venv's exact Python version."""
    digest = hashlib.sha256(f"vhctl-install 2\0{python_version}\0".encode())
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
        try:
            result = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                                    env=_clean_env())
        except BaseException:  # Ctrl-C: a venv without pip is no venv of ours
            shutil.rmtree(venv, ignore_errors=True)
            raise
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
    source = hub_source()
    digest = fingerprint(source, info["version"])
    progress.step("Installing vhctl_hub and its dependencies")
    current = not fresh and _marker(venv).get("fingerprint") == digest
    if current:
        progress.note("already installed; nothing changed since the last run")
    else:
        _install(venv, source, progress)
    progress.step(f"Checking that the venv imports {', '.join(CHECK_IMPORTS)}")
    problem = _verify(venv, site)
    if problem and current:
        progress.note(f"{problem}; reinstalling")
        current = False
        _install(venv, source, progress)
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


def _install(venv: Path, source: list[tuple[str, bytes]], progress: Progress) -> None:
    """Build the hub's wheel and install it, then its dependencies, with the venv's own pip.

    The wheel is installed first with ``--force-reinstall --no-deps``: pip would otherwise keep an
    installed copy of the same version whose files differ (a changed checkout). The second
    ``pip install`` of the same wheel then only adds the dependencies its metadata names."""
    (venv / MARKER).unlink(missing_ok=True)  # from here on the venv is incomplete until re-marked
    with tempfile.TemporaryDirectory(prefix="vhctl-hub-wheel-") as folder:
        wheel = build_wheel(venv, source, Path(folder))
        progress.note(f"built {wheel.name} with pip")
        _pip(venv, ["install", "--no-deps", "--force-reinstall", str(wheel)], progress)
        _pip(venv, ["install", str(wheel)], progress)
    progress.note(f"installed {DISTRIBUTION} {vhctl_hub.__version__} with pip")


def build_wheel(venv: Path, source: list[tuple[str, bytes]], folder: Path) -> Path:
    """Write ``source`` under ``folder`` and let the venv's pip build it into a wheel there
    (the build backend comes from the package index, into pip's isolated build environment)."""
    tree, out = folder / "source", folder / "wheel"
    for name, data in source:
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_bytes(data)
    _pip(venv, ["wheel", "--no-deps", "--wheel-dir", str(out), str(tree)], None)
    wheels = list(out.glob("*.whl"))
    if len(wheels) != 1:
        raise VhctlError(f"pip wheel made {len(wheels)} wheels of {DISTRIBUTION} instead of one")
    return wheels[0]


def _pip(venv: Path, arguments: list[str], progress: Optional[Progress]) -> None:
    """Run the venv's own pip, showing what it collects."""
    command = [str(_python(venv)), "-I", "-m", "pip", *arguments[:1], "--disable-pip-version-check",
               "--no-input", "--progress-bar", "off", *arguments[1:]]
    lines: list[str] = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          stdin=subprocess.DEVNULL, env=_clean_env()) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip())
            if progress is not None and line.startswith(("Collecting ", "Installing collected packages")):
                progress.note(line.strip()[:150])
    if proc.returncode != 0:
        output = "\n".join(lines)
        raise VhctlError(explain_failure(output, venv) or low_space(venv) or f"pip failed: {_last_line(output)}")


def _verify(venv: Path, site: Path) -> str | None:
    """None when every hub import works from the venv's own site-packages and pip knows the hub
    distribution it installed, else what is wrong."""
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
    return dist_problem(data.get("dist"))


def dist_problem(dist: Optional[dict]) -> str | None:
    """What is wrong with the hub distribution as the venv's import probe found it (None: pip
    installed this vhctl's version)."""
    if not dist:
        return f"pip does not know {DISTRIBUTION} (no metadata of it in the venv)"
    if dist.get("installer") != "pip":
        return f"{DISTRIBUTION} was not installed by pip (but by {dist.get('installer') or 'an unknown tool'})"
    if dist.get("version") != vhctl_hub.__version__:
        return f"the venv has {DISTRIBUTION} {dist.get('version')}, this vhctl brings {vhctl_hub.__version__}"
    return None


# -- the hub's state folder and user ---------------------------------------------------------


def hub_state_dir(settings: Settings) -> Path:
    """The hub's state folder: the configured one, else the default the hub side uses."""
    return Path(settings.hub.state_dir) if settings.hub.state_dir else fallback_state_dir()


def hub_uid(settings: Settings) -> int:
    """The hub's user: the owner of its state folder, else (no hub has run yet) this user."""
    try:
        return os.stat(hub_state_dir(settings)).st_uid
    except OSError:
        return os.geteuid()


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
