"""The registered component instances of one runtime, by name (any thread).

Besides the instances, it keeps the table a chat line is dispatched by: the ``on_chat`` of each live
component that has one of its own, rebuilt whenever an instance comes, is asked to stop or goes,
so that the hub thread does no lookup, locking or filtering per line.
"""

from __future__ import annotations

import threading
from typing import Callable, Dict, List, Optional, Tuple

from vhctl_hub.component import Component
from vhctl_hub.supervisor import Instance

#: (component name, its ``on_chat``) of each live instance that takes chat lines.
ChatTable = Tuple[Tuple[str, Callable[[str, str], None]], ...]


class Instances:
    """The registered instances of one runtime, by component name (any thread)."""

    def __init__(self) -> None:
        self._by_name: Dict[str, Instance] = {}
        self._lock = threading.Lock()
        #: read by the hub thread at every chat line: a new tuple replaces it, never changed in place
        self.chat: ChatTable = ()

    def put(self, instance: Instance) -> Optional[Instance]:
        """Register ``instance``; returns the one of the same name it replaces."""
        with self._lock:
            old = self._by_name.pop(instance.name, None)
            self._by_name[instance.name] = instance
            self._rebuild()
        return old

    def forget(self, instance: Instance) -> None:
        """Drop a stopped instance (if it is still the registered one)."""
        name = instance.name
        with self._lock:
            if self._by_name.get(name) is instance:
                del self._by_name[name]
                self._rebuild()

    def retired(self) -> None:
        """An instance was asked to stop: it gets no more events."""
        with self._lock:
            self._rebuild()

    def live(self) -> List[Instance]:
        """The live instances, in registration order."""
        with self._lock:
            return self._live()

    def live_slots(self) -> List[int]:
        """Single mode: the plugin slots of the live instances, newest first (for ``VhAccess``)."""
        return [i.slot for i in reversed(self.live()) if i.slot is not None]

    def _live(self) -> List[Instance]:
        return [i for i in self._by_name.values() if not i.ctx.stopping.is_set()]

    def _rebuild(self) -> None:
        """Under the lock: the chat table of the live instances (the base class's no-op left out)."""
        self.chat = tuple((i.name, i.component.on_chat) for i in self._live()
                          if type(i.component).on_chat is not Component.on_chat)
