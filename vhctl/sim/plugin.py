"""The Verlihub Python plugin: script slots, the ``!py*`` console, hook dispatch, the thread rule.

What it reproduces (F5-F24, A2-A4, A12): slot ids that only grow (a failed load still uses one, a
reload gets a new one at the same list position), the console's exact replies and rights check,
autoload in alphabetical order, hooks called in list order for every script that had the hook at
load time, the return-value conversion of w_CallHook/CallAll (None blocks; float/str are logged and
allow; a tuple kills the hub), strict UTF-8 hook arguments (F23), and nothing ever called on unload.

What it adds for the simulator: violations (``guard``), per-hook and per-script timings of the time
scripts hold the hub thread, counts of vh calls.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from typing import Any, Optional

from vhctl.sim import interp, vh_api, vh_text
from vhctl.sim.console import Console
from vhctl.sim.guard import CRASH, EXIT, HOOK_THREAD, Histogram, Violations
from vhctl.sim.interp import ScriptOpenError, SingleInterpreter, SubInterpreters, pyerr_print
from vhctl.sim.slot import Slot

# wrapper.h: the 41 hook names, case-sensitive (F25-F34).
HOOK_NAMES = (
    "OnNewConn", "OnCloseConn", "OnCloseConnEx", "OnParsedMsgChat", "OnParsedMsgPM",
    "OnParsedMsgMCTo", "OnParsedMsgSearch", "OnParsedMsgSR", "OnParsedMsgMyINFO", "OnFirstMyINFO",
    "OnParsedMsgValidateNick", "OnParsedMsgAny", "OnParsedMsgAnyEx", "OnOpChatMessage",
    "OnPublicBotMessage", "OnUnLoad", "OnCtmToHub", "OnParsedMsgSupports", "OnParsedMsgMyHubURL",
    "OnParsedMsgExtJSON", "OnParsedMsgBotINFO", "OnParsedMsgVersion", "OnParsedMsgMyPass",
    "OnParsedMsgConnectToMe", "OnParsedMsgRevConnectToMe", "OnUnknownMsg", "OnOperatorCommand",
    "OnOperatorKicks", "OnOperatorDrops", "OnOperatorDropsWithReason", "OnValidateTag",
    "OnUserCommand", "OnHubCommand", "OnScriptCommand", "OnUserInList", "OnUserLogin",
    "OnUserLogout", "OnTimer", "OnNewReg", "OnNewBan", "OnSetConfig",
)
_HOOKS = frozenset(HOOK_NAMES)

# The formats cpipython.cpp tries on a hook's result before giving up (F22, A4).
_CHAT_FORMATS = ("l", "ss", "sl")
_MYINFO_FORMATS = ("l", "sssss", "sl")
_DEFAULT_FORMATS = ("l", "sl")
_TRIED = {"OnParsedMsgChat": _CHAT_FORMATS, "OnParsedMsgMyINFO": _MYINFO_FORMATS,
          "OnFirstMyINFO": _MYINFO_FORMATS}
_TUPLE_CRASH = "free(): invalid pointer"
_SKIP_FRAMES = (__file__, interp.__file__, vh_api.__file__, vh_text.__file__)


class Plugin:
    """The Python plugin of one simulated hub; all but ``close`` run on the hub thread."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.mode = hub.mode
        self.violations = Violations()
        self.vh_calls: collections.Counter[str] = collections.Counter()
        self.in_python = 0                       # depth of hooks/loads running on the hub thread
        self._slots: list[Slot] = []             # cpiPython::mPython, in call order
        self._reserved: dict[int, Slot] = {}     # wrapper w_Scripts: ids that still resolve (F3)
        self._next_id = 0
        self._dispatch: dict[str, tuple[Slot, ...]] = {}
        self._hook_times: dict[str, Histogram] = {}
        self._script_times: dict[tuple[int, str], Histogram] = {}
        self._crash_exc: Optional[BaseException] = None
        scripts_path = f"{hub.basedir}/scripts"
        # mScriptDir as the hub knows it: a hub string (one char per byte), with a trailing slash
        self.scripts_dir = os.fsencode(scripts_path).decode("latin-1") + "/"
        self._interp: Any = (SingleInterpreter(scripts_path) if self.mode == "single"
                             else SubInterpreters(scripts_path))
        self._api = vh_api.VhApi(self)
        level = hub.state.get_config("pi_python", "log_level")
        self.log_level = int(level[0]) if level and level[0].isdigit() else 0
        self._console = Console(self)

    # --- introspection -------------------------------------------------------------------------

    def scripts(self) -> list[tuple[int, str]]:
        """(id, path) of the loaded scripts in call order, as ``!pylist`` shows them."""
        return [(s.id, s.path) for s in self._slots]

    def script_module(self, sid: int) -> Any:
        """A loaded script's globals: its module (sub mode) or the shared ``__main__`` (single)."""
        slot = self.find_id(sid)
        return None if slot is None else slot.module

    def has_slot_id(self, sid: int) -> bool:
        """wrapper w_Scripts[id] != NULL: loaded, or a failed load whose slot was never freed."""
        return sid in self._reserved

    def hook_stats(self) -> dict[str, dict[str, float]]:
        """Hub-thread time per hook event (all scripts of one dispatch together)."""
        return {name: h.summary() for name, h in self._hook_times.items()}

    def reset_hook_stats(self) -> None:
        """Forget the hook times so far (a benchmark measures one phase at a time)."""
        self._hook_times.clear()

    @property
    def shared_main(self) -> Any:
        """Single mode: the ``__main__`` module every script shares (F3); None in sub mode."""
        return self._interp.main if self.mode == "single" else None

    def script_stats(self) -> dict[int, dict[str, dict[str, float]]]:
        """Hub-thread time per script id and hook."""
        out: dict[int, dict[str, dict[str, float]]] = {}
        for (sid, name), hist in self._script_times.items():
            out.setdefault(sid, {})[name] = hist.summary()
        return out

    def blocking_stats(self) -> dict[str, dict[str, float]]:
        """Time spent in blocking vh calls on the hub thread (GetUserHost's DNS, F49.19)."""
        return {name: h.summary() for name, h in self._api.blocking.items()}

    # --- hub entry points ----------------------------------------------------------------------

    def hook(self, name: str, *args: Any) -> bool:
        """Call every script that had hook ``name`` at load time; False if any blocked (F19)."""
        slots = self._dispatch.get(name)
        if not slots:
            if name not in _HOOKS:
                raise ValueError(f"{name!r} is not a hook of the Python plugin")
            return True
        if threading.get_ident() != self.hub.main_thread_id:
            self.violations.record(HOOK_THREAD, name,
                                   detail="a hook was called off the hub thread")
        pyargs = _hook_args(args)
        if pyargs is None:
            return True  # F23 / A7: not valid UTF-8, the hooks are skipped and the event allowed
        allow = True
        started = time.perf_counter_ns()
        self.in_python += 1
        try:
            with self._interp.session() as world:
                for slot in slots:
                    if slot.online:
                        began = time.perf_counter_ns()
                        world.enter(slot)
                        allow = self._call_one(slot, name, pyargs) and allow
                        self._time(self._script_times, (slot.id, name), began)
        finally:
            self.in_python -= 1
            self._time(self._hook_times, name, started)
        return allow

    def operator_command(self, nick: str, full_command: str) -> bool:
        """cpiPython::OnOperatorCommand: the console first, then the scripts' hook (F5, A3)."""
        if self._console.handle(nick, full_command):
            return False
        return self.hook("OnOperatorCommand", nick, full_command)

    def autoload(self) -> None:
        """F12: every ``*.py`` of ``<basedir>/scripts`` in byte order, failures dropped."""
        for filename in self.script_files() or []:
            self.load(self.scripts_dir + filename)

    def close(self) -> None:
        """The hub process ends: drop every script without calling anything (A2, F15-F17)."""
        for slot in self._slots:
            slot.online = False
        self._slots.clear()
        self._reserved.clear()
        self._dispatch.clear()
        self._interp.close()

    def crash(self, reason: str) -> None:
        """Let the hub die (it raises); remember the exception so no script can swallow it."""
        try:
            self.hub.crash(reason)
        except BaseException as exc:
            self._crash_exc = exc
            raise

    # --- slots ---------------------------------------------------------------------------------

    def script_files(self) -> Optional[list[str]]:
        """Sorted ``*.py`` names in the scripts dir (``!pyfiles``); None if it cannot be read."""
        try:
            names = os.listdir(os.fsencode(self.scripts_dir))
        except OSError:
            return None
        return [n.decode("latin-1") for n in sorted(names) if len(n) > 3 and n.endswith(b".py")]

    def find_id(self, sid: int) -> Optional[Slot]:
        return next((s for s in self._slots if s.id == sid), None)

    def find_path(self, path: str) -> Optional[Slot]:
        """Exact string equality with the path as loaded (F9)."""
        return next((s for s in self._slots if s.path == path), None)

    def load(self, path: str, position: Optional[int] = None) -> Optional[Slot]:
        """AddData + cPythonInterpreter::Init: a new id, listed before it runs; None on failure."""
        slot = Slot(self._next_id, path)
        self._next_id += 1
        self._reserved[slot.id] = slot
        self._slots.insert(len(self._slots) if position is None else position, slot)
        slot.vh = self._api.make_module(slot)
        self.in_python += 1
        try:
            loaded = self._run_load(slot)
        finally:
            self.in_python -= 1
        if not loaded:
            self._slots.remove(slot)  # RemoveByName; the wrapper slot stays reserved (F8)
            return None
        namespace = slot.module
        slot.hooks = frozenset(n for n in HOOK_NAMES if callable(getattr(namespace, n, None)))
        slot.online = True
        self._rebuild_dispatch()
        return slot

    def unload(self, slot: Slot) -> None:
        """w_Unload: the slot goes; no Python code runs, threads and __main__ stay (F15, F16)."""
        slot.online = False
        self._slots.remove(slot)
        self._reserved.pop(slot.id, None)
        self._rebuild_dispatch()

    def position(self, slot: Slot) -> int:
        return self._slots.index(slot)

    def _run_load(self, slot: Slot) -> bool:
        """Run the script; print its failure like the wrapper does (log line, PyErr_Print)."""
        try:
            with self._interp.session(loading=True) as world:
                self._interp.load(slot, slot.fs_path, world)
        except ScriptOpenError:
            self._log(slot, f"Failed to open script file for execution: {slot.path}")
        except SystemExit as exc:
            self._exit(slot, "load", exc)
        except Exception as exc:  # noqa: BLE001  (the plugin's C code catches every Python error)
            self._reraise_crash()
            if self.mode == "single":
                self._log(slot, "Failed to execute script in __main__ namespace")
            self._print_error(exc)
        else:
            self._reraise_crash()
            return True
        return False

    def _rebuild_dispatch(self) -> None:
        """Hook name -> the online slots that had it at load, in list order (only non-empty)."""
        dispatch = {name: tuple(s for s in self._slots if name in s.hooks) for name in _HOOKS}
        self._dispatch = {name: slots for name, slots in dispatch.items() if slots}

    # --- one hook call -------------------------------------------------------------------------

    def _call_one(self, slot: Slot, name: str, args: tuple) -> bool:
        """w_CallHook + the caller's unpacking: True = allow, False = block (F20)."""
        func = getattr(slot.module, name, None)  # looked up at call time (single mode: shared)
        if not callable(func):
            return True
        try:
            result = func(*args)
        except SystemExit as exc:
            self._exit(slot, name, exc)
            return True
        except Exception as exc:  # noqa: BLE001  (the plugin's C code catches every Python error)
            self._reraise_crash()
            self._print_error(exc)
            return True
        self._reraise_crash()
        return self._convert(slot, name, result)

    def _convert(self, slot: Slot, name: str, result: Any) -> bool:
        if result is None:
            return False
        if isinstance(result, int):
            return result != 0
        if isinstance(result, (float, str, tuple)):
            self._log_unexpected(name, result)
            if isinstance(result, tuple):
                self.violations.record(
                    CRASH, f"{slot.name}.{name}", fatal=True,
                    detail=f"script #{slot.id} {slot.path} returned a tuple from {name}; the real "
                           "hub frees a string literal and aborts")  # A4
                self.crash(_TUPLE_CRASH)
        return True  # float, str: ignored; list, dict, objects: "hook missing" (F20)

    def _log_unexpected(self, name: str, result: Any) -> None:
        """cpipython.cpp tries its formats in turn, then gives up on the value (A4)."""
        if isinstance(result, tuple):
            packed, shown = "tab", " "
        elif isinstance(result, float):
            packed, shown = "d", f" {result:f} "
        else:
            packed, shown = "s", f" '{result}' "
        for wanted in _TRIED.get(name, _DEFAULT_FORMATS):
            self.hub.stderr(f"PY: unpack: format strings don't match: '{packed}' vs. '{wanted}'")
        where = f"Call {name}: unexpected return value:" if name in _TRIED else \
            f"CallAll {name}: unexpected return value"
        self.hub.stderr(f"PY: {where} {packed} [{shown}]")

    # --- helpers -------------------------------------------------------------------------------

    def _time(self, table: dict, key: Any, started: int) -> None:
        hist = table.get(key)
        if hist is None:
            hist = table[key] = Histogram()
        hist.add(time.perf_counter_ns() - started)

    def _print_error(self, exc: BaseException) -> None:
        text = pyerr_print(exc, _SKIP_FRAMES)
        if text:
            self.hub.stderr(text)

    def _log(self, slot: Slot, text: str) -> None:
        self.hub.stderr(f"PY: [{slot.id}:{slot.name}] {text}")

    def _exit(self, slot: Slot, where: str, exc: SystemExit) -> None:
        """PyErr_Print on SystemExit exits the whole hub process."""
        self.violations.record(EXIT, f"{slot.name}.{where}", fatal=True,
                               detail=f"script #{slot.id} raised SystemExit({exc.code!r}); "
                                      "PyErr_Print ends the hub process")
        self.crash(f"SystemExit({exc.code!r}) in script {slot.path}: the hub process exits")

    def _reraise_crash(self) -> None:
        """A script that caught the crash of its own vh call cannot keep the hub alive."""
        if self._crash_exc is not None:
            raise self._crash_exc


def _hook_args(args: tuple) -> Optional[tuple]:
    """F23: hub strings to Python as strict UTF-8 of the raw bytes (a C string ends at NUL)."""
    converted: Optional[list] = None
    for i, value in enumerate(args):
        if type(value) is str and (not value.isascii() or "\x00" in value):
            try:
                text = value.encode("latin-1").decode("utf-8")
            except UnicodeDecodeError:
                return None
            nul = text.find("\x00")
            if converted is None:
                converted = list(args)
            converted[i] = text if nul < 0 else text[:nul]
    return args if converted is None else tuple(converted)
