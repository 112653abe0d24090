"""The one config model: validation, messages naming the key, files never half-written."""

from __future__ import annotations

from pathlib import Path

import pytest
from vhctl_hub.config import ConfigError, Settings, known_keys, load_settings, settings_from_dict

from vhctl import configfile
from vhctl.errors import VhctlError


def test_defaults_bind_loopback_and_validate_round_trip() -> None:
    settings = Settings()
    assert settings.api.host == "127.0.0.1"
    assert settings_from_dict(settings.to_dict()) == settings


@pytest.mark.parametrize(
    ("data", "names"),
    [
        ({"api": {"port": 70000}}, "api.port"),
        ({"api": {"port": 80}}, "api.port"),  # one port rule for the config and `!api start`
        ({"api": {"port": "8000"}}, "api.port"),
        ({"api": {"port": True}}, "api.port"),
        ({"api": {"command_class": 7}}, "api.command_class"),  # F65: 6-9 are not classes
        ({"api": {"host": "not a host!"}}, "api.host"),
        ({"api": {"cors_origins": ["ftp://x"]}}, "api.cors_origins"),
        ({"bridge": {"url": "localhost:4242"}}, "bridge.url"),
        ({"bridge": {"bridge_to_hub_format": "{nope}"}}, "bridge.bridge_to_hub_format"),
        ({"runtime": {"tick_budget_ms": -1}}, "runtime.tick_budget_ms"),
        ({"api": {"prot": 1}}, "api.prot"),
        ({"apii": {}}, "[apii]"),
    ],
)
def test_bad_value_names_the_key_and_what_is_allowed(data: dict, names: str) -> None:
    with pytest.raises(ConfigError) as info:
        settings_from_dict(data)
    message = str(info.value)
    assert names in message
    assert "\n" not in message


def test_retry_order_is_checked() -> None:
    with pytest.raises(ConfigError, match="retry_initial"):
        settings_from_dict({"bridge": {"retry_initial": 10.0, "retry_max": 5.0}})


def test_malformed_toml_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[api\nport = 1\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert str(path) in str(info.value)


def test_missing_file_gives_defaults(tmp_path: Path) -> None:
    assert load_settings(tmp_path / "none.toml") == Settings()


def test_update_keeps_comments_and_backs_up(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("# my own note\n[api]\nport = 8001  # chosen by me\n")
    configfile.update(path, {"api.host": "127.0.0.2"})
    text = path.read_text()
    assert "# my own note" in text and "# chosen by me" in text
    assert load_settings(path).api.host == "127.0.0.2"
    assert (tmp_path / "config.toml.bak").read_text() == "# my own note\n[api]\nport = 8001  # chosen by me\n"


def test_rejected_update_leaves_file_untouched(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    original = "[api]\nport = 8001\n"
    path.write_text(original)
    with pytest.raises(VhctlError, match="api.port"):
        configfile.update(path, {"api.port": -5})
    assert path.read_text() == original
    assert not list(tmp_path.glob("config.toml.bak*"))


def test_every_key_is_documented() -> None:
    from vhctl_hub.config import describe

    assert all(describe(key) for key in known_keys())
