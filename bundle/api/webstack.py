"""Importing FastAPI/uvicorn once, on the hub thread, when the component registers.

Why then and there: in the plugin's sub-interpreter mode pydantic (a PyO3 module) imports only in the
first interpreter that loads it; every later load of the script fails with PyO3's ImportError (A10).
Importing at registration, on the hub thread, is where that happens for real (and where the
simulator reproduces it), so the failure is known before any `!api start` and becomes one line for the
operator instead of a dead server thread. Importing everything the server thread would otherwise
import lazily (protocol, loop and anyio backend modules) also keeps the server thread from importing
while the hub thread runs.
"""

from __future__ import annotations

import importlib
from typing import Any, Optional

from vhctl_hub.effects import clear_memo_caches
from vhctl_hub.runtime import describe_start_error

#: Modules the server needs, the app (FastAPI, pydantic) last.
MODULES = ("uvicorn.config", "uvicorn.server", "uvicorn.protocols.http.auto", "uvicorn.lifespan.off",
           "anyio._backends._asyncio", "vhctl_hub.api.app")


class WebStack:
    """The imported modules, or the error that kept them from importing.

    The component uses these module objects, never ``import`` statements on its threads: the modules a
    thread sees lazily may belong to another interpreter's world in the simulator's sub mode.
    """

    def __init__(self) -> None:
        self.error: Optional[Exception] = None
        self.uvicorn: Any = None
        self.app: Any = None
        self.http_protocol: Any = None
        self._fastapi_memo: Any = None
        try:
            for name in MODULES:
                importlib.import_module(name)
            self.uvicorn = importlib.import_module("uvicorn")
            self.http_protocol = importlib.import_module("uvicorn.protocols.http.auto").AutoHTTPProtocol
            self.app = importlib.import_module("vhctl_hub.api.app")
            self._fastapi_memo = importlib.import_module("fastapi.dependencies.models")
        except Exception as exc:  # noqa: BLE001 - ImportError mostly; a broken install can raise anything
            self.error = exc

    def release_apps(self) -> None:
        """Let the garbage collector have the apps of stopped components.

        FastAPI memoizes, per endpoint callable, whether it is a coroutine or a generator in module-level
        ``lru_cache``s (``fastapi.dependencies.models``, 4,096 entries in 0.165). Their keys hold the
        endpoint functions, which close over the app's dependencies: every app built in the process
        stayed alive, ~0.3 MB per `!pyreload` up to ~130 reloads (measured with a census of objects
        after reloads). Clearing them costs FastAPI a recomputation per endpoint on the next requests;
        it finds the caches by what they are, so a FastAPI without them is fine
        (``effects.WEB_FRAMEWORK_CACHES``)."""
        if self._fastapi_memo is not None:
            clear_memo_caches(self._fastapi_memo)

    def explain(self) -> str:
        """One line for the operator: why the API cannot run in this hub process, and what to do."""
        exc = self.error
        assert exc is not None, "explain() is for a stack that failed to load"
        if isinstance(exc, ModuleNotFoundError) and "subinterpreter" not in str(exc).lower():
            return (f"api cannot start: the hub's venv lacks the Python package {exc.name!r} "
                    "(run: vhctl install)")
        return describe_start_error("api", exc)
