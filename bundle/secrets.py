"""The REST API token in the system keyring: the one place that knows where it lives.

Why the keyring: the token must never sit in config.toml, in the rendered hub scripts, in the status
files or in the hub log; those are read by more people and tools than the API's clients. The keyring
keeps it in the hub user's own secret store (or a 0600 file with a file-based backend).

Where: service ``vhctl``, username ``api-token``, in whatever keyring backend the *hub's* user gets
(``keyring`` picks it from ``PYTHON_KEYRING_BACKEND`` or its keyringrc.cfg). `vhctl token` must therefore
run as the user the hub runs as. Both the CLI (`vhctl token`) and the API inside the hub use this module.

The ``keyring`` package is imported lazily: a hub without it (or with a broken backend) still serves the
public API, and the failure becomes one line (``KeyringUnavailable``) instead of an import error.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any, Optional

SERVICE = "vhctl"
USERNAME = "api-token"
#: Bytes of randomness in a new token (``token_urlsafe`` makes ~43 characters of them).
TOKEN_BYTES = 32


class KeyringUnavailable(RuntimeError):
    """No usable keyring; ``str()`` is one line saying why (never containing a secret)."""


def new_token() -> str:
    """A fresh random token."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def tokens_equal(presented: str, expected: str) -> bool:
    """Constant-time comparison, so response timing tells nothing about the token."""
    return hmac.compare_digest(presented.encode("utf-8", "replace"), expected.encode("utf-8", "replace"))


def _keyring() -> Any:
    try:
        import keyring
    except Exception as exc:  # noqa: BLE001 - any import failure means "no keyring here"
        raise KeyringUnavailable(
            f"the keyring package cannot be imported ({type(exc).__name__}: {exc})") from None
    return keyring


def backend() -> Any:
    """The keyring backend in use; KeyringUnavailable when there is none that works."""
    keyring = _keyring()
    try:
        chosen = keyring.get_keyring()
    except Exception as exc:  # noqa: BLE001 - a broken keyringrc or backend
        raise KeyringUnavailable(
            f"no keyring backend could be loaded ({type(exc).__name__}: {exc})") from None
    if type(chosen).__module__.startswith("keyring.backends.fail"):
        raise KeyringUnavailable("no keyring backend is available for this user; install one "
                                 "(e.g. keyrings.alt) or set PYTHON_KEYRING_BACKEND")
    return chosen


def backend_name(chosen: Any) -> str:
    """``module.Class`` of a backend, as PYTHON_KEYRING_BACKEND would name it."""
    return f"{type(chosen).__module__}.{type(chosen).__qualname__}"


def storage_path(chosen: Any) -> Optional[str]:
    """The file a file-based backend keeps its secrets in (None for other backends)."""
    path = getattr(chosen, "file_path", None)
    return str(path) if isinstance(path, str) and path else None


def read_token() -> Optional[str]:
    """The stored token, None when none is stored; KeyringUnavailable when the keyring does not work."""
    chosen = backend()
    try:
        value = chosen.get_password(SERVICE, USERNAME)
    except Exception as exc:  # noqa: BLE001 - locked collection, D-Bus missing, unreadable file...
        raise KeyringUnavailable(f"the keyring ({backend_name(chosen)}) cannot be read "
                                 f"({type(exc).__name__}: {exc})") from None
    return value or None


def store_token(token: str) -> None:
    """Replace the stored token; KeyringUnavailable when the keyring does not work."""
    chosen = backend()
    try:
        chosen.set_password(SERVICE, USERNAME, token)
    except Exception as exc:  # noqa: BLE001
        raise KeyringUnavailable(f"the keyring ({backend_name(chosen)}) cannot be written "
                                 f"({type(exc).__name__}: {exc})") from None
