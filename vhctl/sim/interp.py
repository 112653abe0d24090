"""The plugin's two build modes as seen by a script (F2-F4, F13, A10, A12), inside one process.

Single mode (``-DPYTHON_USE_SINGLE_INTERPRETER=ON``): every script is executed with ``exec`` in ONE
shared namespace named ``__main__`` (a private module, mapped as ``sys.modules['__main__']`` only
while a script runs on the hub thread), ``sys.modules['vh']`` is overwritten by each load, and the
two ``sys.path`` entries of F13 are prepended to the process's path on every load.

Sub-interpreter mode (the default build): each script is imported as a module named after its file.
Real sub-interpreters have their own ``sys.modules``; here a *world* per slot is swapped in around
every load and hook call on the hub thread: the slot's ``sys.path``, ``vh`` and script module
always; for a load, or as soon as a hook runs an import statement that may leave stdlib/harness,
all of it: every module that is not stdlib and not part of the simulator or the test harness is
hidden and the slot's own modules are put back. So each slot imports its own copy of third-party and project
packages, as in a sub-interpreter. A meta-path finder refuses PyO3 extension modules to every slot
but the first one that imported them, with PyO3's own message (A10).

Limits of the emulation (documented deviations): threads a script starts see the host's modules when
they import something lazily; ``importlib.import_module`` inside a hook is not seen by the world
switch; stdlib modules are shared by all slots.
"""

from __future__ import annotations

import builtins
import importlib
import importlib.abc
import io
import sys
import threading
import traceback
import types
from types import ModuleType
from typing import Any, Optional

from vhctl.sim.slot import Slot

PYO3_MESSAGE = ("PyO3 modules do not yet support subinterpreters, see "
                "https://github.com/PyO3/pyo3/issues/576")
# PyO3 extension modules a hub venv can hold (pydantic for FastAPI; cryptography via keyring).
PYO3_MODULES = frozenset({"pydantic_core._pydantic_core", "cryptography.hazmat.bindings._rust"})

# Top-level names that belong to the simulator or the test harness: never hidden from a slot.
_HARNESS = frozenset({
    "vhctl", "_pytest", "pytest", "pluggy", "iniconfig", "py", "pygments", "exceptiongroup",
    "pytest_timeout", "tests", "conftest", "__main__", "__mp_main__", "_distutils_hack",
    "sitecustomize", "usercustomize", "_virtualenv", "vh",
})
_HARNESS_PREFIXES = ("__editable__", "test_")
_SHARED_TOPS = frozenset(sys.stdlib_module_names) | frozenset(sys.builtin_module_names) | _HARNESS


def script_dir(path: str) -> str:
    """dirname(3) of the script path ("." when there is no slash)."""
    head, sep, _tail = path.rpartition("/")
    return (head or "/") if sep else "."


def pyerr_print(exc: BaseException, skip_files: tuple[str, ...] = ()) -> str:
    """What PyErr_Print writes for ``exc``: ``sys.excepthook``'s output (the default one prints
    the traceback). The simulator's and importlib's frames are taken out of the traceback first,
    as the real plugin calls into scripts from C."""
    skip = (*skip_files, importlib.__file__)
    tb = None
    for frame, lineno in reversed(list(traceback.walk_tb(exc.__traceback__))):
        name = frame.f_code.co_filename
        if name not in skip and not name.startswith("<frozen importlib"):
            tb = types.TracebackType(tb, frame, frame.f_lasti, lineno)
    hook = sys.excepthook
    if hook is sys.__excepthook__:
        return "".join(traceback.format_exception(type(exc), exc, tb)).rstrip("\n")
    captured, saved = io.StringIO(), sys.stderr
    sys.stderr = captured
    try:
        hook(type(exc), exc, tb)
    except Exception as hook_error:  # noqa: BLE001  (PyErr_Print reports both, like this)
        captured.write("Error in sys.excepthook:\n")
        captured.write("".join(traceback.format_exception(hook_error)))
        captured.write("\nOriginal exception was:\n")
        captured.write("".join(traceback.format_exception(type(exc), exc, tb)))
    finally:
        sys.stderr = saved
    return captured.getvalue().rstrip("\n")


class ScriptOpenError(OSError):
    """Single mode: fopen() of the script failed (the wrapper logs a line, no traceback)."""


class SingleInterpreter:
    """All scripts share one ``__main__`` namespace and the process's modules (F3, A12)."""

    def __init__(self, scripts_path: str) -> None:
        self.scripts_path = scripts_path
        self.main = ModuleType("__main__")
        self.main.__dict__["__builtins__"] = builtins
        self._added_paths: list[str] = []
        self._saved_main: list[Optional[ModuleType]] = []
        self._had_vh = "vh" in sys.modules
        self._old_vh = sys.modules.get("vh")
        self._modules_before = set(sys.modules)

    def session(self, loading: bool = False) -> "SingleInterpreter":
        """While scripts run on the hub thread, ``sys.modules['__main__']`` is the shared namespace
        (the same for loads and hooks: there is one interpreter)."""
        return self

    def __enter__(self) -> "SingleInterpreter":
        self._saved_main.append(sys.modules.get("__main__"))
        sys.modules["__main__"] = self.main
        return self

    def __exit__(self, *exc: object) -> None:
        saved = self._saved_main.pop()
        if saved is None:
            sys.modules.pop("__main__", None)
        else:
            sys.modules["__main__"] = saved

    def load(self, slot: Slot, fs_path: str, world: "SingleInterpreter") -> None:
        """wrapper w_Load, single mode: vh registered, F13 paths prepended, file executed.

        Raises what the script raises (the plugin prints it like PyErr_Print)."""
        sys.modules["vh"] = slot.vh
        for entry in (script_dir(fs_path), self.scripts_path):
            sys.path.insert(0, entry)
            self._added_paths.append(entry)
        self.main.__dict__["__file__"] = fs_path
        slot.module = self.main
        try:
            with open(fs_path, "rb") as handle:
                source = handle.read()
        except OSError as exc:
            raise ScriptOpenError(fs_path) from exc
        exec(compile(source, fs_path, "exec", dont_inherit=True), self.main.__dict__)

    def enter(self, slot: Slot) -> None:
        """Nothing to switch: one interpreter."""

    def close(self) -> None:
        """The hub process ends: give the host its path and modules back."""
        for entry in self._added_paths:
            if entry in sys.path:
                sys.path.remove(entry)
        self._added_paths.clear()
        if self._had_vh:
            sys.modules["vh"] = self._old_vh  # type: ignore[assignment]
        else:
            sys.modules.pop("vh", None)
        for name in set(sys.modules) - self._modules_before:
            if not _is_shared(name):
                del sys.modules[name]


_shared_cache: dict[str, bool] = {}


def _is_shared(name: str) -> bool:
    """Stdlib or harness: visible to every slot (one copy per process)."""
    try:
        return _shared_cache[name]
    except KeyError:
        top = name.partition(".")[0]
        shared = top in _SHARED_TOPS or top.startswith(_HARNESS_PREFIXES)
        _shared_cache[name] = shared
        return shared


class _PyO3Guard(importlib.abc.MetaPathFinder):
    """A10: a PyO3 module initialises in the first sub-interpreter that imports it, only there."""

    def __init__(self, owner: "SubInterpreters") -> None:
        self._interp = owner

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        slot = self._interp.active
        if slot is None or fullname not in PYO3_MODULES:
            return None
        owner = self._interp.pyo3_owner.setdefault(fullname, slot.id)
        if owner != slot.id:
            raise ImportError(PYO3_MESSAGE, name=fullname)
        return None


class SubInterpreters:
    """One module world per script slot, swapped in on the hub thread (F4, F13, A10)."""

    def __init__(self, scripts_path: str) -> None:
        self.scripts_path = scripts_path
        self.active: Optional[Slot] = None
        self.world: Optional["_World"] = None
        self.pyo3_owner: dict[str, int] = {}
        self._guard = _PyO3Guard(self)
        sys.meta_path.insert(0, self._guard)

    def session(self, loading: bool = False) -> "_World":
        """A context manager for one dispatch (lazy world) or one load (full world)."""
        return _World(self, full=loading)

    def load(self, slot: Slot, fs_path: str, world: "_World") -> None:
        """wrapper w_Load, sub mode: fresh sys.path with the F13 entries, import by module name.

        Raises what the import raises. Bytecode is not cached: tests rewrite scripts faster than
        the one-second mtime resolution of .pyc files."""
        slot.sys_path = [self.scripts_path, script_dir(fs_path), *world.host_path]
        importlib.invalidate_caches()
        world.enter(slot, loading=True)
        saved, sys.dont_write_bytecode = sys.dont_write_bytecode, True
        try:
            slot.module = importlib.import_module(slot.name)
        finally:
            sys.dont_write_bytecode = saved

    def import_hook(self, name: str, globals: Any = None, locals: Any = None,
                    fromlist: Any = (), level: int = 0) -> Any:
        """``builtins.__import__`` during a dispatch: an import statement that may reach a module
        outside stdlib/harness makes the slot's full world real first (see ``_World``)."""
        world = self.world
        if world is not None and not world.full and threading.get_ident() == world.thread \
                and (level or not _is_shared(name)):
            world.materialize()
        return _ORIGINAL_IMPORT(name, globals, locals, fromlist, level)

    def close(self) -> None:
        if self._guard in sys.meta_path:
            sys.meta_path.remove(self._guard)


_ORIGINAL_IMPORT = builtins.__import__


class _World:
    """One dispatch (or load) on the hub thread, as a context manager.

    Swapping a slot's whole module world costs O(modules) per call, far too much for hooks that
    fire thousands of times, so a dispatch starts *lazy*: only the slot's ``vh``, ``sys.path`` and
    its own script module are installed. The first import statement that may reach a module
    outside stdlib/harness (seen through ``builtins.__import__``) makes the world *full*: every host
    module outside stdlib/harness is hidden and the slot's own copies are installed, exactly as a
    load does. Imports through ``importlib.import_module`` inside a hook are not seen.
    """

    def __init__(self, interp: SubInterpreters, full: bool) -> None:
        self._interp = interp
        self.thread = threading.get_ident()
        self.full = False
        self.host_path = sys.path
        self._hidden: dict[str, ModuleType] = {}
        self._shadowed: dict[str, ModuleType] = {}
        self._installed: tuple[str, ...] = ()
        self._current: Optional[Slot] = None
        self._size = -1
        self._loading = False
        self._want_full = full

    def __enter__(self) -> "_World":
        interp = self._interp
        self._saved = (sys.modules.get("vh"), interp.active, interp.world, builtins.__import__)
        interp.world = self
        builtins.__import__ = interp.import_hook
        if self._want_full:
            self._hide_host()
        return self

    def __exit__(self, *exc: object) -> None:
        self._leave()
        if self.full:
            sys.modules.update(self._hidden)
        sys.path = self.host_path
        saved_vh, self._interp.active, self._interp.world, builtins.__import__ = self._saved
        if saved_vh is None:
            sys.modules.pop("vh", None)
        else:
            sys.modules["vh"] = saved_vh

    def enter(self, slot: Slot, loading: bool = False) -> None:
        """Make ``slot`` the running script (after taking the previous one out)."""
        if self._current is slot and not loading:
            return
        self._leave()
        modules = sys.modules
        if loading and slot.name in modules:
            self._shadowed[slot.name] = modules.pop(slot.name)  # e.g. a script named like stdlib
        if self.full:
            self._install(slot, tuple(slot.private))
        elif slot.name in slot.private:
            self._install(slot, (slot.name,))   # sys.modules[__name__] works in every hook
        modules["vh"] = slot.vh
        sys.path = slot.sys_path
        self._interp.active = slot
        self._current, self._loading, self._size = slot, loading, len(modules)

    def materialize(self) -> None:
        """From lazy to full, in the middle of a hook call (an import is about to run)."""
        slot = self._current
        self._leave()
        self._hide_host()
        if slot is not None:
            self.enter(slot)

    def _hide_host(self) -> None:
        modules = sys.modules
        self._hidden = {name: modules.pop(name) for name in
                        [n for n in modules if not _is_shared(n)]}
        self.full = True

    def _install(self, slot: Slot, names: tuple[str, ...]) -> None:
        modules = sys.modules
        for name in names:
            if name in modules:
                self._shadowed.setdefault(name, modules[name])
            modules[name] = slot.private[name]
        self._installed = names

    def _leave(self) -> None:
        """Take the current slot out; in a full world, keep what it imported as its own."""
        slot = self._current
        if slot is None:
            return
        modules = sys.modules
        if self.full and (self._loading or len(modules) != self._size):
            private = {n: m for n, m in modules.items() if not _is_shared(n)}
            if slot.name in modules:
                private[slot.name] = modules[slot.name]
            slot.private = private
            self._installed = tuple(private)
        for name in self._installed:
            modules.pop(name, None)
        modules.update(self._shadowed)
        self._shadowed.clear()
        self._installed = ()
        self._current = None
