"""The registered component instances of one runtime, by name (any thread)."""

from __future__ import annotations

import threading
from typing import Dict, List, Optional

from vhctl_hub.supervisor import Instance


class Instances:
    """The registered instances of one runtime, by component name (any thread)."""

    def __init__(self) -> None:
        self._by_name: Dict[str, Instance] = {}
        self._lock = threading.Lock()

    def put(self, instance: Instance) -> Optional[Instance]:
        """Register ``instance``; returns the one of the same name it replaces."""
        with self._lock:
            old = self._by_name.pop(instance.name, None)
            self._by_name[instance.name] = instance
        return old

    def forget(self, instance: Instance) -> None:
        """Drop a stopped instance (if it is still the registered one)."""
        name = instance.name
        with self._lock:
            if self._by_name.get(name) is instance:
                del self._by_name[name]

    def live(self) -> List[Instance]:
        """The live instances, in registration order."""
        with self._lock:
            return [i for i in self._by_name.values() if not i.ctx.stopping.is_set()]

    def live_slots(self) -> List[int]:
        """Single mode: the plugin slots of the live instances, newest first (for ``VhAccess``)."""
        return [i.slot for i in reversed(self.live()) if i.slot is not None]
