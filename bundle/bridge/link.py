"""The live link settings (address, gateway, token) and what the link threads report.

Settings start from the config's ``[bridge]`` and change from chat (``!bridge config``/``gateway``/
``token``); each change bumps ``generation`` so that the reader reconnects with the new values.
The token is held here only, never put into the status or a reply.
"""

from __future__ import annotations

import threading
import time
from typing import Dict, Optional
from urllib.parse import urlsplit

from vhctl_hub.status import StatusBoard


class Link:
    """Thread-safe holder of where and how to reach Matterbridge."""

    def __init__(self, url: str, gateway: str, account: str) -> None:
        self._lock = threading.Lock()
        self.url = url.rstrip("/")
        self.gateway = gateway
        #: Our account id (``api.NAME``): configured, else learned from the first POST answer (M20).
        self.account = account
        self.token: Optional[str] = None
        self.generation = 0
        self.changed = threading.Event()

    def update(self, url: Optional[str] = None, gateway: Optional[str] = None,
               token: Optional[str] = None) -> None:
        with self._lock:
            if url is not None:
                self.url = url.rstrip("/")
            if gateway is not None:
                self.gateway = gateway
            if token is not None:
                self.token = token or None
            self.generation += 1
        self.changed.set()

    def headers(self) -> Dict[str, str]:
        """HTTP headers for every request (the token when one is set, M9-M10)."""
        token = self.token
        return {"Authorization": f"Bearer {token}"} if token else {}

    def ws_url(self) -> str:
        parts = urlsplit(self.url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return f"{scheme}://{parts.netloc}{parts.path}/api/websocket"

    def endpoint(self, path: str) -> str:
        return f"{self.url}{path}"


class LinkReport:
    """One side of the link (``in`` or ``out``) as the status shows it: state, error, next retry."""

    def __init__(self, board: StatusBoard, side: str) -> None:
        self._board = board
        self._side = side

    def state(self, state: str, **fields: object) -> None:
        self._board.set(**{f"{self._side}_state": state, f"{self._side}_retry_at": None,
                           **{f"{self._side}_{k}": v for k, v in fields.items()}})

    def failed(self, line: str, delay: float, state: str = "retrying") -> None:
        self._board.set(**{f"{self._side}_state": state, f"{self._side}_error": line,
                           f"{self._side}_retry_at": time.time() + delay})
        self._board.error(line)

    def error(self, line: str) -> None:
        """A problem that changes neither the state nor the retry time."""
        self._board.set(**{f"{self._side}_error": line})
        self._board.error(line)

    def count(self, counter: str, n: int = 1) -> None:
        self._board.count(f"{self._side}_{counter}", n)
