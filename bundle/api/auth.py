"""Who may see private fields: the bearer token check, and keeping the token current.

The token lives in the keyring (``vhctl_hub.secrets``). Reading a keyring can block (D-Bus, a locked
collection), so it is never read on a request: a small thread of the API re-reads it when its
``stamp`` changes (a stat of the keyring file, checked every ``POLL_SECONDS``), at least every
``REFRESH_SECONDS`` (a system keyring has no file to stat), and soon after a failed check, so
`vhctl token rotate` takes effect in about a second, without a reload. Requests only compare against
the value in memory, with ``hmac.compare_digest``.

The token itself is never logged, never put in the status file, never sent to chat: only the *state*
("set", "not set", "keyring unavailable: ...") is shown, and logged once per change.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Optional

from vhctl_hub.secrets import KeyringUnavailable, read_token, stamp, tokens_equal

#: How often the keyring is read again even when its stamp did not change, seconds.
REFRESH_SECONDS = 5.0
#: How often the keyring's stamp (a stat) is compared, seconds.
POLL_SECONDS = 1.0
#: Soonest re-read after a failed check, seconds (a client guessing tokens must not hammer the keyring).
RETRY_AFTER_FAILURE = 1.0

HOW_TO = "create one with: vhctl token generate (as the hub user, on the hub machine)"


@dataclass(frozen=True)
class AuthResult:
    """``ok``: token valid; ``error``: why a presented (or required) token is refused, else None."""

    ok: bool
    error: Optional[str] = None


ANONYMOUS = AuthResult(False)
AUTHENTICATED = AuthResult(True)


class TokenKeeper:
    """The current token in memory; ``run`` keeps it fresh on a thread of the API."""

    def __init__(self, log: Callable[[str], None], reader: Callable[[], Optional[str]] = read_token,
                 stamper: Callable[[], Optional[str]] = stamp) -> None:
        self._log = log
        self._read = reader
        self._stamp = stamper
        self._seen: Optional[str] = None
        self._token: Optional[str] = None
        self.state = "not read yet"
        self._wake = threading.Event()

    def refresh(self) -> None:
        """Read the keyring now (blocking; never on the hub thread or the event loop)."""
        self._seen = self._stamp()
        try:
            token = self._read()
            state = "set" if token else "not set: " + HOW_TO
        except KeyringUnavailable as exc:
            token, state = None, f"keyring unavailable: {exc}"
        self._token = token
        if state != self.state:
            self.state = state
            self._log(f"API token: {state} (" + ("private fields need it)" if token else
                                                 "the API serves public data only)"))

    def run(self, stop: threading.Event) -> None:
        """Thread body: re-read on a stamp change, every REFRESH_SECONDS, or soon after a failed
        check, until ``stop``."""
        waited = 0.0
        while not stop.is_set():
            self._wake.wait(POLL_SECONDS)
            waited += POLL_SECONDS
            if stop.is_set():
                return
            if self._wake.is_set():
                stop.wait(RETRY_AFTER_FAILURE)
                self._wake.clear()
            elif waited < REFRESH_SECONDS and self._seen is not None and self._stamp() == self._seen:
                continue
            waited = 0.0
            self.refresh()

    def wake(self) -> None:
        """Let ``run`` return early (when stopping)."""
        self._wake.set()

    def check(self, authorization: Optional[str]) -> AuthResult:
        """The verdict on an ``Authorization`` header value (None when the request had none)."""
        if authorization is None:
            return ANONYMOUS
        scheme, _, presented = authorization.strip().partition(" ")
        presented = presented.strip()
        if scheme.lower() != "bearer" or not presented:
            return AuthResult(False, "malformed Authorization header; send 'Authorization: Bearer <token>'")
        expected = self._token
        if expected is not None and tokens_equal(presented, expected):
            return AUTHENTICATED
        self._wake.set()  # maybe the token was just created or rotated: read the keyring again soon
        if expected is None:
            return AuthResult(False, f"the API has no token to check against (token {self.state})")
        return AuthResult(False, "invalid API token")
