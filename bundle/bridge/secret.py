"""The Matterbridge token in the keyring, beside the API's (service ``vhctl``, ``matterbridge-token``).

Every keyring access of the bridge goes through these two functions, so that the shared keyring
code (``vhctl_hub.secrets``) can change underneath without touching the rest of the bridge.
"""

from __future__ import annotations

from typing import Optional

from vhctl_hub import secrets

USERNAME = "matterbridge-token"


def read_token() -> Optional[str]:
    """The stored token, None when none is stored; KeyringUnavailable when the keyring fails."""
    chosen = secrets.backend()
    try:
        value = chosen.get_password(secrets.SERVICE, USERNAME)
    except Exception as exc:  # noqa: BLE001 - locked collection, missing D-Bus, unreadable file...
        raise secrets.KeyringUnavailable(f"the keyring ({secrets.backend_name(chosen)}) cannot be read "
                                         f"({type(exc).__name__})") from None
    return value or None


def store_token(token: str) -> None:
    """Replace the stored token; KeyringUnavailable when the keyring fails (the token is never in it)."""
    chosen = secrets.backend()
    try:
        chosen.set_password(secrets.SERVICE, USERNAME, token)
    except Exception as exc:  # noqa: BLE001
        raise secrets.KeyringUnavailable(f"the keyring ({secrets.backend_name(chosen)}) cannot be written "
                                         f"({type(exc).__name__})") from None
