"""Every change vhctl makes to the hub process as a whole: what, why, and how it is undone.

The hub is one process: in the plugin's single-interpreter mode every script shares ``__main__``,
``sys`` and the garbage collector (F3), and even in sub-interpreter mode the thread switch interval
and the collector's permanent generation belong to the process. A change made here is felt by every
script of the hub, so each one is made in this module only (the layering test checks the calls),
declared in ``EFFECTS`` with its reason and undoing, and listed in plain words in the header of the
scripts whose loading causes it (``templates/``; a test checks each declared effect is listed).

Two effects happen before ``vhctl_hub`` can be imported, so the rendered script makes them itself:
the venv on ``sys.path`` (that is what makes this package importable) and the one-line failure
(``sys.excepthook``). They are declared here all the same.
"""

from __future__ import annotations

import gc
import sys
import time
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable, MutableMapping, Tuple

#: The rendered scripts (``templates/``).
API_SCRIPT, BRIDGE_SCRIPT = "hub_api.py", "matterbridge.py"
BOTH = (API_SCRIPT, BRIDGE_SCRIPT)


@dataclass(frozen=True)
class Effect:
    """One process-wide change; ``words``: the phrase the header of each script in ``scripts``
    uses for it (an operator's words)."""

    what: str
    words: str
    reason: str
    undone: str
    scripts: Tuple[str, ...]


SEARCH_PATH = Effect(
    "sys.path: the hub venv's site-packages first, and its .pth files run (site.addsitedir)",
    "module search path",
    "the hub's own sys.path holds Debian's dist-packages (A19): our code and its dependencies must come "
    "from the venv vhctl installed",
    "never: imported modules stay until the hub restarts",
    BOTH)
ONE_LINE_FAILURE = Effect(
    "sys.excepthook, for one failed load",
    "hook that prints tracebacks",
    "the plugin prints a failed load's traceback to the hub log; an operator needs one line saying what to do",
    "the replacement puts the previous hook back when it has printed its one error",
    BOTH)
MAIN_HOOKS = Effect(
    "the hook functions in __main__ (single-interpreter mode)",
    "same-named hooks of other scripts",
    "every script shares __main__ and the plugin looks hooks up there by name (F3, A12): a script loaded "
    "after ours would take our hooks away, and ours would take theirs away; ``hookguard`` puts ours back "
    "and calls theirs",
    "a third-party script's functions are no longer called once it is unloaded; ours stay in __main__ "
    "after our unload, as the plugin leaves every script's functions (A12)",
    BOTH)
SWITCH_INTERVAL = Effect(
    "sys.setswitchinterval: 1 ms instead of 5 ms while the API serves",
    "switch between threads",
    "the hub thread needs the GIL for every hook, and a busy server thread gives it up only after the "
    "switch interval: a hook waits about 1 ms at most for a busy API (bench/api_bench.py)",
    "the previous value comes back when the server stops (unless someone else changed it meanwhile)",
    (API_SCRIPT,))
COLLECTOR_FREEZE = Effect(
    "gc.freeze, once per process, when the API registers",
    "garbage collector",
    "a full collection walks every tracked object while holding the GIL, on whatever thread allocates: "
    "~20 ms with the web stack imported, landing in a hook (bench/api_bench.py)",
    "never: frozen objects are still freed by reference counting, but a cycle among them stays in memory",
    (API_SCRIPT,))
WEB_FRAMEWORK_CACHES = Effect(
    "FastAPI's module-level lru_caches cleared when an API component stops",
    "web framework's internal caches",
    "their keys hold the endpoints of every app built in the process, and so the apps: ~0.3 MB per reload",
    "nothing to undo: FastAPI fills them again on the next requests",
    (API_SCRIPT,))

EFFECTS = (SEARCH_PATH, ONE_LINE_FAILURE, MAIN_HOOKS, SWITCH_INTERVAL, COLLECTOR_FREEZE, WEB_FRAMEWORK_CACHES)


# ------------------------------------------------------------------------ the switch interval
class LoweredSwitchInterval:
    """The interpreter's switch interval lowered to at most ``to`` seconds until ``undo``."""

    def __init__(self, to: float) -> None:
        self._saved = sys.getswitchinterval()
        self._lowered = min(self._saved, to)
        sys.setswitchinterval(self._lowered)

    def undo(self) -> None:
        """Back to the previous value, unless something else changed it since."""
        if sys.getswitchinterval() == self._lowered:
            sys.setswitchinterval(self._saved)


# ------------------------------------------------------------------------ the garbage collector
_frozen = False


def freeze_long_lived() -> Tuple[int, float]:
    """Collect, then move everything alive into the permanent generation (``gc.freeze``), so later
    full collections walk only what was created since; (objects frozen, seconds taken), (0, 0.0)
    after the first call in this interpreter.

    Run on the hub thread when the API registers (the load is already the slow moment: the imports
    took longer). Those objects (FastAPI, pydantic, uvicorn: ~50,000) live as long as the process, so
    scanning them again and again finds nothing. In single mode other scripts' objects alive then are
    frozen too. Once per process, not per reload: after a `!pyreload` the first API instance's app
    (a web of cycles, a few MB) is never reclaimed; later instances are not frozen."""
    global _frozen
    if _frozen:
        return 0, 0.0
    _frozen = True
    began = time.perf_counter()
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count(), time.perf_counter() - began


# ------------------------------------------------------------------------ memo caches of a library
def clear_memo_caches(module: ModuleType) -> None:
    """Clear every module-level ``functools`` cache of ``module``, found by what it is (a version of
    the library without them is fine)."""
    for value in list(vars(module).values()):
        clear = getattr(value, "cache_clear", None)
        if callable(clear):
            clear()


# ------------------------------------------------------------------------ hooks in __main__
def put_hook(namespace: MutableMapping[str, Any], name: str, fn: Callable[..., Any]) -> None:
    """Make ``fn`` the hook ``name`` the plugin finds in the shared ``namespace`` (single mode)."""
    namespace[name] = fn
