"""`vhctl status` reads what a running API component publishes, without the hub, and never shows
the token; `vhctl configure` changes settings all-or-nothing (real subprocesses)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from api_helpers import ApiHub
from vhctl_hub.status import read_status


def test_status_shows_the_running_api_and_never_the_token(make_api_hub: Callable[..., ApiHub], vhctl,
                                                          keyring_dir: Path) -> None:
    api = make_api_hub("single")
    port = int(api.url().rsplit(":", 1)[1])
    token = vhctl(api.config, "token", "--print").stdout.strip()
    assert len(token) > 30
    deadline = time.monotonic() + 15
    while (read_status(api.state_dir, "api") or {}).get("port") != port:
        assert time.monotonic() < deadline, read_status(api.state_dir, "api")
        api.hub.tick()
        time.sleep(0.1)
    as_json = vhctl(api.config, "status", "--json")
    human = vhctl(api.config, "status")
    assert as_json.returncode == human.returncode == 0, as_json.stderr
    report = as_json.json()
    assert report["components"]["api"]["state"] == "running"
    assert report["components"]["api"]["port"] == port
    assert report["components"]["api"]["stale"] is False
    assert report["token"] == {"stored": True, "problem": None}
    assert f"api:     running, port {port}" in human.stdout
    for output in (as_json.stdout, as_json.stderr, human.stdout, human.stderr):
        assert token not in output


def test_status_on_a_fresh_config_says_what_to_run(vhctl, tmp_path: Path, keyring_dir: Path) -> None:
    config = tmp_path / "config.toml"
    result = vhctl(config, "status")
    assert result.returncode == 0, result.stderr
    assert "not installed: run vhctl install" in result.stdout
    assert "not rendered: run vhctl render" in result.stdout
    assert "none: run vhctl token" in result.stdout
    assert not config.exists()


def test_configure_sets_values_and_rejects_a_bad_one_untouched(vhctl, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("# mine\n[api]\nport = 8001\n")
    done = vhctl(config, "configure", "api.port=8002", 'api.cors_origins=["https://a.example"]', "--json")
    assert done.returncode == 0, done.stderr
    assert done.json()["settings"]["api"]["port"] == 8002
    assert "# mine" in config.read_text()
    before = config.read_text()
    bad = vhctl(config, "configure", "api.port=8003", "api.command_class=7")
    assert bad.returncode == 1
    assert bad.stderr.strip().count("\n") == 0 and "api.command_class = 7" in bad.stderr
    assert config.read_text() == before
    unknown = vhctl(config, "configure", "api.token=x")
    assert unknown.returncode == 1 and "expected KEY=VALUE" in unknown.stderr


def test_a_malformed_config_is_one_line_for_every_command(vhctl, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[api\nport = 1\n")
    for command in (("status",), ("render",), ("configure", "api.port=1"), ("install", "--python", "3.11")):
        result = vhctl(config, *command)
        assert result.returncode == 1, command
        assert result.stderr.startswith(f"vhctl: error: {config}: not valid TOML"), result.stderr
        assert "Traceback" not in result.stderr
    assert config.read_text() == "[api\nport = 1\n"
