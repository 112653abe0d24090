"""The demo's chat bridge peer and tokens: `vhctl demo` connects the bridge script either to the
built-in Matterbridge stand-in (with simulated remote users) or to a real Matterbridge the user names,
and makes a throwaway API token, all in a keyring inside the demo's own temporary folder.

The stand-in's token is a throwaway too, but it is never printed: only the API token is, because a
newcomer needs it to see the API's private fields.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Optional

from vhctl_hub import secrets
from vhctl_hub.config import BridgeSettings

from vhctl.errors import VhctlError
from vhctl.sim.matterbridge import MatterbridgeStandIn

#: How long the demo waits for the bridge script's WebSocket to reach the stand-in, seconds.
CONNECT_WAIT_SECONDS = 10.0
#: Seconds between two lines of the stand-in's simulated remote users.
CHATTER_INTERVAL = 5.0


@dataclass(frozen=True)
class BridgeTarget:
    """Where the demo's bridge connects: ``url`` None means the built-in stand-in."""

    url: Optional[str] = None
    token_env: Optional[str] = None
    gateway: str = BridgeSettings().gateway

    def token(self) -> Optional[str]:
        """The real Matterbridge's token, read from the environment variable the user named."""
        if self.token_env is None:
            return None
        value = os.environ.get(self.token_env)
        if not value:
            raise VhctlError(f"--matterbridge-token-env: ${self.token_env} is not set or empty")
        return value


class DemoPeer:
    """The demo's keyring, its API token and the bridge's peer: ``start()``, then ``stop()``."""

    def __init__(self, target: BridgeTarget, folder: Path, note: Callable[[str], None],
                 seed: Optional[int] = None) -> None:
        self.target = target
        self.folder = folder
        self.note = note
        self.seed = seed
        self.api_token = ""
        self.standin: Optional[MatterbridgeStandIn] = None
        self._previous_record: Optional[str] = None

    @property
    def url(self) -> str:
        return self.standin.url if self.standin is not None else str(self.target.url)

    def start(self) -> Dict[str, Any]:
        """Make the keyring and the tokens, start the stand-in if it is the peer; returns the config
        settings the rendered scripts need."""
        token = self.target.token()  # a missing variable fails before anything is started
        self._previous_record = os.environ.get(secrets.RECORD_ENV)
        secrets.use_temporary_keyring(self.folder)
        self.api_token = secrets.new_token()
        secrets.store_secret("api", self.api_token)
        if self.target.url is None:
            token = secrets.new_token()
            self.standin = MatterbridgeStandIn(host="127.0.0.1", port=0, token=token,
                                               gateway=self.target.gateway).start()
        if token:
            secrets.store_secret("matterbridge", token)
        return {"bridge.url": self.url, "bridge.gateway": self.target.gateway}

    def wait_connected(self) -> None:
        """Once the bridge script is loaded: wait until its WebSocket reached the stand-in, then let
        the remote users talk (a real Matterbridge is not watched: its users talk when they do)."""
        if self.standin is None:
            return
        try:
            self.standin.wait_until(lambda mb: mb.ws_clients >= 1, timeout=CONNECT_WAIT_SECONDS)
        except TimeoutError:
            self.note(f"the bridge did not connect to the stand-in within {CONNECT_WAIT_SECONDS:g} s")
        self.standin.start_chatter(interval=CHATTER_INTERVAL, seed=self.seed)

    def lines(self) -> list[str]:
        """What the demo prints after its first three lines."""
        if self.standin is not None:
            where = f"the built-in Matterbridge stand-in at {self.url}"
        else:
            where = f"Matterbridge at {self.url}"
        return [f"token: {self.api_token}",
                f"bridge: connected to {where} (gateway {self.target.gateway})"]

    def stop(self) -> None:
        """Stop the stand-in and give the process its keyring choice back (idempotent)."""
        standin, self.standin = self.standin, None
        if standin is not None:
            standin.stop_chatter()
            standin.stop()
        if self.api_token:
            if self._previous_record is None:
                os.environ.pop(secrets.RECORD_ENV, None)
            else:
                os.environ[secrets.RECORD_ENV] = self._previous_record
            self.api_token = ""
