"""CLI conventions with whatever typer/click is installed (typer 0.2x carries its own click): usage
errors are click's lines with exit 2 and no traceback, bare `vhctl` shows the help, Ctrl-C says
`vhctl: interrupted` and exits 130 having undone what it started, help fits 80 columns, and shell
completion installs. Real CLI subprocesses in a fresh headless HOME."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from testkit.cli import REPO, headless_env, vhctl_command

COMMANDS = ("install", "configure", "render", "status", "demo", "token")


@pytest.mark.parametrize(("args", "message"), [
    ((), None),
    (("bogus",), "Error: No such command 'bogus'."),
    (("status", "--bogus"), "Error: No such option: --bogus"),
    (("demo", "--for", "abc"), "Error: Invalid value for '--for'"),
    (("demo", "--for", "-1"), "Error: Invalid value for '--for'"),
    (("demo", "--mode", "both"), "Error: Invalid value for '--mode'"),
    (("demo", "--hub-port", "65536"), "Error: Invalid value for '--hub-port'"),
    (("demo", "--api-port", "-1"), "Error: Invalid value for '--api-port'"),
    (("--config",), "Error: Option '--config' requires an argument."),
])
def test_usage_errors_are_clicks_lines_with_exit_2(cli, args: tuple, message: str | None) -> None:
    result = cli(None, *args)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    if message is None:  # bare `vhctl`: the help, on stderr
        assert result.stderr.startswith("Usage: vhctl [OPTIONS] COMMAND [ARGS]...")
        assert all(f"  {name} " in result.stderr for name in COMMANDS)
    else:
        assert result.stderr.rstrip("\n").splitlines()[-1].startswith(message), result.stderr


@pytest.mark.parametrize("command", ("",) + COMMANDS)
def test_help_fits_80_columns_with_examples_whole(cli, command: str) -> None:
    result = cli(None, *([command] if command else []), "--help")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, [line for line in lines if len(line) > 80]
    examples = [line for line in lines if line.startswith("    vhctl ")]
    assert examples, "every command's help has examples"
    for line, following in zip(lines, lines[1:] + [""]):  # an example is never wrapped onto the next line
        if line in examples:
            assert not following.startswith("    ") or following.lstrip().startswith(
                ("vhctl ", "#", "TOKEN=", "curl ", "microdc2", "hub:", "api:", "op:")), (line, following)


def test_shell_completion_installs_and_completes(cli, home: Path) -> None:
    result = cli(None, "--install-completion", "bash")
    assert result.returncode == 0, result.stderr
    script = home / ".bash_completions" / "vhctl.sh"
    assert script.is_file() and str(script) in (home / ".bashrc").read_text()
    answer = subprocess.run(vhctl_command(), cwd=REPO, capture_output=True, text=True, timeout=60,
                            env=headless_env(home, _VHCTL_COMPLETE="complete_bash",
                                             COMP_WORDS="vhctl sta", COMP_CWORD="1"))
    assert answer.returncode == 0 and answer.stdout.split() == ["status"], answer


def _interrupt_when(process: subprocess.Popen, ready, timeout: float = 120) -> tuple[str, str]:
    """Send SIGINT (what Ctrl-C sends) once ``ready()`` holds; returns (stdout, stderr) at exit."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the command never reached the point to interrupt"
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    return process.communicate(timeout=120)


def test_ctrl_c_during_install_says_interrupted_exits_130_and_leaves_no_venv(tmp_path: Path, home: Path) -> None:
    config = tmp_path / "config.toml"
    venv = tmp_path / "venv"
    process = subprocess.Popen(vhctl_command("--config", str(config), "install", "--python", sys.executable,
                                             "--venv", str(venv)),
                               cwd=REPO, env=headless_env(home), text=True, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = _interrupt_when(process, lambda: (venv / "pyvenv.cfg").exists())  # the venv is being made
    assert process.returncode == 130, err
    assert err.rstrip("\n").splitlines()[-1] == "vhctl: interrupted" and "Traceback" not in err
    assert not venv.exists(), list(venv.iterdir())
    assert not config.exists()


def test_ctrl_c_during_demo_start_up_says_interrupted_exits_130_and_removes_its_folder(tmp_path: Path,
                                                                                      home: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    for _attempt in range(5):  # the start-up lasts a second or two; SIGINT goes once its folder exists
        process = subprocess.Popen(vhctl_command("demo", "--for", "30"), cwd=REPO,
                                   env=headless_env(home, TMPDIR=str(temp)), text=True, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = _interrupt_when(process, lambda: any(temp.glob("vhctl-demo-*")))
        assert "Traceback" not in err
        assert not any(temp.glob("vhctl-demo-*")), list(temp.iterdir())
        if out.startswith("hub:"):  # it had finished starting: Ctrl-C is then its normal stop
            assert process.returncode == 0, err
            continue
        assert process.returncode == 130, err
        assert err.rstrip("\n").splitlines()[-1] == "vhctl: interrupted"
        return
    pytest.fail("SIGINT never arrived during the demo's start-up")


def test_config_is_found_when_the_command_runs(tmp_path: Path, home: Path) -> None:
    """The config path is resolved per run, from that run's environment (not at import)."""
    code = ("import os, sys; from vhctl.state import state; os.environ['VHCTL_CONFIG'] = sys.argv[1]; "
            "print(state.config_path)")
    target = tmp_path / "late.toml"
    result = subprocess.run([sys.executable, "-c", code, str(target)], cwd=REPO, env=headless_env(home),
                            capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == str(target), result.stderr
