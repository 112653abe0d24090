"""Lines for the hub's log: the plugin sends Python's stderr there (F8), so that is where we write.

One line per message, prefixed ``vhctl``, so that an operator can grep the hub log for it.
"""

from __future__ import annotations

import sys
import traceback


def log(line: str) -> None:
    """Write one line to the hub log."""
    try:
        sys.stderr.write(f"vhctl: {line}\n")
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):  # stderr closed or missing in an embedded hub
        pass


def log_exception(what: str, exc: BaseException) -> None:
    """One summary line, then the traceback (for bugs, not for expected failures)."""
    log(f"{what}: {type(exc).__name__}: {exc}")
    try:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    except (OSError, ValueError, AttributeError):
        pass
