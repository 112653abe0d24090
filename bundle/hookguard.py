"""Single-interpreter mode: our hook functions and other scripts' same-named ones, both kept working.

All scripts share ``__main__`` and the plugin looks hooks up there by name at call time (F3, A12): a
script loaded after ours that defines ``OnTimer`` silently takes our ``OnTimer`` away, and ours would
take its away when loaded after it. The guard therefore
- remembers a third-party function found under a hook name (at our load, or later when one replaced
  ours) and has the runtime call it once per event after our own handling ("chaining"), with its
  verdict honoured (a third-party 0 still blocks), so that script keeps working beside ours;
- puts our function back when another script replaced it (checked on every OnTimer and by each
  supervisor thread about every 0.1 s, so even a script that replaced every hook is undone).
"Ours" = defined in one of our script files (their paths are recorded at registration).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, Optional, Set

from vhctl_hub import hublog


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

    def adopt(self, script_globals: Dict[str, Any]) -> None:
        """Our script is being loaded (before its hook definitions run): note what is there now."""
        self._globals = script_globals
        path = script_globals.get("__file__")
        if path:
            self._files.add(str(path))
        for name in self.hooks:
            fn = script_globals.get(name)
            if callable(fn) and not self.is_ours(fn):
                self.foreign[name] = fn

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
            self.foreign[name] = fn
            space[name] = mine
            hublog.log(f"another script defined {name} too (single-interpreter mode): vhctl's {name} "
                       "is back in place and calls the other one as well")
