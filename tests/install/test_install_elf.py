"""vhctl.elf reads DT_NEEDED, .dynsym and read-only strings of real gcc-built libraries (F1, F2), and
of hand-made 32-bit and big-endian files."""

from __future__ import annotations

from pathlib import Path

import pytest

from vhctl.elf import ElfError, ElfFile


def test_F1_needed_lists_the_stub_libpython_by_soname(gcc) -> None:
    stub = gcc.libpython("3.9")
    plugin = gcc.plugin(libpython=stub)
    elf = ElfFile(plugin)
    assert (elf.bits, elf.endian) == (64, "little")
    assert "libpython3.9.so.1.0" in elf.needed
    assert ElfFile(stub).soname == "libpython3.9.so.1.0"


def test_F1_needed_of_a_library_linking_debians_real_libpython(gcc, debian_libpython: Path) -> None:
    plugin = gcc.plugin(libpython=debian_libpython)
    assert "libpython3.11.so.1.0" in ElfFile(plugin).needed


def test_F2_dynsym_tells_imported_from_defined_symbols(gcc) -> None:
    stub = gcc.libpython("3.9")
    wrapper = ElfFile(gcc.wrapper("sub", stub))
    assert {"Py_NewInterpreter", "Py_Initialize", "printf"} <= wrapper.imports()
    assert "w_Load" not in wrapper.imports()
    assert {"w_Load", "w_Begin"} <= {s.name for s in wrapper.dynamic_symbols() if s.defined}
    stub_symbols = {s.name: s for s in ElfFile(stub).dynamic_symbols()}
    assert stub_symbols["Py_NewInterpreter"].defined and stub_symbols["Py_NewInterpreter"].kind == "func"


def test_F2_strings_are_searched_in_read_only_data_not_in_symbol_names(gcc) -> None:
    wrapper = ElfFile(gcc.wrapper("sub", gcc.libpython("3.9")))
    assert wrapper.contains_text(b"Created SUB-interpreter")
    assert not wrapper.contains_text(b"Using SINGLE interpreter mode")
    assert not wrapper.contains_text(b"Py_NewInterpreter")  # a name in .dynstr is not a string literal


def test_runpath_origin_is_expanded(gcc) -> None:
    lib = gcc.library("libx.so", "int x;", links=(gcc.libpython("3.9"),),
                      flags=("-Wl,--no-as-needed", "-Wl,--enable-new-dtags", "-Wl,-rpath,$ORIGIN/sub:/opt/y"))
    assert ElfFile(lib).search_path == [str(lib.parent / "sub"), "/opt/y"]


@pytest.mark.parametrize(("bits", "endian"), [(32, "little"), (32, "big"), (64, "big"), (64, "little")])
def test_F1_hand_made_elf_of_every_class_and_byte_order(tmp_path: Path, elf_bytes, bits: int,
                                                        endian: str) -> None:
    data = elf_bytes(bits, endian, needed=["libc.so.6", "libpython3.12.so.1.0"],
                     soname="libvh_python_wrapper.so", runpath="$ORIGIN/lib",
                     imports=("Py_NewInterpreter", "Py_Initialize"), exports=("w_Load",),
                     rodata=b"PY: [%d:%s] Created SUB-interpreter (isolated)\n\0")
    path = tmp_path / "lib.so"
    path.write_bytes(data)
    elf = ElfFile(path)
    assert (elf.bits, elf.endian) == (bits, endian)
    assert elf.needed == ["libc.so.6", "libpython3.12.so.1.0"]
    assert elf.soname == "libvh_python_wrapper.so"
    assert elf.search_path == [str(tmp_path / "lib")]
    assert elf.imports() == {"Py_NewInterpreter", "Py_Initialize"}
    assert [s.name for s in elf.dynamic_symbols() if s.defined] == ["w_Load"]
    assert elf.contains_text(b"Created SUB-interpreter")


@pytest.mark.parametrize("content", [b"", b"#!/bin/sh\necho hi\n", b"\x7fELF\x02\x01\x01" + b"\0" * 20])
def test_not_an_elf_or_truncated_is_one_line(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "libpython_pi.so"
    path.write_bytes(content)
    with pytest.raises(ElfError) as info:
        ElfFile(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
