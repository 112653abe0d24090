"""What the operator reads when a component cannot start: one line, and whether a reload can help.

Used by the supervisor (a start that failed), by ``script`` (a component that cannot even be
imported in this interpreter) and by the API's web stack (its import, A10).
"""

from __future__ import annotations

#: How compiled modules refuse a second interpreter: PyO3 (pydantic-core, A10) and Cython 3
#: (httptools, uvicorn's HTTP parser).
ONCE_PER_PROCESS = ("subinterpreter", "interpreter change detected")


def lasts_until_restart(exc: BaseException) -> bool:
    """Whether ``exc`` is a compiled module refusing a second interpreter: only a hub restart ends it."""
    return isinstance(exc, ImportError) and any(m in str(exc).lower() for m in ONCE_PER_PROCESS)


def describe_start_error(name: str, exc: BaseException) -> str:
    """One line for the operator about a component that could not start."""
    text = f"{type(exc).__name__}: {exc}"
    if lasts_until_restart(exc):
        return (f"{name} cannot start again in this hub process: the plugin runs each script in its own "
                "sub-interpreter, and FastAPI's compiled parts load only in the first one; restart the hub "
                "to load it, or rebuild the plugin with -DPYTHON_USE_SINGLE_INTERPRETER=ON to reload freely")
    if isinstance(exc, OSError) and getattr(exc, "errno", None) == 98:
        return f"{name} cannot start: its port is in use by another program ({text})"
    return f"{name} cannot start: {text}"
