"""Fixtures for `vhctl install`: real shared libraries built with gcc, a hand-made ELF writer for the
layouts gcc here cannot produce, and one real hub venv shared by the whole test session."""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
from testkit.cli import Run, run_vhctl

DEBIAN_LIBPYTHON = Path("/usr/lib/x86_64-linux-gnu/libpython3.11.so")
THIS_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"

#: What the fake libraries define or call: the Python API names the plugin really uses.
STUB_LIBPYTHON = """
void Py_Initialize(void) {}
void *Py_NewInterpreter(void) { return 0; }
void Py_EndInterpreter(void *state) { (void)state; }
int PyRun_FileExFlags(void *fp, const char *name, int start, void *g, void *l, int close, void *flags)
{ (void)fp; (void)name; (void)start; (void)g; (void)l; (void)close; (void)flags; return 0; }
"""
#: Bodies of fake libvh_python_wrapper.so builds. "sub" is built like the default mode (one
#: interpreter per script, and its log line); "single" like -DPYTHON_USE_SINGLE_INTERPRETER=ON (runs
#: files in __main__, logs its mode); "plain" starts Python and logs nothing; "both" has contradictory
#: markers.
WRAPPERS = {
    "sub": """
#include <stdio.h>
extern void Py_Initialize(void);
extern void *Py_NewInterpreter(void);
int w_Begin(void) { Py_Initialize(); return 1; }
int w_Load(int id, const char *name) {
    void *state = Py_NewInterpreter();
    printf("PY: [%d:%s] Created SUB-interpreter (isolated, threading limited)\\n", id, name);
    return state != 0;
}
""",
    "single": """
#include <stdio.h>
extern void Py_Initialize(void);
extern int PyRun_FileExFlags(void *, const char *, int, void *, void *, int, void *);
int w_Begin(void) { Py_Initialize(); return 1; }
int w_Load(int id, const char *name) {
    printf("PY: [%d:%s] Using SINGLE interpreter mode (threading-safe, data shared)\\n", id, name);
    return PyRun_FileExFlags(0, name, 257, 0, 0, 0, 0);
}
""",
    "plain": """
extern void Py_Initialize(void);
int w_Begin(void) { Py_Initialize(); return 1; }
""",
    "both": """
#include <stdio.h>
extern void Py_Initialize(void);
extern void *Py_NewInterpreter(void);
int w_Begin(void) { Py_Initialize(); return Py_NewInterpreter() != 0; }
int w_Load(int id) { printf("PY: [%d] Using SINGLE interpreter mode\\n", id); return 0; }
""",
}
#: The plugin proper: it only calls into the wrapper (so with --as-needed it does not need libpython).
PLUGIN = """
extern int w_Begin(void);
int plugin_start(void) { return w_Begin(); }
"""


@dataclass
class Compiler:
    """Builds shared libraries with the system gcc into one folder."""

    folder: Path

    def library(self, name: str, source: str, links: tuple = (), soname: str | None = None,
                flags: tuple = ("-Wl,--no-as-needed",), subdir: str = "") -> Path:
        out_dir = self.folder / subdir
        out_dir.mkdir(parents=True, exist_ok=True)
        src = out_dir / f"{name}.c"
        src.write_text(source)
        out = out_dir / name
        command = ["gcc", "-shared", "-fPIC", "-o", str(out), str(src), *flags,
                   *([f"-Wl,-soname,{soname}"] if soname else []), *[str(link) for link in links]]
        subprocess.run(command, check=True, capture_output=True, text=True)
        return out

    def libpython(self, version: str) -> Path:
        """A stub ``libpython{version}.so.1.0`` (with that soname) defining the API names used."""
        name = f"libpython{version}.so.1.0"
        return self.library(name, STUB_LIBPYTHON, soname=name)

    def wrapper(self, mode: str, libpython: Path, subdir: str = "") -> Path:
        """A fake ``libvh_python_wrapper.so`` of the given build (see WRAPPERS) linking ``libpython``."""
        return self.library("libvh_python_wrapper.so", WRAPPERS[mode], links=(libpython,),
                            soname="libvh_python_wrapper.so", subdir=subdir)

    def plugin(self, wrapper: Path | None = None, libpython: Path | None = None, runpath: str = "") -> Path:
        """A fake ``libpython_pi.so``: linking the wrapper as with ``--as-needed`` (so it does not
        need libpython itself), or, without a wrapper, only linking ``libpython`` (no markers)."""
        if wrapper is None:
            return self.library("libpython_pi.so", "int plugin_start(void) { return 0; }", links=(libpython,))
        flags = ("-Wl,--as-needed", *(("-Wl,--enable-new-dtags", f"-Wl,-rpath,{runpath}") if runpath else ()))
        return self.library("libpython_pi.so", PLUGIN, links=(wrapper, *((libpython,) if libpython else ())),
                            flags=flags)


@pytest.fixture
def gcc(tmp_path: Path) -> Compiler:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    return Compiler(tmp_path)


@pytest.fixture
def debian_libpython() -> Path:
    if not DEBIAN_LIBPYTHON.exists():
        pytest.skip(f"{DEBIAN_LIBPYTHON} is not installed (Debian's libpython3.11-dev)")
    return DEBIAN_LIBPYTHON


def make_elf(bits: int, endian: str, needed: list[str], soname: str | None = None,
             runpath: str | None = None, imports: tuple = (), exports: tuple = (),
             rodata: bytes = b"") -> bytes:
    """A minimal but well-formed ELF shared object (header, PT_LOAD + PT_DYNAMIC, .dynstr, .dynsym,
    .dynamic, .rodata, .shstrtab), for the classes and byte orders gcc cannot build here."""
    e = "<" if endian == "little" else ">"
    wide = bits == 64
    ehsize, phentsize, shentsize = (64, 56, 64) if wide else (52, 32, 40)
    symsize, dynsize = (24, 16) if wide else (16, 8)

    strtab = bytearray(b"\0")

    def add(text: str) -> int:
        strtab.extend(text.encode() + b"\0")
        return len(strtab) - len(text) - 1

    dyn = [(1, add(name)) for name in needed]
    if soname:
        dyn.append((14, add(soname)))
    if runpath:
        dyn.append((29, add(runpath)))
    symbols = [(add(name), False) for name in imports] + [(add(name), True) for name in exports]

    phoff = ehsize
    dynstr_off = phoff + 2 * phentsize
    dynsym_off = dynstr_off + len(strtab) + (-(dynstr_off + len(strtab)) % 8)
    dynsym_size = (len(symbols) + 1) * symsize
    dynamic_off = dynsym_off + dynsym_size
    dyn_entries = [*dyn, (5, dynstr_off), (10, len(strtab)), (0, 0)]
    dynamic_size = len(dyn_entries) * dynsize
    rodata_off = dynamic_off + dynamic_size
    shstr = b"\0.dynstr\0.dynsym\0.dynamic\0.rodata\0.shstrtab\0"
    shstr_off = rodata_off + len(rodata)
    shoff = shstr_off + len(shstr) + (-(shstr_off + len(shstr)) % 8)
    total = shoff + 6 * shentsize

    out = bytearray(total)
    out[0:16] = b"\x7fELF" + bytes([2 if wide else 1, 1 if endian == "little" else 2, 1]) + bytes(9)
    header = "HHIQQQIHHHHHH" if wide else "HHIIIIIHHHHHH"
    struct.pack_into(e + header, out, 16, 3, 62 if wide else 3, 1, 0, phoff, shoff, 0, ehsize,
                     phentsize, 2, shentsize, 6, 5)
    if wide:
        seg = "IIQQQQQQ"
        struct.pack_into(e + seg, out, phoff, 1, 5, 0, 0, 0, total, total, 0x1000)
        struct.pack_into(e + seg, out, phoff + phentsize, 2, 6, dynamic_off, dynamic_off, dynamic_off,
                         dynamic_size, dynamic_size, 8)
    else:
        seg = "IIIIIIII"
        struct.pack_into(e + seg, out, phoff, 1, 0, 0, 0, total, total, 5, 0x1000)
        struct.pack_into(e + seg, out, phoff + phentsize, 2, dynamic_off, dynamic_off, dynamic_off,
                         dynamic_size, dynamic_size, 6, 4)
    out[dynstr_off:dynstr_off + len(strtab)] = strtab
    for i, (name, defined) in enumerate(symbols, start=1):
        info, shndx = (0x12, 5 if defined else 0)  # global function; defined ones "in" .rodata
        if wide:
            struct.pack_into(e + "IBBHQQ", out, dynsym_off + i * symsize, name, info, 0, shndx, 0, 0)
        else:
            struct.pack_into(e + "IIIBBH", out, dynsym_off + i * symsize, name, 0, 0, info, 0, shndx)
    for i, (tag, value) in enumerate(dyn_entries):
        struct.pack_into(e + ("qQ" if wide else "iI"), out, dynamic_off + i * dynsize, tag, value)
    out[rodata_off:rodata_off + len(rodata)] = rodata
    out[shstr_off:shstr_off + len(shstr)] = shstr
    section = "IIQQQQIIQQ" if wide else "IIIIIIIIII"
    sections = [
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
        (1, 3, 2, dynstr_off, dynstr_off, len(strtab), 0, 0, 1, 0),
        (9, 11, 2, dynsym_off, dynsym_off, dynsym_size, 1, 1, 8, symsize),
        (17, 6, 3, dynamic_off, dynamic_off, dynamic_size, 1, 0, 8, dynsize),
        (26, 1, 2, rodata_off, rodata_off, len(rodata), 0, 0, 1, 0),
        (34, 3, 0, 0, shstr_off, len(shstr), 0, 0, 1, 0),
    ]
    for i, fields in enumerate(sections):
        struct.pack_into(e + section, out, shoff + i * shentsize, *fields)
    return bytes(out)


# -- running the real CLI --------------------------------------------------------------------------


@dataclass
class HubVenvRun:
    """The session's real hub venv: its folder, config file and the first install's run."""

    venv: Path
    config: Path
    first: Run


@pytest.fixture(scope="session")
def hub_venv(tmp_path_factory: pytest.TempPathFactory) -> HubVenvRun:
    """One real `vhctl install` (a venv of the Python running the tests, packages from the index),
    built once for the whole session because it downloads."""
    root = tmp_path_factory.mktemp("hubvenv")
    config = root / "config.toml"
    first = run_vhctl(config, "install", "--python", sys.executable, "--venv", str(root / "venv"), "--json")
    assert first.returncode == 0, first.stderr
    return HubVenvRun(root / "venv", config, first)


@pytest.fixture
def elf_bytes() -> Callable[..., bytes]:
    return make_elf
