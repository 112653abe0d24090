"""``!pyreload`` without a gap: the new instance is connected before the old one lets go.

The runtime starts a new instance only once the old one has stopped (``vhctl_hub.lease``), and in
sub-interpreter mode the two share no Python object. So the two bridge instances meet in two small
files in the state folder:
- ``bridge-handover.json``, the successor's announcement: written when the new instance is built
  (before the runtime tells the old one to stop), then marked ``connected`` by the new instance's
  reader at its first WebSocket frame (from then on it receives every routed message, M67, M83),
  or ``gave_up`` when it cannot connect. The old instance's ``stop`` waits (bounded) for that mark,
  still showing messages meanwhile;
- ``bridge-baton.json``, what the old instance hands over as it stops: the keys of the messages it
  showed and the messages it received but did not show yet (``inlet.Baton``), and whether and since
  when it was disconnected. The new instance shows the rest, each message once, in order.

The baton of a clean hub shutdown (no successor yet) is taken by the next hub process's first
instance if it is recent: it shows what waited and reads back the ring from the gap (``ringread``).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from vhctl_hub.bridge.inlet import Baton, Entry
from vhctl_hub.files import atomic_write

ANNOUNCE_NAME = "bridge-handover.json"
BATON_NAME = "bridge-baton.json"
CONNECTING, CONNECTED, GAVE_UP = "connecting", "connected", "gave_up"
#: How long an old instance waits for its successor to be connected, seconds (within the
#: runtime's stop bound).
WAIT = 3.5
POLL = 0.02
#: A baton without a named successor (hub shutdown) is taken only this fresh, seconds.
RESTART_MAX_AGE = 600.0
#: A baton file larger than this is not read, bytes.
MAX_BATON_BYTES = 256 * 1024 * 1024


def _read(path: Path, limit: int = 1 << 20) -> Optional[Dict[str, Any]]:
    try:
        if not path.is_file() or path.stat().st_size > limit:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class Handover:
    """Both ends of the hand-over for one state folder; ``nonce`` names this instance."""

    def __init__(self, folder: Path, nonce: str, born: float) -> None:
        self.announce_path = Path(folder) / ANNOUNCE_NAME
        self.baton_path = Path(folder) / BATON_NAME
        self.nonce = nonce
        self.born = born

    # ---------------------------------------------------------------- the new instance
    def announce(self) -> None:
        """At construction: a successor is coming (the old instance's ``stop`` will wait for it)."""
        self._mark(CONNECTING)

    def mark(self, state: str) -> None:
        """Our reader's news (connected, gave up), if we are still the announced successor."""
        if self.still_announced():
            self._mark(state)

    def still_announced(self) -> bool:
        data = _read(self.announce_path)
        return data is not None and data.get("successor") == self.nonce

    def _mark(self, state: str) -> None:
        atomic_write(self.announce_path, json.dumps({"successor": self.nonce, "state": state,
                                                     "at": time.time()}), mode=0o600)

    def take_baton(self) -> Tuple[Optional[Baton], Optional[float], bool]:
        """The predecessor's baton meant for us (or a fresh one from a hub shutdown), removed once read:
        (baton, gap start in router time or None, whether the predecessor was connected)."""
        data = _read(self.baton_path, MAX_BATON_BYTES)
        if data is None:
            return None, None, True
        meant = data.get("for")
        age = time.time() - float(data.get("at") or 0)
        if meant != self.nonce and not (meant is None and 0 <= age < RESTART_MAX_AGE):
            return None, None, True
        try:
            os.unlink(self.baton_path)
        except OSError:
            pass
        shown = [k for k in data.get("shown", []) if isinstance(k, str)]
        waiting = [e for e in (Entry.load(d) for d in data.get("waiting", [])) if e is not None]
        since = data.get("gap_since")
        connected = bool(data.get("connected")) and meant is not None
        return Baton(shown, waiting), since if isinstance(since, (int, float)) else None, connected

    # ---------------------------------------------------------------- the old instance
    def successor(self) -> Optional[str]:
        """The nonce of an instance announced after this one was built, or None."""
        data = _read(self.announce_path)
        if not data or data.get("successor") == self.nonce or float(data.get("at") or 0) < self.born:
            return None
        return str(data.get("successor"))

    def wait_connected(self, successor: str, timeout: float = WAIT) -> bool:
        """Until the successor says connected (True), gave up or the time is over (False)."""
        deadline = time.monotonic() + timeout
        while True:
            data = _read(self.announce_path) or {}
            if data.get("successor") != successor or data.get("state") == GAVE_UP:
                return False
            if data.get("state") == CONNECTED:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(POLL)

    def withdraw(self) -> None:
        """Starting again after a pause: a baton this instance left is void (it shows on itself)."""
        data = _read(self.baton_path, MAX_BATON_BYTES)
        if data is not None and data.get("from") == self.nonce:
            try:
                os.unlink(self.baton_path)
            except OSError:
                pass

    def write_baton(self, successor: Optional[str], baton: Baton, gap_since: Optional[float],
                    connected: bool) -> None:
        atomic_write(self.baton_path, json.dumps({
            "for": successor, "from": self.nonce, "at": time.time(), "connected": connected, "gap_since": gap_since,
            "shown": baton.shown, "waiting": [e.dump() for e in baton.waiting]}, ensure_ascii=False),
            mode=0o600)
