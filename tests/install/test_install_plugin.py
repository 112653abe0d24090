"""vhctl.plugin_lib: the plugin's Python (F1) and build mode (F2) from real gcc-built libraries."""

from __future__ import annotations

from pathlib import Path

import pytest

from vhctl import plugin_lib
from vhctl.elf import ElfFile
from vhctl.errors import VhctlError


def test_F2_sub_mode_wrapper_is_detected_through_the_plugin(gcc) -> None:
    plugin = gcc.plugin(gcc.wrapper("sub", gcc.libpython("3.9")))
    info = plugin_lib.inspect(plugin)
    assert (info.python, info.libpython, info.mode) == ("3.9", "libpython3.9.so.1.0", "sub")
    assert "Py_NewInterpreter" in info.evidence
    assert [p.name for p in info.libraries] == ["libpython_pi.so", "libvh_python_wrapper.so"]


def test_F2_single_mode_wrapper_is_detected_by_its_log_line(gcc) -> None:
    info = plugin_lib.inspect(gcc.plugin(gcc.wrapper("single", gcc.libpython("3.12"))))
    assert (info.python, info.mode) == ("3.12", "single")
    assert "Using SINGLE interpreter mode" in info.evidence


def test_F2_a_wrapper_starting_python_without_sub_interpreters_is_single(gcc) -> None:
    info = plugin_lib.inspect(gcc.plugin(gcc.wrapper("plain", gcc.libpython("3.10"))))
    assert info.mode == "single" and "never creates a sub-interpreter" in info.evidence


def test_F2_contradictory_markers_give_unknown(gcc) -> None:
    info = plugin_lib.inspect(gcc.plugin(gcc.wrapper("both", gcc.libpython("3.10"))))
    assert info.mode == "unknown" and "contradictory" in info.evidence


def test_F2_mode_is_unknown_without_the_wrapper_but_python_is_still_read(gcc) -> None:
    info = plugin_lib.inspect(gcc.plugin(libpython=gcc.libpython("3.9")))
    assert (info.python, info.mode) == ("3.9", "unknown")
    assert "libvh_python_wrapper.so was not found" in info.evidence


def test_F1_wrapper_found_through_runpath_when_the_plugin_itself_needs_no_libpython(gcc) -> None:
    wrapper = gcc.wrapper("single", gcc.libpython("3.11"), subdir="private")
    plugin = gcc.plugin(wrapper, runpath="$ORIGIN/private")
    assert not [n for n in ElfFile(plugin).needed if n.startswith("libpython")]  # --as-needed
    info = plugin_lib.inspect(plugin)
    assert info.libraries[1] == wrapper and (info.python, info.mode) == ("3.11", "single")


def test_F1_F2_real_debian_libpython_sub_mode(gcc, debian_libpython: Path) -> None:
    info = plugin_lib.inspect(gcc.plugin(gcc.wrapper("sub", debian_libpython)))
    assert (info.python, info.libpython, info.mode) == ("3.11", "libpython3.11.so.1.0", "sub")


def test_a_folder_is_searched_for_the_plugin_then_the_wrapper(gcc) -> None:
    plugin = gcc.plugin(gcc.wrapper("single", gcc.libpython("3.9")))
    assert plugin_lib.inspect(plugin.parent).path == plugin
    plugin.unlink()
    assert plugin_lib.inspect(plugin.parent).path.name == "libvh_python_wrapper.so"


def test_F1_a_plugin_without_libpython_has_no_python(gcc) -> None:
    lib = gcc.library("libpython_pi.so", "int plugin_start(void) { return 0; }")
    info = plugin_lib.inspect(lib)
    assert (info.python, info.libpython) == (None, None)


@pytest.mark.parametrize("make", ["missing", "empty dir", "not elf"])
def test_bad_plugin_path_is_one_line(tmp_path: Path, make: str) -> None:
    target = tmp_path / "libpython_pi.so"
    if make == "empty dir":
        target = tmp_path
    elif make == "not elf":
        target.write_text("not a library")
    with pytest.raises(VhctlError) as info:
        plugin_lib.inspect(target)
    assert "\n" not in str(info.value) and "--plugin" in str(info.value)
