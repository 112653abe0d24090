"""Single-interpreter mode: our hook functions and other scripts' same-named ones, both kept working.

All scripts share ``__main__`` and the plugin looks hooks up there by name at call time (F3, A12): a
script loaded after ours that defines ``OnTimer`` silently takes our ``OnTimer`` away, and ours would
take its away when loaded after it. The guard therefore
- remembers a third-party function found under a hook name (at our load, or later when one replaced
  ours) and has the runtime call it once per event after our own handling ("chaining"), with its
  verdict honoured (a third-party 0 still blocks), so that script keeps working beside ours;
- puts our function back when another script replaced it (checked on every OnTimer and by each
  supervisor thread about every 0.1 s, so even a script that replaced every hook is undone);
- stops chaining a third-party script's functions once that script is unloaded. The plugin leaves
  them in ``__main__`` (A12, A23) and its own ``!pyunload`` reaches OnHubCommand first (A3), so the
  runtime tells the guard which script an operator unloads; the next hook call checks the slot is
  gone (``vh.myid`` named the last loaded script when its functions were first seen) and drops them.
- closes most of the load window: a ``!pyload`` seen in OnHubCommand makes every following hook
  call put our functions back first, so the new script's OnParsedMsgAny aside, the hooks of the
  next message (in the same TCP write too, A23) are ours again. A new script that defines
  OnParsedMsgAny as well handles messages alone until the next OnTimer or supervisor check.
"Ours" = defined in one of our script files (their paths are recorded at registration).
Writing ``__main__`` is a process-wide effect (``effects.MAIN_HOOKS``).
"""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, Iterable, Optional, Set

from vhctl_hub import hublog
from vhctl_hub.effects import put_hook


class HookGuard:
    """Keeps ``__main__``'s hook names pointing at our functions; collects the third-party ones."""

    def __init__(self, hooks: Iterable[str], make_hook: Callable[[str], Callable[..., Any]]) -> None:
        self.hooks = tuple(hooks)
        self.foreign: Dict[str, Callable[..., Any]] = {}
        # Until one of our scripts' own functions was seen, a runtime-made equivalent stands in.
        self._ours: Dict[str, Callable[..., Any]] = {name: make_hook(name) for name in self.hooks}
        # Keyed by id but holding the functions: a freed function's id could be reused by another.
        self._made: Dict[int, Callable[..., Any]] = {id(fn): fn for fn in self._ours.values()}
        self._files: Set[str] = set()
        self._globals: Optional[Dict[str, Any]] = None
        #: file of a third-party script -> its plugin slot id, when known (see ``settle``)
        self._slots: Dict[str, Optional[int]] = {}
        self._leaving: Set[str] = set()   # third-party files an operator's `!pyunload` named
        self._loading = False             # a `!pyload`/`!pyreload` was seen: restore at every hook
        self._fresh: Set[str] = set()     # third-party files first seen since the last ``settle``
        #: A load or unload was asked for and ``settle`` has not finished with it (read at every hook
        #: call, so kept as a plain attribute, updated wherever ``_loading`` or ``_leaving`` change).
        self.pending = False

    def adopt(self, script_globals: Dict[str, Any]) -> None:
        """Our script is being loaded (before its hook definitions run): note what is there now."""
        self._globals = script_globals
        path = script_globals.get("__file__")
        if path:
            self._files.add(str(path))
        for name in self.hooks:
            fn = script_globals.get(name)
            if callable(fn) and not self.is_ours(fn):
                self._chain(name, fn, fresh=False)   # loaded before ours: its slot id is unknown

    def is_ours(self, fn: Any) -> bool:
        """Whether ``fn`` was defined by one of our scripts."""
        if id(fn) in self._made:
            return True
        code = getattr(fn, "__code__", None)
        return code is not None and code.co_filename in self._files

    def restore(self) -> None:
        """Put our hooks back where another script replaced them; chain the replacements."""
        space = self._globals
        if space is None:
            return
        for name in self.hooks:
            fn = space.get(name)
            if fn is None or fn is self._ours.get(name):
                continue
            if self.is_ours(fn):
                self._ours[name] = fn
                continue
            mine = self._ours[name]
            if not callable(fn):
                continue
            self._chain(name, fn, fresh=True)
            put_hook(space, name, mine)
            hublog.log(f"another script defined {name} too (single-interpreter mode): vhctl's {name} "
                       "is back in place and calls the other one as well")

    # ---------------------------------------------------------------- third-party loads and unloads
    def _note_pending(self) -> None:
        self.pending = self._loading or bool(self._leaving)

    def note_command(self, command: str) -> None:
        """An operator's plugin command as OnHubCommand saw it, before the plugin acts on it (A3)."""
        verb, _, target = command.partition(" ")
        target = target.strip()
        if verb in ("pyload", "pyreload"):
            self._loading = True
        if verb in ("pyunload", "pyreload"):
            self._leaving |= {f for f in self._slots if names_script(target, f, self._slots[f])}
        self._note_pending()

    def place_earlier(self, myid: Optional[int], slot_alive: Callable[[int], bool],
                      ours: Iterable[int]) -> None:
        """Hub thread, at our load: the slot of a third-party script found in ``__main__`` (loaded
        before ours, so below ``myid``), when exactly one such script and one such slot exist, so
        that `!pyunload ID` is recognised too."""
        unknown = [path for path, slot in self._slots.items() if slot is None]
        if myid is None or len(unknown) != 1:
            return
        taken = set(ours)
        alive = [i for i in range(myid) if i not in taken and slot_alive(i)]
        if len(alive) == 1:
            self._slots[unknown[0]] = alive[0]

    def settle(self, myid: Optional[int], slot_alive: Callable[[int], bool], final: bool) -> None:
        """Hub thread, at the start of a hook call while ``pending``: our functions back in place; a
        newly seen third-party script's slot is ``myid`` (the last one loaded, A12); a script whose
        unload was asked and whose slot is gone is no longer chained. ``final`` (OnTimer): the
        plugin has acted on every command by now, so a slot still alive means the unload failed."""
        self.restore()
        for path in self._fresh:
            self._slots[path] = myid if self._loading else None
        self._fresh.clear()
        if final:
            self._loading = False
        for path in list(self._leaving):
            slot = self._slots.get(path)
            if slot is not None and slot_alive(slot):
                if final:
                    self._leaving.discard(path)
                continue
            self._drop(path)
        self._note_pending()

    def _chain(self, name: str, fn: Callable[..., Any], fresh: bool) -> None:
        self.foreign[name] = fn
        path = _file_of(fn)
        if path is not None and path not in self._slots:
            self._slots[path] = None
            if fresh:
                self._fresh.add(path)

    def _drop(self, path: str) -> None:
        """The script at ``path`` was unloaded: stop calling what it left in ``__main__``."""
        self._leaving.discard(path)
        self._note_pending()
        self._slots.pop(path, None)
        dropped = sorted(n for n, fn in self.foreign.items() if _file_of(fn) == path)
        for name in dropped:
            del self.foreign[name]
            space = self._globals
            if space is not None and _file_of(space.get(name)) == path:
                put_hook(space, name, self._ours[name])
        if dropped:
            hublog.log(f"the other script {os.path.basename(path)} was unloaded: vhctl no longer calls "
                       f"its {', '.join(dropped)} (single-interpreter mode keeps them in memory)")


def _file_of(fn: Any) -> Optional[str]:
    code = getattr(fn, "__code__", None)
    return code.co_filename if code is not None else None


def names_script(target: str, path: str, slot: Optional[int]) -> bool:
    """Whether `!pyunload TARGET` means the script at ``path`` loaded as ``slot`` (F9): its id, its
    path (relative to the hub's working folder), or a bare name the plugin looks up in its scripts
    folder."""
    if target.isdigit():
        return slot is not None and int(target) == slot
    if "/" in target:
        return os.path.abspath(target) == os.path.abspath(path)
    return path.endswith("/scripts/" + target)
