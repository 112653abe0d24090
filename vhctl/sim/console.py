"""The plugin's console (cconsole.cpp): ``!pyload``, ``!pyunload``, ``!pyreload``, ``!pylist``,
``!pylog``, ``!pyfiles`` with their exact replies (A2), rights check (F6) and path rules (F8-F11).

The hub reaches it only through OnOperatorCommand (class >= 3, F5) after every OnHubCommand allowed
(F7). Replies go to the caller as a main-chat line from the hub-security bot (DCPublicHS).
"""

from __future__ import annotations

import re
from typing import Any, Callable, Optional, Protocol

from vhctl.sim.slot import Slot


class ScriptHost(Protocol):
    """What the console needs of the plugin (``vhctl.sim.plugin.Plugin`` is one)."""

    hub: Any
    scripts_dir: str
    log_level: int

    def scripts(self) -> list[tuple[int, str]]: ...

    def script_files(self) -> Optional[list[str]]: ...

    def find_id(self, sid: int) -> Optional[Slot]: ...

    def find_path(self, path: str) -> Optional[Slot]: ...

    def load(self, path: str, position: Optional[int] = None) -> Optional[Slot]: ...

    def unload(self, slot: Slot) -> None: ...

    def position(self, slot: Slot) -> int: ...


class Console:
    """The ``!py*`` commands of one plugin."""

    _COMMANDS: tuple[tuple[str, str, str], ...] = (   # Add order of the cConsole constructor
        ("!pyload ", r"(\S+)", "load"),
        ("!pyunload ", r"(\S+)", "unload"),
        ("!pylist", "", "list"),
        ("!pyreload ", r"(\S+)", "reload"),
        ("!pylog ", r"(\d+)", "log"),
        ("!pyfiles", "", "files"),
    )

    def __init__(self, plugin: ScriptHost) -> None:
        self.plugin = plugin
        self.hub = plugin.hub

    def handle(self, nick: str, text: str) -> bool:
        """cConsole::DoCommand: True when the text was one of the console's commands."""
        for prefix, params, action in self._COMMANDS:
            if not text.startswith(prefix):
                continue
            mod_class = int(self.hub.state.get_config("config", "plugin_mod_class") or 5)
            if self.hub.state.user_class(nick) < mod_class:
                self._reply(nick, "You have no rights to do this.")
                return True
            match = re.search(params, text[len(prefix):], re.DOTALL)
            if match is None:
                self._reply(nick, "Command parameters error.")
                return True
            handler: Callable[[str], str] = getattr(self, f"_{action}")
            self._reply(nick, handler(match.group(1) if params else ""))
            return True
        return False

    def _reply(self, nick: str, text: str) -> None:
        self.hub.sender.usermc(text, nick)

    def _resolve(self, arg: str) -> str:
        """A name without '/' lives in the scripts dir (F8, F9)."""
        return arg if "/" in arg else self.plugin.scripts_dir + arg

    def _load(self, arg: str) -> str:
        plugin = self.plugin
        if arg.isdigit() and arg.isascii():
            files = plugin.script_files()
            if files is None:
                return f"Failed loading directory: {plugin.scripts_dir}"
            number = int(arg)
            if number >= len(files):
                return (f"Number {number} is out of range. Get the right number using !pyfiles "
                        "command or specify the script path instead.")
            path = plugin.scripts_dir + files[number]
        else:
            path = self._resolve(arg)
        loaded = plugin.find_path(path)
        if loaded is not None:
            return f"Script #{loaded.id} is already loaded: {path}"
        slot = plugin.load(path)
        if slot is None:
            return f"Script not found or couldn't be parsed: {path}"
        return f"Script #{slot.id} is now loaded: {path}"

    def _stop(self, arg: str) -> tuple[Optional[int], str, str]:
        """Shared by unload and reload: (position or None, message, the path to load again)."""
        plugin = self.plugin
        number = arg.isdigit() and arg.isascii()
        path = arg if number else self._resolve(arg)
        slot = plugin.find_id(int(arg)) if number else plugin.find_path(path)
        if slot is None:
            shown = f"#{int(arg)}" if number else path
            return None, f"Script not stopped because it's not loaded: {shown}", path
        position = plugin.position(slot)
        plugin.unload(slot)
        return position, f"Script #{slot.id} stopped: {slot.path}", slot.path

    def _unload(self, arg: str) -> str:
        return self._stop(arg)[1]

    def _reload(self, arg: str) -> str:
        position, stopped, path = self._stop(arg)
        slot = self.plugin.load(path, position)
        if slot is None:
            return f"{stopped} Script not found or couldn't be parsed: {path}"
        return f"{stopped} Script #{slot.id} is now loaded: {path}"

    def _list(self, _arg: str) -> str:
        lines = "".join(f"\t{sid}\t{path}\r\n" for sid, path in self.plugin.scripts())
        return f"Loaded Python scripts:\r\n\r\n\tID\tScript\r\n\t{'-' * 40}\r\n\r\n{lines}"

    def _files(self, _arg: str) -> str:
        plugin = self.plugin
        files = plugin.script_files()
        if files is None:
            return f"Failed loading directory: {plugin.scripts_dir}"
        lines = "".join(f"\t{i}\t{name}\r\n" for i, name in enumerate(files))
        return (f"Python scripts found in: {plugin.scripts_dir}\r\n\r\n\tID\tScript\r\n"
                f"\t{'-' * 40}\r\n\r\n{lines}")

    def _log(self, arg: str) -> str:
        plugin = self.plugin
        old, plugin.log_level = plugin.log_level, int(arg)
        self.hub.roster.set_config("pi_python", "log_level", str(plugin.log_level))
        self.hub.stderr(f"PY: log_level changed: {old} --> {plugin.log_level}")
        return f"Updated configuration pi_python.log_level: {old} -> {arg}"
