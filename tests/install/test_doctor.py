"""`vhctl doctor` as a sysadmin runs it: real CLI subprocesses in a fresh HOME, the session's real hub
venv, a real listening socket for the port check and the Matterbridge stand-in (M12, M16)."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

from testkit.cli import headless_env, run_vhctl
from vhctl_hub import secrets as vault

from vhctl.sim.matterbridge import MatterbridgeStandIn

SECRET = "doctor-test-matterbridge-token-0123456789"


def _checks(run) -> dict:
    return {check["name"]: check for check in run.json()["checks"]}


def _write_config(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_fresh_home_fails_with_one_line_per_check_and_its_fix(tmp_path: Path) -> None:
    env = headless_env(tmp_path)
    human = run_vhctl(None, "doctor", env=env, replace_env=True)
    assert human.returncode == 1, human.stderr
    lines = human.stdout.splitlines()
    assert "Traceback" not in human.stderr
    assert any(line.startswith("fail  python:") and "vhctl install" in line for line in lines)
    data = run_vhctl(None, "doctor", "--json", env=env, replace_env=True)
    assert data.returncode == 1 and data.json()["ok"] is False
    assert len(lines) == len(data.json()["checks"])  # one line per check
    checks = _checks(data)
    assert checks["config"]["status"] == "ok"
    assert checks["imports"]["status"] == "fail" and checks["imports"]["fix"]
    assert checks["plugin mode"]["status"] == "warn"


def test_invalid_config_fails_on_one_line(tmp_path: Path) -> None:
    config = _write_config(tmp_path / "config.toml", "[api]\nport = 80\n")
    run = run_vhctl(config, "doctor", "--json", env=headless_env(tmp_path), replace_env=True)
    assert run.returncode == 1
    assert [check["name"] for check in run.json()["checks"]] == ["config"]
    assert run.json()["checks"][0]["status"] == "fail"


def test_real_venv_imports_python_and_scripts_current_then_stale(hub_venv, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    shutil.copy(hub_venv.config, config)
    rendered = run_vhctl(config, "render", "--to", str(tmp_path / "scripts"))
    assert rendered.returncode == 0, rendered.stderr
    checks = _checks(run_vhctl(config, "doctor", "--json", "--timeout", "0.5"))
    assert checks["python"]["status"] == "ok", checks["python"]
    assert checks["imports"]["status"] == "ok", checks["imports"]
    assert "vhctl_hub 0." in checks["imports"]["message"]
    assert checks["scripts"]["status"] == "ok", checks["scripts"]
    script = tmp_path / "scripts" / "hub_api.py"
    script.write_text(script.read_text() + "# edited\n")
    (tmp_path / "scripts" / "matterbridge.py").unlink()
    stale = _checks(run_vhctl(config, "doctor", "--json", "--timeout", "0.5"))["scripts"]
    assert stale["status"] == "fail"
    assert "out of date: hub_api.py" in stale["message"] and "missing: matterbridge.py" in stale["message"]


def test_sub_mode_warns_that_reloads_need_a_restart(tmp_path: Path) -> None:
    config = _write_config(tmp_path / "config.toml", '[hub]\nplugin_mode = "sub"\n')
    check = _checks(run_vhctl(config, "doctor", "--json", "--timeout", "0.5", env=headless_env(tmp_path),
                              replace_env=True))["plugin mode"]
    assert check["status"] == "warn" and "!pyreload" in check["message"] and "restart" in check["fix"]


def test_port_taken_by_another_program_fails(tmp_path: Path) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        config = _write_config(tmp_path / "config.toml", f"[api]\nport = {port}\n")
        check = _checks(run_vhctl(config, "doctor", "--json", "--timeout", "0.5", env=headless_env(tmp_path),
                                  replace_env=True))["api port"]
    assert check["status"] == "fail" and "api.port=" in check["fix"]


def test_matterbridge_right_token_ok_wrong_token_401_token_never_shown(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(vault.RECORD_ENV, "")  # restored afterwards: the temporary keyring sets it
    record = vault.use_temporary_keyring(tmp_path / "keyring")
    env = headless_env(tmp_path, VHCTL_KEYRING=str(record))
    with MatterbridgeStandIn(host="127.0.0.1", port=0, token=SECRET, gateway="gw1") as mb:
        config = _write_config(tmp_path / "config.toml", f'[bridge]\nurl = "{mb.url}"\ngateway = "gw1"\n')
        missing = _checks(run_vhctl(config, "doctor", "--json", "--timeout", "1", env=env, replace_env=True))
        assert missing["matterbridge"]["status"] == "fail"
        assert "token set matterbridge" in missing["matterbridge"]["fix"]
        stored = run_vhctl(config, "token", "set", "matterbridge", env=env, replace_env=True, stdin=SECRET + "\n")
        assert stored.returncode == 0, stored.stderr
        run = run_vhctl(config, "doctor", "--json", "--timeout", "1", env=env, replace_env=True)
        checks = _checks(run)
        assert checks["matterbridge"]["status"] == "ok", checks["matterbridge"]
        assert checks["gateway"]["message"].startswith("bridge.gateway = 'gw1' (compared with Matterbridge's")
        assert "matterbridge token set" in checks["keyring"]["message"]
        assert SECRET not in run.stdout + run.stderr
        wrong = run_vhctl(config, "token", "set", "matterbridge", env=env, replace_env=True, stdin="wrong-token\n")
        assert wrong.returncode == 0, wrong.stderr
        refused = _checks(run_vhctl(config, "doctor", "--json", "--timeout", "1", env=env, replace_env=True))
        assert refused["matterbridge"]["status"] == "fail" and "refuses our" in refused["matterbridge"]["message"]


def _doctor_with_toml(config: Path, toml: Path, env: dict) -> dict:
    run = run_vhctl(config, "doctor", "--json", "--timeout", "1", "--matterbridge-toml", str(toml), env=env,
                    replace_env=True)
    assert "Traceback" not in run.stderr and SECRET not in run.stdout + run.stderr
    return _checks(run)


def test_M1_M2_doctor_compares_matterbridge_toml_account_token_and_gateway(tmp_path: Path, monkeypatch) -> None:
    """The snippet `vhctl matterbridge-toml` writes passes; each way a hand-edited file can miss our
    account, token or gateway fails with its own line and fix (real TOML files, real CLI runs)."""
    monkeypatch.setenv(vault.RECORD_ENV, "")
    record = vault.use_temporary_keyring(tmp_path / "keyring")
    env = headless_env(tmp_path, VHCTL_KEYRING=str(record))
    config = _write_config(tmp_path / "config.toml", '[bridge]\nurl = "http://127.0.0.1:4242"\ngateway = "dchub"\n')
    assert run_vhctl(config, "token", "set", "matterbridge", env=env, replace_env=True,
                     stdin=SECRET + "\n").returncode == 0
    toml = tmp_path / "matterbridge.toml"
    written = run_vhctl(config, "matterbridge-toml", "--output", str(toml), env=env, replace_env=True)
    assert written.returncode == 0, written.stderr
    checks = _doctor_with_toml(config, toml, env)
    assert checks["matterbridge.toml"]["status"] == "ok", checks["matterbridge.toml"]
    assert checks["gateway"]["status"] == "ok", checks["gateway"]
    assert "[api.hub]" in checks["matterbridge.toml"]["message"]
    original = toml.read_text()

    def variant(old: str, new: str) -> dict:
        assert old in original
        toml.write_text(original.replace(old, new))
        return _doctor_with_toml(config, toml, env)

    wrong = variant(SECRET, "someone-elses-token")["matterbridge.toml"]
    assert wrong["status"] == "fail" and "is not the stored Matterbridge token" in wrong["message"]
    assert "vhctl token set matterbridge" in wrong["fix"] and "--force" in wrong["fix"]
    placeholder = variant(SECRET, "PASTE-THE-MATTERBRIDGE-TOKEN-HERE")["matterbridge.toml"]
    assert placeholder["status"] == "fail" and "placeholder" in placeholder["message"]
    elsewhere = variant('BindAddress = "127.0.0.1:4242"', 'BindAddress = "127.0.0.1:4343"')["matterbridge.toml"]
    assert elsewhere["status"] == "fail" and "BindAddress 127.0.0.1:4242" in elsewhere["message"]
    everywhere = variant('BindAddress = "127.0.0.1:4242"', 'BindAddress = "0.0.0.0:4242"')["matterbridge.toml"]
    assert everywhere["status"] == "ok", everywhere
    other_gateway = variant('name = "dchub"', 'name = "other"')["gateway"]
    assert other_gateway["status"] == "fail" and "has no gateway named dchub; it has: other" in other_gateway["message"]
    assert "bridge.gateway=NAME" in other_gateway["fix"]
    disabled = variant("enable = true", "enable = false")["gateway"]
    assert disabled["status"] == "fail" and "not enabled" in disabled["message"]
    one_way = variant("[[gateway.inout]]", "[[gateway.in]]")["gateway"]
    assert one_way["status"] == "fail" and "only as in" in one_way["message"]

    toml.write_text("[api\n")
    broken = _doctor_with_toml(config, toml, env)["matterbridge.toml"]
    assert broken["status"] == "fail" and "not valid TOML" in broken["message"]
    missing = _doctor_with_toml(config, tmp_path / "nope.toml", env)["matterbridge.toml"]
    assert missing["status"] == "fail" and "cannot read" in missing["message"]
    human = run_vhctl(config, "doctor", "--timeout", "1", "--matterbridge-toml", str(toml), env=env, replace_env=True)
    assert human.returncode == 1
    assert any(line.startswith("fail  matterbridge.toml: ") and " -> " in line for line in human.stdout.splitlines())


def test_a_hub_that_uses_only_the_api_gets_a_warning_not_a_failure_for_matterbridge(tmp_path: Path) -> None:
    config = _write_config(tmp_path / "config.toml", "[api]\nport = 18412\n")
    checks = _checks(run_vhctl(config, "doctor", "--json", "--timeout", "1", env=headless_env(tmp_path),
                               replace_env=True))
    assert checks["matterbridge"]["status"] == "warn", checks["matterbridge"]
    assert "only the REST API" in checks["matterbridge"]["message"]
    assert "vhctl token set matterbridge" in checks["matterbridge"]["fix"]
