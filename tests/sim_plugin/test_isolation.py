"""Interpreter models (F2-F4, A10, A12): shared or private modules, PyO3 ownership, and that the
simulator gives the host process back what it borrowed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from testkit.plugin import install_runner, load, run, write_script

from vhctl.sim.hub import Hub
from vhctl.sim.interp import PYO3_MESSAGE

COUNTER_PKG = "COUNT = [0]\n"
COUNTING_SCRIPT = """
from libs import counterpkg
counterpkg.COUNT[0] += 1
SEEN = counterpkg.COUNT[0]
"""


def test_F2_F4_packages_are_per_slot_in_sub_mode_shared_in_single(hub: Hub, mode: str) -> None:
    scripts = Path(hub.plugin.scripts_dir)
    write_script(scripts / "libs", "__init__.py", "")
    write_script(scripts / "libs", "counterpkg.py", COUNTER_PKG)
    first = load(hub, write_script(scripts, "count_a.py", COUNTING_SCRIPT))
    second = load(hub, write_script(scripts, "count_b.py", COUNTING_SCRIPT))
    if mode == "sub":
        assert hub.plugin.script_module(first).SEEN == 1
        assert hub.plugin.script_module(second).SEEN == 1
    else:
        assert hub.plugin.script_module(second).SEEN == 2


def test_F4_a_slot_keeps_its_own_module_copy_in_later_hooks(hub: Hub, mode: str,
                                                            tmp_path: Path) -> None:
    scripts = Path(hub.plugin.scripts_dir)
    write_script(scripts / "libs", "__init__.py", "")
    write_script(scripts / "libs", "counterpkg.py", COUNTER_PKG)
    load(hub, write_script(scripts, "count_a.py", COUNTING_SCRIPT))
    runner = install_runner(hub, tmp_path)
    # the runner imports the package lazily, inside a hook
    count = run(hub, runner, lambda vh: __import__("libs.counterpkg").counterpkg.COUNT[0])
    assert count == (0 if mode == "sub" else 1)


IMPORTS_PYDANTIC_CORE = """
try:
    import pydantic_core
    RESULT = "ok"
except ImportError as exc:
    RESULT = str(exc)
"""


def test_A10_pyo3_module_belongs_to_the_first_slot_that_imports_it(hub: Hub, mode: str,
                                                                   tmp_path: Path) -> None:
    first = load(hub, write_script(tmp_path, "api_a.py", IMPORTS_PYDANTIC_CORE))
    second = load(hub, write_script(tmp_path, "api_b.py", IMPORTS_PYDANTIC_CORE))
    assert hub.plugin.script_module(first).RESULT == "ok"
    assert hub.plugin.script_module(second).RESULT == ("ok" if mode == "single" else PYO3_MESSAGE)
    reply = hub.pyreload(str(first))
    third = int(reply.rsplit("#", 1)[1].split(" ", 1)[0])
    assert hub.plugin.script_module(third).RESULT == ("ok" if mode == "single" else PYO3_MESSAGE)


def test_A10_a_lazy_import_inside_a_hook_is_refused_too(hub: Hub, mode: str,
                                                        tmp_path: Path) -> None:
    load(hub, write_script(tmp_path, "owner.py", IMPORTS_PYDANTIC_CORE))
    runner = install_runner(hub, tmp_path)
    outcome = run(hub, runner, lambda vh: __import__("pydantic_core").__name__)
    if mode == "sub":
        assert outcome == ("err", "ImportError", PYO3_MESSAGE)
    else:
        assert outcome == "pydantic_core"


def test_A10_the_owner_can_import_it_again_in_later_hooks(hub: Hub, mode: str,
                                                          tmp_path: Path) -> None:
    runner = install_runner(hub, tmp_path)
    assert run(hub, runner, lambda vh: __import__("pydantic_core").__name__) == "pydantic_core"
    assert run(hub, runner, lambda vh: __import__("pydantic_core").__name__) == "pydantic_core"


def test_sub_mode_leaves_the_host_modules_alone(hub: Hub, mode: str, tmp_path: Path) -> None:
    import pydantic_core

    load(hub, write_script(tmp_path, "api_a.py", IMPORTS_PYDANTIC_CORE))
    load(hub, write_script(tmp_path, "probe_leak.py", "import json\nX = 1\n"))
    assert sys.modules["pydantic_core"] is pydantic_core
    assert "probe_leak" not in sys.modules


@pytest.mark.parametrize("mode", ["sub"])
def test_F13_stdlib_named_script_shadows_stdlib_in_sub_mode_only_for_itself(
        hub: Hub, tmp_path: Path) -> None:
    import json

    sid = load(hub, write_script(tmp_path, "json.py", "MINE = True\n"))
    assert hub.plugin.script_module(sid).MINE is True
    assert sys.modules["json"] is json


def test_close_gives_back_sys_path_and_vh(make_hub, tmp_path: Path) -> None:
    path_before = list(sys.path)
    vh_before = sys.modules.get("vh")
    hub = make_hub()
    load(hub, write_script(tmp_path, "a.py", "import vh\n"))
    load(hub, write_script(tmp_path, "b.py", "import vh\n"))
    hub.stop()
    assert sys.path == path_before
    assert sys.modules.get("vh") is vh_before
