"""The shape that keeps vhctl easy to change: the simulator never imports the hub-side runtime (it
hosts scripts that do), and the runtime never imports the CLI (the hub venv holds only vhctl_hub)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import vhctl.sim
import vhctl_hub


def _modules(package) -> list[str]:
    return [package.__name__] + [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]


def _imported_after(modules: list[str]) -> set[str]:
    code = ("import importlib, sys\n"
            f"for name in {modules!r}: importlib.import_module(name)\n"
            "print('\\n'.join(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_the_simulator_never_imports_the_runtime() -> None:
    loaded = _imported_after(_modules(vhctl.sim))
    assert not {m for m in loaded if m == "vhctl_hub" or m.startswith("vhctl_hub.")}


def test_the_runtime_never_imports_the_cli() -> None:
    loaded = _imported_after(_modules(vhctl_hub))
    assert not {m for m in loaded if m == "vhctl" or m.startswith("vhctl.")}
