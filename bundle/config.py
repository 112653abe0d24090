"""The one settings model of vhctl, shared by the CLI and by the runtime inside the hub.

It lives in the hub-side package because the hub venv receives only this package: the CLI imports
it from here, never the reverse. It is plain dataclasses with hand-written checks, not pydantic,
because in the plugin's sub-interpreter mode pydantic cannot be imported (vh-plugin.md F2,
real-hub-observations.md A10) and the bridge must still read its configuration there.

Tokens are never part of it: they live in the keyring (see ``vhctl_hub.secrets``).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the hub may embed Python 3.9/3.10
    import tomli as tomllib

#: Valid Verlihub user classes (vh-plugin.md F65); 6-9 do not exist.
USER_CLASSES = (0, 1, 2, 3, 4, 5, 10)


class ConfigError(ValueError):
    """A configuration value or file is wrong; ``str(error)`` is one line for the user."""


Check = Callable[[Any], Optional[str]]  # returns None when fine, else what is allowed


def _int_range(low: int, high: int) -> Check:
    def check(value: Any) -> Optional[str]:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            return f"an integer from {low} to {high}"
        return None

    return check


#: The API's port rule, the same in the config, `!api start` and their help texts: below 1024 needs root,
#: and a hub must never run as root.
PORT_RULE = "0 (any free port) or a port from 1024 to 65535"


def port_problem(value: Any) -> Optional[str]:
    """None for a valid API port, else ``PORT_RULE``."""
    if isinstance(value, bool) or not isinstance(value, int) or not (value == 0 or 1024 <= value <= 65535):
        return PORT_RULE
    return None


def _number_range(low: float, high: float) -> Check:
    def check(value: Any) -> Optional[str]:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            return f"a number from {low:g} to {high:g}"
        return None

    return check


def _user_class(value: Any) -> Optional[str]:
    if isinstance(value, bool) or value not in USER_CLASSES:
        return "a Verlihub user class: 0, 1, 2, 3, 4, 5 or 10"
    return None


def _text(max_len: int = 512, allow_empty: bool = True) -> Check:
    def check(value: Any) -> Optional[str]:
        if not isinstance(value, str) or len(value) > max_len or (not allow_empty and not value):
            return f"{'a non-empty' if not allow_empty else 'a'} string of at most {max_len} characters"
        if any(ch in value for ch in "\x00"):
            return "a string without NUL characters"
        return None

    return check


def _path_text(value: Any) -> Optional[str]:
    """An absolute path or empty: the hub resolves a relative one against its own working folder,
    which is not the folder `vhctl configure` ran in."""
    if not isinstance(value, str) or "\x00" in value or len(value) > 4096:
        return "an absolute file system path (a string, may be empty when not set yet)"
    if value and not value.startswith("/"):
        return "an absolute file system path (starting with /), or empty when not set yet"
    return None


def toml_value(value: Any) -> str:
    """``value`` spelled as in a TOML file (``true``, ``"text"``, ``[1, 2]``), for error messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return '"' + "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in escaped) + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def _host(value: Any) -> Optional[str]:
    if not isinstance(value, str) or not value:
        return "an IP address or host name such as 127.0.0.1"
    try:
        ipaddress.ip_address(value)
        return None
    except ValueError:
        pass
    if len(value) > 253 or not all(part and part.replace("-", "").isalnum() for part in value.split(".")):
        return "an IP address or host name such as 127.0.0.1"
    return None


def _http_url(value: Any) -> Optional[str]:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")) or len(value) > 2048:
        return "an http:// or https:// URL such as http://127.0.0.1:4242"
    if any(ch.isspace() for ch in value):
        return "an http:// or https:// URL without spaces"
    return None


def _list_of(item: Check, max_items: int = 100) -> Check:
    def check(value: Any) -> Optional[str]:
        if not isinstance(value, (list, tuple)) or len(value) > max_items:
            return f"a list of at most {max_items} items"
        for entry in value:
            problem = item(entry)
            if problem:
                return f"a list whose items are each {problem}"
        return None

    return check


def _one_of(*choices: str) -> Check:
    def check(value: Any) -> Optional[str]:
        if value not in choices:
            return "one of " + ", ".join(toml_value(c) for c in choices)
        return None

    return check


def _format_with(*names: str) -> Check:
    """A str.format template that may use only the given ``{names}``."""

    def check(value: Any) -> Optional[str]:
        problem = _text(400, allow_empty=False)(value)
        if problem:
            return problem
        try:
            value.format(**{n: "" for n in names})
        except (KeyError, IndexError, ValueError, AttributeError):
            return "a template using only " + ", ".join("{" + n + "}" for n in names)
        return None

    return check


def setting(default: Any, check: Check, doc: str) -> Any:
    """A dataclass field carrying its check and a one-line description (shown by `vhctl configure`)."""
    if isinstance(default, (list, tuple)):
        return field(default_factory=lambda: tuple(default), metadata={"check": check, "doc": doc})
    return field(default=default, metadata={"check": check, "doc": doc})


@dataclass(frozen=True)
class HubSettings:
    """Where the hub is and what its Python plugin embeds."""

    scripts_dir: str = setting("", _path_text, "folder the rendered scripts are written to")
    venv: str = setting("", _path_text, "the hub's venv (made by `vhctl install`)")
    site_packages: str = setting("", _path_text, "site-packages of that venv, put on sys.path by the scripts")
    python: str = setting("", _text(16), "X.Y version of the Python the plugin embeds")
    plugin: str = setting("", _path_text, "path of the plugin library (libpython_pi.so)")
    plugin_mode: str = setting("unknown", _one_of("single", "sub", "unknown"), "plugin build mode")
    state_dir: str = setting("", _path_text, "folder where the hub-side components publish their status")


@dataclass(frozen=True)
class ApiSettings:
    """The REST API component (hub_api.py)."""

    host: str = setting("127.0.0.1", _host, "address the API binds to")
    port: int = setting(8000, port_problem, f"TCP port: {PORT_RULE}")
    cors_origins: Tuple[str, ...] = setting((), _list_of(_http_url), "origins allowed by CORS")
    command_class: int = setting(3, _user_class, "lowest user class allowed to use !api")
    chat_events: bool = setting(False, lambda v: None if isinstance(v, bool) else "true or false",
                                "send main chat over /api/events (token required)")
    max_limit: int = setting(1000, _int_range(1, 100000), "largest ?limit= the API serves")


@dataclass(frozen=True)
class BridgeSettings:
    """The Matterbridge component (matterbridge.py)."""

    url: str = setting("http://127.0.0.1:4242", _http_url, "Matterbridge API address")
    gateway: str = setting("verlihub", _text(128, allow_empty=False), "Matterbridge gateway name")
    channel: str = setting("api", _text(128, allow_empty=False), "channel name of the API account")
    bot_nick: str = setting("[Bridge]", _text(64, allow_empty=False), "nick that bridged lines show as")
    hub_to_bridge_format: str = setting("{message}", _format_with("nick", "message"),
                                        "text sent to Matterbridge")
    bridge_to_hub_format: str = setting("[{protocol}] <{username}> {text}",
                                        _format_with("protocol", "username", "text", "gateway", "channel",
                                                     "account"),
                                        "line shown in the hub")
    ignore_nicks: Tuple[str, ...] = setting((), _list_of(_text(64, allow_empty=False)),
                                            "hub nicks never relayed")
    min_class_to_send: int = setting(0, _user_class, "lowest class whose chat is relayed")
    command_class: int = setting(3, _user_class, "lowest user class allowed to use !bridge")
    retry_initial: float = setting(1.0, _number_range(0.1, 600), "first reconnect delay, seconds")
    retry_max: float = setting(60.0, _number_range(1, 3600), "longest reconnect delay, seconds")
    account: str = setting("", _text(128), "our Matterbridge account id (api.NAME); empty: learned "
                           "from Matterbridge's first answer")
    queue_size: int = setting(1000, _int_range(1, 100000),
                              "hub lines kept while Matterbridge is unreachable (oldest dropped first)")


@dataclass(frozen=True)
class RuntimeSettings:
    """The hub-side runtime shared by the components."""

    tick_budget_ms: float = setting(3.0, _number_range(0.1, 100), "main-thread work per OnTimer tick, ms")
    reconcile_seconds: float = setting(60.0, _number_range(1, 3600),
                                       "how often the user cache is checked against the hub")
    reconcile_slice_ms: float = setting(0.5, _number_range(0.05, 100),
                                        "main-thread time per OnTimer tick for that check, ms")
    max_line: int = setting(2000, _int_range(64, 65536), "longest text line sent into the hub, characters")
    watchdog_seconds: float = setting(5.0, _number_range(2, 600),
                                      "components stop when the hub has not called OnTimer for this long")


@dataclass(frozen=True)
class Settings:
    """All of vhctl's settings; one TOML table per section."""

    hub: HubSettings = field(default_factory=HubSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    bridge: BridgeSettings = field(default_factory=BridgeSettings)
    runtime: RuntimeSettings = field(default_factory=RuntimeSettings)

    def to_dict(self) -> Dict[str, Dict[str, Any]]:
        """Plain TOML-ready data (tuples become lists)."""
        out: Dict[str, Dict[str, Any]] = {}
        for section in dataclasses.fields(self):
            values = dataclasses.asdict(getattr(self, section.name))
            out[section.name] = {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}
        return out

    def replace(self, key: str, value: Any) -> "Settings":
        """A copy with ``section.name`` set to ``value``, checked like a loaded value."""
        data = self.to_dict()
        section, _, name = key.partition(".")
        if section not in data or name not in data[section]:
            raise ConfigError(f"{key}: no such setting; known: {', '.join(known_keys())}")
        data[section][name] = value
        return settings_from_dict(data, origin="")


SECTIONS: Dict[str, type] = {"hub": HubSettings, "api": ApiSettings, "bridge": BridgeSettings,
                             "runtime": RuntimeSettings}


def known_keys() -> Tuple[str, ...]:
    """Every ``section.name`` key, in model order."""
    return tuple(f"{s}.{f.name}" for s, cls in SECTIONS.items() for f in dataclasses.fields(cls))


def describe(key: str) -> str:
    """The one-line description of a key."""
    section, _, name = key.partition(".")
    for f in dataclasses.fields(SECTIONS[section]):
        if f.name == name:
            return f.metadata["doc"]
    raise ConfigError(f"{key}: no such setting")


def settings_from_dict(data: Mapping[str, Any], origin: str = "config") -> Settings:
    """Validate plain data (as read from TOML) into Settings; the first problem raises ConfigError.

    Unknown keys are errors too, so that a typo never silently falls back to a default.
    """
    where = f"{origin}: " if origin else ""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}expected tables [hub], [api], [bridge], [runtime]")
    for section in data:
        if section not in SECTIONS:
            raise ConfigError(f"{where}unknown section [{section}]; allowed: {', '.join(SECTIONS)}")
    built: Dict[str, Any] = {}
    for section, cls in SECTIONS.items():
        values = data.get(section, {})
        if not isinstance(values, Mapping):
            raise ConfigError(f"{where}[{section}] must be a table")
        specs = {f.name: f for f in dataclasses.fields(cls)}
        for name in values:
            if name not in specs:
                raise ConfigError(f"{where}{section}.{name} is not a setting; "
                                  f"[{section}] allows: {', '.join(specs)}")
        kwargs = {}
        for name, spec in specs.items():
            if name not in values:
                continue
            value = values[name]
            if isinstance(spec.default, float) and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            problem = spec.metadata["check"](value)
            if problem:
                raise ConfigError(f"{where}{section}.{name} = {toml_value(value)} is not allowed; use {problem}")
            kwargs[name] = tuple(value) if isinstance(value, list) else value
        built[section] = cls(**kwargs)
    bridge = built["bridge"]
    if bridge.retry_initial > bridge.retry_max:
        raise ConfigError(f"{where}bridge.retry_initial must not exceed bridge.retry_max")
    return Settings(**built)


def load_settings(path: Path) -> Settings:
    """Read and validate a TOML file; a missing file gives the defaults."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Settings()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return settings_from_dict(data, origin=str(path))
