"""Finding the Python interpreter whose X.Y matches the libpython the hub's plugin embeds.

A venv's compiled packages (pydantic-core, for one) only load into the Python X.Y they were built
for, and the plugin runs exactly one X.Y, fixed when Verlihub was built (vh-plugin.md F1). So the hub
venv must be made by an interpreter of that X.Y. We never trust a file name: every candidate is run
once (``-c``) and asked for its version, and whether it can make venvs (Debian splits ``ensurepip``
into the ``python3.X-venv`` package).
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from vhctl.errors import VhctlError

#: vhctl_hub supports Python 3.9 and newer (team contract).
MIN_VERSION = (3, 9)
VERSION = re.compile(r"^(\d+)\.(\d+)$")
#: Searched first: where distributions put the Python that a system-built Verlihub links to.
SYSTEM_DIRS = ("/usr/bin", "/usr/local/bin")
PROBE_TIMEOUT = 15.0

_PROBE = (
    "import json, os, sys, importlib.util as u\n"
    "exe = getattr(sys, '_base_executable', None) or sys.executable\n"
    "print(json.dumps({'version': list(sys.version_info[:3]), 'executable': os.path.realpath(exe),\n"
    "  'implementation': sys.implementation.name,\n"
    "  'venv': u.find_spec('venv') is not None and u.find_spec('ensurepip') is not None}))\n"
)


@dataclass(frozen=True)
class Interpreter:
    """A Python that answered the probe; ``executable`` is the real (non-venv) interpreter."""

    executable: str
    version: tuple[int, int, int]
    implementation: str
    can_make_venvs: bool

    @property
    def xy(self) -> str:
        return f"{self.version[0]}.{self.version[1]}"

    @property
    def full_version(self) -> str:
        return ".".join(str(part) for part in self.version)


def parse_version(text: str) -> str | None:
    """"3.11" for a version request like "3.11", None for anything else (a path or command)."""
    match = VERSION.match(text.strip())
    return f"{int(match.group(1))}.{int(match.group(2))}" if match else None


def probe(command: Sequence[str]) -> Interpreter | None:
    """Run ``command -I -c PROBE``; None when it is not a working CPython 3 (or too slow to answer)."""
    try:
        result = subprocess.run([*command, "-I", "-c", _PROBE], capture_output=True, text=True,
                                timeout=PROBE_TIMEOUT, stdin=subprocess.DEVNULL)
        data = json.loads(result.stdout.strip().splitlines()[-1]) if result.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None
    if not isinstance(data, dict):
        return None
    return Interpreter(data["executable"], tuple(data["version"]), data["implementation"], data["venv"])


def install_hint(xy: str) -> str:
    """What to install to get Python ``xy`` able to make venvs."""
    return (f"`apt-get install python{xy} python{xy}-venv` (Debian/Ubuntu; older releases get it from "
            f"the deadsnakes PPA) or `pyenv install {xy}`")


def venv_hint(xy: str) -> str:
    return f"`apt-get install python{xy}-venv`"


def candidates(xy: str) -> Iterator[list[str]]:
    """Commands that may run Python ``xy``, most likely first (each yielded once)."""
    name = f"python{xy}"
    dirs = [*SYSTEM_DIRS, *os.environ.get("PATH", "").split(os.pathsep)]
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    dirs += sorted(glob.glob(str(pyenv_root / "versions" / f"{xy}*" / "bin")), reverse=True)
    seen: set[str] = set()
    for directory in dirs:
        path = os.path.join(directory, name) if directory else ""
        if path and os.access(path, os.X_OK) and os.path.realpath(path) not in seen:
            seen.add(os.path.realpath(path))
            yield [path]
    for generic in ("python3", "python"):  # the distribution's default may be the right X.Y
        found = shutil.which(generic)
        if found and os.path.realpath(found) not in seen:
            seen.add(os.path.realpath(found))
            yield [found]
    launcher = shutil.which("py")  # the `py` launcher (python-launcher) picks a version by flag
    if launcher:
        yield [launcher, f"-{xy}"]


def find(xy: str) -> Interpreter:
    """The first interpreter of version ``xy`` that can make venvs, else a VhctlError saying what to
    install."""
    without_venv: Interpreter | None = None
    for command in candidates(xy):
        found = probe(command)
        if found is None or found.xy != xy or found.implementation != "cpython":
            continue
        if found.can_make_venvs:
            return found
        without_venv = without_venv or found
    if without_venv is not None:
        raise VhctlError(f"Python {xy} ({without_venv.executable}) cannot make venvs (no venv/ensurepip "
                         f"module): install it with {venv_hint(xy)} and run again")
    raise VhctlError(f"no Python {xy} found (looked on PATH, in {', '.join(SYSTEM_DIRS)} and "
                     f"~/.pyenv/versions): install it with {install_hint(xy)}, or pass --python PATH")


def resolve(request: str | None, required: str | None, required_by: str = "") -> Interpreter:
    """The interpreter to build the hub venv with.

    ``request`` is ``--python`` (a version like 3.11, a path, or a command on PATH); ``required`` the
    X.Y the plugin embeds (``required_by`` names the plugin in messages). A request that contradicts
    the plugin is refused: such a venv could never be loaded by the hub.
    """
    if request is None and required is None:
        raise VhctlError("which Python does the hub run? give --plugin PATH (the hub's libpython_pi.so) "
                         "or --python VERSION (e.g. --python 3.11)")
    wanted = parse_version(request) if request else required
    if request and wanted is None:
        found = _probe_request(request)
        _check_match(found.xy, request, required, required_by)
        _check_supported(found.xy)
        if not found.can_make_venvs:
            raise VhctlError(f"--python {request} (Python {found.xy}) cannot make venvs (no venv/ensurepip "
                             f"module): install it with {venv_hint(found.xy)} and run again")
        return found
    assert wanted is not None
    if request:
        _check_match(wanted, request, required, required_by)
    _check_supported(wanted)
    return find(wanted)


def _probe_request(request: str) -> Interpreter:
    if os.sep in request or request.startswith("~"):
        path = Path(request).expanduser()
        if not path.exists():
            raise VhctlError(f"--python {request}: no such file; give the path of a Python interpreter "
                             "or a version such as 3.11")
        command = str(path)
    else:
        command = shutil.which(request) or ""
        if not command:
            raise VhctlError(f"--python {request}: no such command on PATH; give the path of a Python "
                             "interpreter or a version such as 3.11")
    found = probe([command])
    if found is None:
        raise VhctlError(f"--python {request}: it did not answer as a Python 3 interpreter; give the path "
                         "of a Python interpreter or a version such as 3.11")
    return found


def _check_match(xy: str, request: str, required: str | None, required_by: str) -> None:
    if required and xy != required:
        raise VhctlError(f"{required_by or 'the plugin'} embeds Python {required} but --python {request} "
                         f"is Python {xy}; the hub can only load a Python {required} venv: drop --python "
                         f"or give a Python {required}")


def _check_supported(xy: str) -> None:
    if tuple(int(part) for part in xy.split(".")) < MIN_VERSION:
        need = ".".join(str(part) for part in MIN_VERSION)
        raise VhctlError(f"Python {xy} is too old for vhctl's hub runtime (it needs {need} or newer); "
                         f"rebuild Verlihub against a newer Python")
