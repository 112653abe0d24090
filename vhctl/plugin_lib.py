"""What a built Verlihub Python plugin tells about itself: its Python version and its build mode.

Facts used (vh-plugin.md; source Verlihub/verlihub plugins/python):
- F1: CMake links ``libvh_python_wrapper.so`` and ``libpython_pi.so`` against ONE libpython, so the
  ``libpython3.X.so`` among their ``DT_NEEDED`` entries is the Python every script runs in. When the
  toolchain links with ``--as-needed`` only the wrapper (which calls the Python API) keeps that entry,
  so the wrapper next to the plugin is read too.
- F2: the build mode is a compile-time switch (``-DPYTHON_USE_SINGLE_INTERPRETER=ON`` defines
  ``PYTHON_SINGLE_INTERPRETER``) inside ``wrapper.cpp``, i.e. in ``libvh_python_wrapper.so``:
  * ``w_Load`` calls ``Py_NewInterpreter()`` only in the ``#else`` (sub-interpreter) branch, and
    ``w_Unload``/``w_End`` call ``Py_EndInterpreter`` only there. A single-mode wrapper therefore does
    not import ``Py_NewInterpreter`` at all: the import (an undefined ``.dynsym`` symbol) is the
    decisive marker, and a wrapper that starts Python (imports ``Py_Initialize``) without it can
    only run the single mode.
  * each branch logs its own line on every load, kept in ``.rodata`` as a printf format:
    "Using SINGLE interpreter mode" (single) and "Created SUB-interpreter" (sub). These confirm the
    symbol evidence; if the two kinds disagree the mode is reported as unknown.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from vhctl.elf import ElfError, ElfFile
from vhctl.errors import VhctlError

PLUGIN_FILE = "libpython_pi.so"
WRAPPER_FILE = "libvh_python_wrapper.so"
#: File names `--plugin DIR` looks for, in order.
PLUGIN_FILES = (PLUGIN_FILE, WRAPPER_FILE)

#: libpython3.11.so.1.0, libpython3.13t.so.1.0 (free-threaded), libpython3.9d.so ...
LIBPYTHON = re.compile(r"^libpython(\d+)\.(\d+)[a-z]*\.so(\.[0-9.]+)?$")

SINGLE_TEXT = b"Using SINGLE interpreter mode"
SUB_TEXT = b"Created SUB-interpreter"
SUB_SYMBOLS = ("Py_NewInterpreter", "Py_NewInterpreterFromConfig")
START_SYMBOLS = ("Py_Initialize", "Py_InitializeEx", "Py_InitializeFromConfig")

#: Where a library without a usable RUNPATH is looked for (after the plugin's own folder).
LIBRARY_DIRS = ("/usr/local/lib", "/usr/local/lib64", "/usr/lib", "/usr/lib64", "/lib", "/lib64",
                "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib/i386-linux-gnu",
                "/usr/lib/arm-linux-gnueabihf")

SINGLE, SUB, UNKNOWN = "single", "sub", "unknown"
SINGLE_MODE_OPTION = "-DPYTHON_USE_SINGLE_INTERPRETER=ON"
_GIVE_PLUGIN = "give the path of the Verlihub Python plugin (often /usr/local/lib/libpython_pi.so)"


@dataclass(frozen=True)
class PluginInfo:
    """What was learnt from the plugin; ``python`` is "X.Y" or None when it cannot be told."""

    path: Path
    libraries: tuple[Path, ...]
    libpython: str | None
    python: str | None
    mode: str
    evidence: str


def locate(path: Path) -> Path:
    """The plugin library itself: ``path``, or the plugin file inside the folder ``path``."""
    path = Path(path).expanduser()
    if path.is_dir():
        for name in PLUGIN_FILES:
            if (path / name).is_file():
                return (path / name).resolve()
        raise VhctlError(f"--plugin {path}: no {' or '.join(PLUGIN_FILES)} in that folder; {_GIVE_PLUGIN}")
    if not path.exists():
        raise VhctlError(f"--plugin {path}: no such file; {_GIVE_PLUGIN}")
    return path.resolve()


def inspect(path: Path) -> PluginInfo:
    """Read the plugin (and the wrapper library it uses) without loading either."""
    lib = locate(path)
    try:
        files = [ElfFile(lib)]
        wrapper = _find_wrapper(files[0])
        if wrapper is not None and wrapper.resolve() != lib:
            files.append(ElfFile(wrapper))
        libpython, python = _embedded_python(files)
        mode, evidence = build_mode(files)
    except ElfError as exc:
        raise VhctlError(f"--plugin: {exc}") from None
    return PluginInfo(lib, tuple(f.path for f in files), libpython, python, mode, evidence)


def _find_wrapper(plugin: ElfFile) -> Path | None:
    """The wrapper library the plugin loads: from its DT_NEEDED, else beside it (older builds
    loaded the wrapper as a separate module instead of linking it)."""
    if plugin.path.name.startswith("libvh_python_wrapper"):
        return None
    names = [n for n in plugin.needed if "vh_python_wrapper" in n] or [WRAPPER_FILE]
    folder = plugin.path.parent
    for name in names:
        if "/" in name:  # linked by path (a wrapper without SONAME): try it, then its file name
            if Path(name).is_file():
                return Path(name)
            name = Path(name).name
        dirs = [*plugin.search_path, str(folder),
                *os.environ.get("LD_LIBRARY_PATH", "").split(":"), *LIBRARY_DIRS]
        for directory in dirs:
            if directory and (Path(directory) / name).is_file():
                return Path(directory) / name
    return None


def _embedded_python(files: list[ElfFile]) -> tuple[str | None, str | None]:
    """The libpython soname the plugin needs, and its "X.Y"."""
    found: dict[str, str] = {}
    for elf in files:
        for name in elf.needed:
            match = LIBPYTHON.match(name)
            if match:
                found[name] = f"{match.group(1)}.{match.group(2)}"
    versions = sorted(set(found.values()))
    if len(versions) > 1:
        raise VhctlError(f"--plugin {files[0].path}: it links several Pythons ({', '.join(sorted(found))}); "
                         "rebuild Verlihub against one Python")
    if not found:
        return None, None
    name = sorted(found)[0]
    return name, found[name]


def build_mode(files: list[ElfFile]) -> tuple[str, str]:
    """``(mode, evidence)``: "single", "sub" or "unknown", and one line saying why."""
    imports = {elf.path.name: elf.imports() for elf in files}
    single_text = [elf.path.name for elf in files if elf.contains_text(SINGLE_TEXT)]
    sub_text = [elf.path.name for elf in files if elf.contains_text(SUB_TEXT)]
    creates = [name for name, names in imports.items() if any(s in names for s in SUB_SYMBOLS)]
    starts = [name for name, names in imports.items() if any(s in names for s in START_SYMBOLS)]
    if (creates or sub_text) and single_text:
        return UNKNOWN, (f"contradictory markers: {', '.join(creates + sub_text)} (sub-interpreter) and "
                         f"{', '.join(single_text)} (single-interpreter)")
    if creates:
        return SUB, f"{creates[0]} imports Py_NewInterpreter (one sub-interpreter per script)"
    if sub_text:
        return SUB, f"{sub_text[0]} logs \"{SUB_TEXT.decode()}\""
    if single_text:
        return SINGLE, f"{single_text[0]} logs \"{SINGLE_TEXT.decode()}\""
    if starts:
        return SINGLE, f"{starts[0]} starts Python but never creates a sub-interpreter"
    return UNKNOWN, (f"{WRAPPER_FILE} was not found next to {files[0].path.name}, and the build mode "
                     "is compiled into it")
