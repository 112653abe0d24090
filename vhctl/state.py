"""What one run of the CLI shares between its root options and its commands.

``vhctl.cli`` sets it from the options that come before the command (``--config``); the command
modules read it. It lives in a module of its own so that the command modules never import the CLI
that registers them (no import circle). Nothing here is resolved at import: the config file is
looked up when a command asks for it, in the environment of that run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from vhctl import paths


class State:
    """Options every command shares; the config file is found when a command asks for it."""

    def __init__(self) -> None:
        self.config_option: Optional[Path] = None

    @property
    def config_path(self) -> Path:
        """The config file of this run (``--config``, ``$VHCTL_CONFIG``, the user's, the system's)."""
        return paths.config_file(self.config_option)


#: The state of this process's run (the CLI runs one command line per process).
state = State()
