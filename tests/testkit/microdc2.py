"""microdc2 (Debian's console DC client) driven through a pipe, for the tests that need a real DC
client: the simulated hub's own tests and the demo's end-to-end tests. The ``microdc2`` fixture
(tests/conftest.py) starts them and closes them after the test."""

from __future__ import annotations

import re
import subprocess
import threading
from pathlib import Path

from testkit.wire import wait_for_match

#: The plugin console's exact `!pylist` reply with no script loaded (A2).
PYLIST_EMPTY = (b"<Verlihub> Loaded Python scripts:\r\n\r\n\tID\tScript\r\n"
                b"\t----------------------------------------\r\n\r\n|")


class Microdc2:
    """microdc2 reading commands from a pipe; its screen output collected by a thread."""

    def __init__(self, home: Path, config: Path) -> None:
        self.proc = subprocess.Popen(
            ["microdc2", "-c", str(config)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, env={"HOME": str(home), "PATH": "/usr/bin:/bin",
                                           "TERM": "dumb", "LANG": "C.UTF-8"})
        self.output = ""
        self._lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in iter(lambda: self.proc.stdout.read1(4096), b""):  # type: ignore[union-attr]
            with self._lock:
                self.output += raw.decode("utf-8", "replace")

    def shown_since(self, mark: int) -> str:
        """The screen output after the first ``mark`` characters (read under the reader's lock)."""
        with self._lock:
            return self.output[mark:]

    def type(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def wait_for(self, text: str, timeout: float = 30.0) -> None:
        """Until the screen shows ``text``."""
        self.screen_after(0, re.escape(text), timeout)

    def screen_after(self, since: int, pattern: str, timeout: float = 10.0) -> re.Match[str]:
        """The first match of ``pattern`` (multi-line) on the screen after offset ``since``."""
        return wait_for_match(lambda: self.shown_since(0), pattern, since, timeout, re.M, "microdc2's screen")

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.type("exit")
                self.proc.wait(3)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(3)
