"""What a rendered hub script uses: ``register`` one component, ``dispatch`` each hook to the runtime.

A script (its loader is ``templates/_shared_loader.py``) calls ``register(COMPONENT, CONFIG_FILE, globals())`` before
defining its hooks, then defines each name of ``HOOKS`` as ``return hub_runtime.dispatch(name, *args)`` (imported as
``hub_runtime``: the name ``vhctl`` belongs to the CLI).
Everything else (modes, reloads, threads, encodings) is the runtime's business.
"""

from __future__ import annotations

import importlib
import threading
from pathlib import Path
from typing import Any, Callable, Dict, Optional

from vhctl_hub import hublog, told
from vhctl_hub.component import Component, Context
from vhctl_hub.config import ConfigError, Settings, load_settings
from vhctl_hub.dispatch import HOOKS
from vhctl_hub.runtime import Runtime, build_runtime
from vhctl_hub.starterror import describe_start_error
from vhctl_hub.statedir import StateDirError, ensure_private, fallback_state_dir
from vhctl_hub.status import StatusBoard, status_path

__all__ = ["HOOKS", "KNOWN_COMPONENTS", "LoadError", "register", "dispatch"]

#: Component short names -> "module:Class" (imported only when a script registers them).
KNOWN_COMPONENTS = {
    "api": "vhctl_hub.api:ApiComponent",
    "bridge": "vhctl_hub.bridge:BridgeComponent",
}

_runtime: Optional[Runtime] = None


def _no_runtime(hook: str, *args: Any) -> int:
    """Before the first registration there is nothing to dispatch to: let the event through."""
    return 1


#: Hand one hook call to the runtime: ``dispatch(hook, *args)``, always an int, 1 unless a component
#: handled a command. Once the first script registered it is the runtime's own dispatcher: the
#: scripts look it up at every call, so no function stands in between on the hub thread.
dispatch: Callable[..., int] = _no_runtime


class LoadError(Exception):
    """The script cannot run; ``str()`` is one line for the operator saying what to do."""


def runtime() -> Optional[Runtime]:
    """This interpreter's runtime (None before the first registration)."""
    return _runtime


def register(component: str, config_file: str, script_globals: Dict[str, Any]) -> Optional[Component]:
    """Register and start one component for the calling script (hub thread, during the load).

    Returns the component, or None when it cannot run in this hub process for a reason only a
    restart fixes (sub-interpreter mode and FastAPI, A10): the script still loads and the operator
    gets one line about it.
    """
    global _runtime, dispatch
    single = script_globals.get("__name__") == "__main__"
    if _runtime is None:
        _runtime = build_runtime(single, threading.get_ident(), _stand_in)
        dispatch = _runtime.dispatch
    script = str(script_globals.get("__file__") or "?")
    settings = _settings(config_file, script)
    state_dir = _state_dir(settings)
    try:
        factory = _import(component)
    except ImportError as exc:
        if "subinterpreter" not in str(exc).lower():
            raise LoadError(f"cannot load {script}: component {component!r} is not importable ({exc}); "
                            "run: vhctl install") from None
        _report_unrunnable(_name_of(component), describe_start_error(_name_of(component), exc),
                           state_dir, single, script)
        return None
    name = str(getattr(factory, "name", component))
    board = StatusBoard(name, mode="single" if single else "sub", script=script)
    ctx = Context(_runtime, name, settings, Path(config_file), script, board, state_dir)
    try:
        instance = factory(ctx)
    except Exception as exc:  # noqa: BLE001 - becomes the operator's one line
        raise LoadError(f"cannot load {script}: {name} failed to initialise: "
                        f"{type(exc).__name__}: {exc}") from None
    _runtime.add(instance, ctx, state_dir, script_globals)
    return instance


def _stand_in(hook: str) -> Callable[..., int]:
    """A function equivalent to the scripts' own ``hook`` (the hook guard's stand-in for it)."""

    def runtime_hook(*args: Any) -> int:
        return dispatch(hook, *args)

    runtime_hook.__name__ = runtime_hook.__qualname__ = hook
    return runtime_hook


def _settings(config_file: str, script: str) -> Settings:
    try:
        return load_settings(Path(config_file))
    except ConfigError as exc:
        raise LoadError(f"cannot load {script}: {exc}; fix it with: vhctl configure") from None


def _state_dir(settings: Settings) -> Path:
    """The configured state folder, else the hub user's own; private and ours, or a LoadError."""
    folder = Path(settings.hub.state_dir) if settings.hub.state_dir else fallback_state_dir()
    try:
        return ensure_private(folder)
    except StateDirError as exc:
        raise LoadError(str(exc)) from None


def _name_of(spec: str) -> str:
    return spec.rsplit(":", 1)[-1].lower() if ":" in spec else spec


def _import(spec: str) -> Any:
    target = KNOWN_COMPONENTS.get(spec, spec)
    module_name, sep, attr = target.partition(":")
    if not sep:
        raise ImportError(f"unknown component {spec!r}; known: {', '.join(KNOWN_COMPONENTS)}")
    return getattr(importlib.import_module(module_name), attr)


def _report_unrunnable(name: str, line: str, state_dir: Path, single: bool, script: str) -> None:
    hublog.log(line)
    board = StatusBoard(name, mode="single" if single else "sub", script=script)
    board.set(state="error", running=False)
    board.error(line)
    try:
        board.write(status_path(state_dir, name), {})
        assert _runtime is not None
        if told.first_time(state_dir, line):  # lasts until the hub restarts: once per hub process
            _runtime.sender.opchat(f"vhctl {line}")
    except Exception as exc:  # noqa: BLE001 - the log line is the essential part
        hublog.log(f"{name}: could not report to OpChat/status: {exc}")
