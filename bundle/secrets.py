"""vhctl's two secrets (the REST API token, the Matterbridge token) in one explicitly chosen keyring.

Why a keyring: tokens must never sit in config.toml, the rendered hub scripts, the status files or
the hub log; those are read by more people and tools than the API's clients.

Why *chosen*, never discovered: keyring's backend discovery imports whatever backends it can find on
``sys.path``, and inside the hub ``sys.path`` holds Debian's dist-packages (A19), so discovery loaded
the system ``gi``/``dbus`` (GLib and a ``gmain`` thread that outlived ``!pyunload``). `vhctl install`
therefore picks one backend and writes the choice to a small *record* (``RECORD``, JSON: the backend
as ``module.Class`` and, for a file backend, its file) in the root of the hub venv. Both sides read
that record and instantiate the class directly: the hub finds it beside the installed package, the
CLI through the venv its config names (``use_venv``). No secret is ever in the record.

Where a choice comes from, first match wins:
1. ``$VHCTL_KEYRING``: the path of a record (the demo's temporary keyring, an operator's override);
2. the record set by ``use_venv`` / ``use_temporary_keyring`` (the CLI, in its own process);
3. the record in the root of the venv this package is installed in (the hub side);
4. ``$PYTHON_KEYRING_BACKEND`` (keyring's own variable): that class, instantiated directly.

Every read stats the record (one cheap syscall) and re-resolves when it changed or when the last
attempt failed, so a backend installed or chosen while the hub runs is picked up without a restart.
Only the backend's own modules are imported, lazily: a hub without a usable keyring still serves
the public API, and the failure is one line (``KeyringUnavailable``).
"""

from __future__ import annotations

import functools
import hmac
import importlib
import json
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

SERVICE = "vhctl"
#: Secret name -> keyring username (service ``SERVICE``).
NAMES: Dict[str, str] = {"api": "api-token", "matterbridge": "matterbridge-token"}
#: Kept for the callers that name the API token's keyring entry.
USERNAME = NAMES["api"]
#: Bytes of randomness in a new token (``token_urlsafe`` makes ~43 characters of them).
TOKEN_BYTES = 32
#: The record's file name, in the root of the hub venv.
RECORD = "vhctl-keyring.json"
RECORD_ENV = "VHCTL_KEYRING"
BACKEND_ENV = "PYTHON_KEYRING_BACKEND"
#: The file backend used where no system keyring is usable (see the README, "Tokens").
FILE_BACKEND = "keyrings.alt.file.PlaintextKeyring"
FILE_NAME = "keyring.cfg"
_FAIL_MODULES = ("keyring.backends.fail", "keyring.backends.null", "keyring.backends.chainer")


class KeyringUnavailable(RuntimeError):
    """No usable keyring; ``str()`` is one line saying why (never containing a secret)."""


@dataclass(frozen=True)
class Choice:
    """A keyring backend chosen explicitly: ``backend`` as ``module.Class``; ``file`` for file backends."""

    backend: str
    file: Optional[str] = None

    def to_json(self) -> str:
        return json.dumps({"backend": self.backend, "file": self.file}, indent=2, sort_keys=True) + "\n"


def new_token() -> str:
    """A fresh random token."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def tokens_equal(presented: str, expected: str) -> bool:
    """Constant-time comparison, so response timing tells nothing about the token."""
    return hmac.compare_digest(presented.encode("utf-8", "replace"), expected.encode("utf-8", "replace"))


def mask(token: str) -> str:
    """What `show` prints without ``--reveal``: the last four characters and the length only."""
    return f"{'*' * 8}{token[-4:]} ({len(token)} characters)" if len(token) >= 16 else f"{'*' * 8} (too short)"


# -- records ---------------------------------------------------------------------------------------


def read_record(path: Path) -> Choice:
    """The choice a record holds; KeyringUnavailable for a missing or damaged record."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KeyringUnavailable(f"the keyring record {path} does not exist; run `vhctl install`") from None
    except (OSError, ValueError) as exc:
        raise KeyringUnavailable(f"the keyring record {path} cannot be read ({exc})") from None
    backend, file = (data.get("backend"), data.get("file")) if isinstance(data, dict) else (None, None)
    if not isinstance(backend, str) or "." not in backend or not (file is None or isinstance(file, str)):
        raise KeyringUnavailable(f"the keyring record {path} is damaged; run `vhctl install` again")
    return Choice(backend, file or None)


@functools.lru_cache(maxsize=1)
def installed_record() -> Optional[Path]:
    """The record's place in the root of the venv this package is installed in (None outside a
    venv); looked up once, as the package does not move."""
    for folder in Path(os.path.abspath(__file__)).parents:
        if (folder / "pyvenv.cfg").is_file():
            return folder / RECORD
    return None


_lock = threading.Lock()
_selected: Optional[Path] = None
#: The record's stat (or the variable's value) -> the backend it gave; only resolutions that worked.
_cache: Dict[str, Any] = {}


def use_venv(venv: Optional[Path]) -> None:
    """Use the record of the hub venv ``venv`` in this process (the CLI; None: forget it)."""
    global _selected
    with _lock:
        _selected = Path(venv) / RECORD if venv else None
        _cache.clear()


def use_temporary_keyring(folder: Path) -> Path:
    """Make ``folder`` (0700) hold a file keyring and its record, and use it in this process and in
    its children (``$VHCTL_KEYRING``): for the demo, so it can make a token without touching the
    user's keyring. Returns the record's path."""
    folder = Path(folder)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    record = folder / RECORD
    _write_private(record, Choice(FILE_BACKEND, str(folder / FILE_NAME)).to_json())
    os.environ[RECORD_ENV] = str(record)
    with _lock:
        _cache.clear()
    return record


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def _source() -> Tuple[str, Optional[Path]]:
    """Where this process's choice comes from: a label, and the record (None for the environment)."""
    explicit = os.environ.get(RECORD_ENV)
    if explicit:
        return f"${RECORD_ENV}", Path(explicit)
    if _selected is not None:
        return str(_selected), _selected
    installed = installed_record()
    if installed is not None and installed.exists():
        return str(installed), installed
    if os.environ.get(BACKEND_ENV):
        return f"${BACKEND_ENV}", None
    return "", None


def _stat_key(path: Optional[Path]) -> str:
    if path is None:
        return f"env:{os.environ.get(BACKEND_ENV)}"
    try:
        info = os.stat(path)
    except OSError:
        return f"{path}:missing"
    return f"{path}:{info.st_ino}:{info.st_mtime_ns}:{info.st_size}"


def choice() -> Choice:
    """The choice this process uses (KeyringUnavailable when there is none)."""
    label, record = _source()
    if record is not None:
        return read_record(record)
    if label:
        return Choice(os.environ[BACKEND_ENV])
    raise KeyringUnavailable("no keyring is chosen for the hub yet; run `vhctl install` (it chooses one)")


def backend() -> Any:
    """The backend in use; KeyringUnavailable when it cannot be loaded or is keyring's "fail" one.

    Cached until the record changes (one stat per call); a failure is not cached, so the next call
    tries again (after a backend was installed or chosen)."""
    key = _stat_key(_source()[1])
    with _lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    chosen = _instantiate(choice())
    with _lock:
        _cache.clear()
        _cache[key] = chosen
    return chosen


def _instantiate(chosen: Choice) -> Any:
    module_name, _, class_name = chosen.backend.rpartition(".")
    importlib.invalidate_caches()  # a package installed while the hub runs must be found now
    try:
        instance = getattr(importlib.import_module(module_name), class_name)()
    except Exception as exc:  # noqa: BLE001 - any failure means "this backend is not usable here"
        raise KeyringUnavailable(f"the keyring backend {chosen.backend} cannot be loaded "
                                 f"({type(exc).__name__}: {exc}); run `vhctl install` again") from None
    if module_name.startswith(_FAIL_MODULES):
        raise KeyringUnavailable("no keyring backend is available: the chosen one is keyring's "
                                 f"placeholder {chosen.backend}; run `vhctl install` to choose one")
    if chosen.file:
        instance.file_path = chosen.file
    return instance


def backend_name(chosen: Any) -> str:
    """``module.Class`` of a backend, as the record names it."""
    return f"{type(chosen).__module__}.{type(chosen).__qualname__}"


def storage_path(chosen: Any) -> Optional[str]:
    """The file a file-based backend keeps its secrets in (None for other backends)."""
    path = getattr(chosen, "file_path", None)
    return str(path) if isinstance(path, str) and path else None


def stamp() -> Optional[str]:
    """Changes whenever a secret may have changed, cheaply (stats only, no secret read): the record
    and a file backend's file. None when that cannot be told (a system keyring: poll it instead)."""
    record_key = _stat_key(_source()[1])
    try:
        path = storage_path(backend())
    except KeyringUnavailable:
        return record_key
    return f"{record_key}|{_stat_key(Path(path))}" if path else None


# -- the secrets ----------------------------------------------------------------------------------


def _username(name: str) -> str:
    try:
        return NAMES[name]
    except KeyError:
        raise ValueError(f"unknown secret {name!r}; known: {', '.join(NAMES)}") from None


def read_secret(name: str) -> Optional[str]:
    """The stored secret ``name`` ("api" or "matterbridge"), None when none is stored;
    KeyringUnavailable when the keyring does not work."""
    username = _username(name)
    chosen = backend()
    try:
        value = chosen.get_password(SERVICE, username)
    except Exception as exc:  # noqa: BLE001 - locked collection, D-Bus missing, unreadable file...
        raise KeyringUnavailable(f"the keyring ({backend_name(chosen)}) cannot be read "
                                 f"({type(exc).__name__}: {exc})") from None
    return value or None


def store_secret(name: str, value: str) -> None:
    """Replace the stored secret ``name``; KeyringUnavailable when the keyring does not work."""
    username = _username(name)
    chosen = backend()
    try:
        chosen.set_password(SERVICE, username, value)
    except Exception as exc:  # noqa: BLE001
        raise KeyringUnavailable(f"the keyring ({backend_name(chosen)}) cannot be written "
                                 f"({type(exc).__name__}: {exc})") from None


def delete_secret(name: str) -> bool:
    """Remove the secret ``name``; False when none was stored."""
    username = _username(name)
    if read_secret(name) is None:
        return False
    chosen = backend()
    try:
        chosen.delete_password(SERVICE, username)
    except Exception as exc:  # noqa: BLE001
        raise KeyringUnavailable(f"the keyring ({backend_name(chosen)}) cannot be written "
                                 f"({type(exc).__name__}: {exc})") from None
    return True


def read_token() -> Optional[str]:
    """The REST API token (``read_secret("api")``)."""
    return read_secret("api")


def store_token(token: str) -> None:
    """Replace the REST API token (``store_secret("api", token)``)."""
    store_secret("api", token)
