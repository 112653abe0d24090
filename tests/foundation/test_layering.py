"""The shape that keeps vhctl easy to change: the simulator never imports the hub-side runtime (it
hosts scripts that do), the runtime never imports the CLI (the hub venv holds only vhctl_hub), and
no module of vhctl imports, when it is loaded, a module that imports it back."""

from __future__ import annotations

import ast
import graphlib
import pkgutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import vhctl
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


def _runs_at_import(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements of ``body`` that run when the module is loaded: not those inside functions,
    nor an ``if TYPE_CHECKING:`` block (its ``else`` does run)."""
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from _runs_at_import(node.orelse)
            continue
        yield node
        for field in ("body", "orelse", "finalbody", "handlers"):
            yield from _runs_at_import(getattr(node, field, []))


def _import_graph(package) -> dict[str, set[str]]:
    """For each module of ``package``, the modules of ``package`` it imports when it is loaded."""
    root = Path(package.__file__).parent
    files = {name: root.joinpath(*name.split(".")[1:]) for name in _modules(package)}
    files = {name: path / "__init__.py" if path.is_dir() else path.with_suffix(".py") for name, path in files.items()}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]
        imported: set[str] = set()
        for node in _runs_at_import(ast.parse(path.read_text(encoding="utf-8")).body):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = ".".join(here.split(".")[:len(here.split(".")) - node.level + 1] if node.level else [])
                base = ".".join(part for part in (base, node.module or "") if part)
                imported.update(f"{base}.{alias.name}" if f"{base}.{alias.name}" in files else base
                                for alias in node.names)
        graph[name] = {target for target in imported if target in files and target != name}
    return graph


def _circle_through(graph: dict[str, set[str]], start: str) -> list[str]:
    """A path of imports that leads from ``start`` back to it, or [] if none does."""
    paths, seen = [[start]], set()
    while paths:
        path = paths.pop()
        for target in sorted(graph[path[-1]]):
            if target == start:
                return path + [start]
            if target not in seen:
                seen.add(target)
                paths.append(path + [target])
    return []


def _circles(graph: dict[str, set[str]]) -> list[str]:
    found = {frozenset(circle): " -> ".join(circle)
             for circle in (_circle_through(graph, name) for name in sorted(graph)) if circle}
    return sorted(found.values())


def test_no_module_of_vhctl_imports_itself_back_when_loaded() -> None:
    graph = _import_graph(vhctl)
    assert "vhctl.cli" in graph and "vhctl.commands.render" in graph
    assert not _circles(graph)


def test_no_module_of_the_runtime_imports_itself_back_when_loaded() -> None:
    graph = _import_graph(vhctl_hub)
    assert "vhctl_hub.runtime" in graph and "vhctl_hub.bridge.component" in graph
    assert not _circles(graph)


def test_only_the_cli_and_the_commands_import_a_command_module() -> None:
    """Commands are thin typer layers over plain modules: what two commands share (the probes of
    `status` and `doctor`, the hub's keyring) lives in a plain module, not in one of them."""
    graph = _import_graph(vhctl)
    commands = {name for name in graph if name.startswith("vhctl.commands.")}
    users = {name for name, targets in graph.items() if targets & (commands | {"vhctl.commands"})}
    assert users == {"vhctl.cli"}   # it registers them all
    assert not {name: graph[name] & commands for name in commands if graph[name] & commands}


#: The runtime core, bottom up: a part imports only parts before it. The runtime puts them together,
#: the script module is the door of the hub's scripts; the supervisor knows the runtime only as the
#: ``Host`` it is given.
RUNTIME_CORE = ("vhctl_hub.starterror", "vhctl_hub.ticks", "vhctl_hub.dedup", "vhctl_hub.hookstats",
                "vhctl_hub.supervisor", "vhctl_hub.registry", "vhctl_hub.dispatch", "vhctl_hub.handlers",
                "vhctl_hub.runtime", "vhctl_hub.script")
#: Parts that never reach each other although the order allows it: the handlers know nothing of how
#: hook calls reach them (the dispatcher calls the handlers it is given).
INDEPENDENT = (("vhctl_hub.handlers", "vhctl_hub.dispatch"),)


def _reached(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for target in graph[todo.pop()] - seen:
            seen.add(target)
            todo.append(target)
    return seen


def test_the_runtime_core_parts_import_only_the_parts_below_them() -> None:
    graph = _import_graph(vhctl_hub)
    above = {part: set(RUNTIME_CORE[i + 1:]) for i, part in enumerate(RUNTIME_CORE)}
    wrong = {part: sorted(_reached(graph, part) & later) for part, later in above.items()}
    assert not {part: found for part, found in wrong.items() if found}
    crossed = [f"{a} -> {b}" for a, b in INDEPENDENT if b in _reached(graph, a)]
    assert not crossed
    assert "vhctl_hub.supervisor" in _reached(graph, "vhctl_hub.runtime")   # the check sees imports


def _sim_imports() -> dict[str, tuple[set[str], set[str]]]:
    """For each module directly in vhctl/sim (the hub and its plugin): the sibling modules it
    imports at module level, an ``if TYPE_CHECKING:`` block included (a type-only import back is
    still a circle a reader has to follow), and those it imports inside a function."""
    root = Path(vhctl.sim.__file__).parent
    names = {path.stem for path in root.glob("*.py")} - {"__init__"}
    found: dict[str, tuple[set[str], set[str]]] = {}
    for name in names:
        tree = ast.parse((root / f"{name}.py").read_text(encoding="utf-8"))
        scopes = [n for n in ast.walk(tree)
                  if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))]
        inside = {id(n) for scope in scopes for n in ast.walk(scope) if n is not scope}
        top: set[str] = set()
        late: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                module = "vhctl.sim" + (f".{node.module}" if node.module else "") \
                    if node.level else node.module or ""
                targets = [module] + [f"{module}.{alias.name}" for alias in node.names]
            else:
                continue
            siblings = {t.split(".")[2] for t in targets if t.startswith("vhctl.sim.")} & names
            (late if id(node) in inside else top).update(siblings - {name})
        found[name] = (top, late)
    return found


def test_the_simulator_modules_import_each_other_without_circles() -> None:
    imports = _sim_imports()
    assert {"hub", "proto", "plugin", "vh_api"} <= set(imports)
    try:
        tuple(graphlib.TopologicalSorter({n: top for n, (top, _) in imports.items()}).static_order())
    except graphlib.CycleError as error:
        raise AssertionError(f"import circle in vhctl/sim: {' -> '.join(error.args[1])}") from None


def test_the_simulator_modules_import_no_sibling_inside_a_function() -> None:
    late = {name: sorted(found) for name, (_, found) in _sim_imports().items() if found}
    assert not late, f"imports of vhctl/sim modules inside functions: {late}"


def test_no_simulator_module_reads_a_private_attribute_of_the_hub_or_the_plugin() -> None:
    """The hub's parts and the plugin talk through public methods and properties only."""
    root = Path(vhctl.sim.__file__).parent
    found = []
    for path in sorted(root.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") \
                    and not node.attr.startswith("__"):
                owner = node.value
                name = owner.id if isinstance(owner, ast.Name) else \
                    owner.attr if isinstance(owner, ast.Attribute) else ""
                if name in ("hub", "plugin"):
                    found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    assert not found, found


#: Calls that change the whole hub process (every script shares it): only ``bundle/effects.py`` makes them.
PROCESS_WIDE = ("sys.setswitchinterval", "gc.freeze", "gc.unfreeze", "gc.disable", "cache_clear",
                "site.addsitedir", "sys.path.insert", "sys.path.append", "sys.setrecursionlimit")
#: Attributes of ``sys`` that only ``bundle/effects.py`` assigns.
PROCESS_WIDE_ATTRIBUTES = ("sys.excepthook", "sys.path", "sys.stderr", "sys.stdout")


def _process_wide_changes(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            called = ast.unparse(node.func)
            if any(called == name or called.endswith("." + name) for name in PROCESS_WIDE):
                found.append(f"{path.name}:{node.lineno}: {called}()")
        elif isinstance(node, (ast.Assign, ast.AugAssign)):
            for target in getattr(node, "targets", [getattr(node, "target", None)]):
                if target is not None and ast.unparse(target) in PROCESS_WIDE_ATTRIBUTES:
                    found.append(f"{path.name}:{node.lineno}: {ast.unparse(target)} =")
    return found


def test_only_the_effects_module_changes_the_whole_hub_process() -> None:
    root = Path(vhctl_hub.__file__).parent
    found = [hit for path in sorted(root.rglob("*.py")) if path.name != "effects.py"
             for hit in _process_wide_changes(path)]
    assert not found, f"process-wide changes outside bundle/effects.py: {found}"
    assert _process_wide_changes(root / "effects.py")   # the check finds what it looks for
