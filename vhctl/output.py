"""How commands talk to people and to scripts: progress on stderr, results on stdout (or JSON)."""

from __future__ import annotations

import json
import sys
import time
from typing import Any, Callable, Iterable


class Progress:
    """Numbered steps on stderr, so that a long operation shows where it is and stdout stays clean."""

    def __init__(self, total: int, quiet: bool = False) -> None:
        self.total = total
        self.done = 0
        self.quiet = quiet
        self.started = time.monotonic()

    def step(self, text: str) -> None:
        """Announce the next step."""
        self.done += 1
        if not self.quiet:
            print(f"[{self.done}/{self.total}] {text}", file=sys.stderr, flush=True)

    def note(self, text: str) -> None:
        """A line of detail under the current step."""
        if not self.quiet:
            print(f"      {text}", file=sys.stderr, flush=True)


def emit(data: Any, as_json: bool, human: Callable[[Any], Iterable[str]]) -> None:
    """Print ``data`` as JSON (for scripts) or as the lines ``human(data)`` gives (for people)."""
    if as_json:
        print(json.dumps(data, indent=2, sort_keys=True, default=str))
    else:
        for line in human(data):
            print(line)
