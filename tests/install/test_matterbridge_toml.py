"""`vhctl matterbridge-toml`, run as a real CLI in a fresh HOME with a real file keyring: the snippet
is what Matterbridge v1.26.0 accepts (matterbridge-api.md M1, M2, M5), a merge keeps the user's file."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from testkit import tomltext
from testkit.cli import REPO, headless_env, run_vhctl

TOKEN = "mb-" + "x" * 40
USER_FILE = """\
# my own matterbridge config: keep this comment
[general]
RemoteNickFormat="[{PROTOCOL}] <{NICK}> "   # trailing comment

[irc.libera]
Server="irc.libera.chat:6697"
Nick="mybot"

""" + tomltext.gateway("other", inout=[("irc.libera", "#x")])


@pytest.fixture
def cli(tmp_path):
    """A fresh HOME, a config naming the bridge, a file keyring (through $VHCTL_KEYRING)."""
    home = tmp_path / "home"
    home.mkdir()
    folder = tmp_path / "keyring"
    code = ("import sys; from vhctl_hub import secrets as v; "
            "print(v.use_temporary_keyring(__import__('pathlib').Path(sys.argv[1])))")
    record = subprocess.run([sys.executable, "-c", code, str(folder)], cwd=REPO, check=True,
                            capture_output=True, text=True).stdout.strip()
    config = tmp_path / "config.toml"
    config.write_text('[bridge]\nurl = "http://127.0.0.1:4343"\ngateway = "dchub"\naccount = "api.myhub"\n')
    env = headless_env(home, VHCTL_KEYRING=record)

    def run(*args: str, stdin: str | None = None):
        return run_vhctl(config, *args, env=env, replace_env=True, stdin=stdin)

    yield run
    # The written matterbridge.toml is the one file the token belongs in (Matterbridge reads it
    # there); it is removed once checked so that the session's secrets scan, which searches every
    # file under the base temp folder, keeps meaning "nowhere else".
    for written in tmp_path.glob("*.toml*"):
        if written.name != "config.toml" and not written.is_symlink():
            written.unlink()


def _set_token(cli) -> None:
    assert cli("token", "set", "matterbridge", stdin=TOKEN + "\n").returncode == 0


def _check_section_a(data: dict, token: str) -> None:
    """M1: [api.NAME] with BindAddress (required, host:port), Buffer (int), RemoteNickFormat, Token;
    M2: a gateway with a name, enable=true, our account in [[gateway.inout]]."""
    account = data["api"]["myhub"]
    assert account == {"BindAddress": "127.0.0.1:4343", "Buffer": 1000, "RemoteNickFormat": "{NICK}",
                       "Token": token}
    assert isinstance(account["Buffer"], int)
    ours = [g for g in data["gateway"] if g["name"] == "dchub"]
    assert len(ours) == 1 and ours[0]["enable"] is True
    assert ours[0]["inout"] == [{"account": "api.myhub", "channel": "api"}]


def test_stdout_is_valid_toml_with_a_placeholder_never_the_token_m1_m2(cli):
    _set_token(cli)
    run = cli("matterbridge-toml")
    assert run.returncode == 0, run.stderr
    assert TOKEN not in run.stdout + run.stderr
    _check_section_a(tomllib.loads(run.stdout), "PASTE-THE-MATTERBRIDGE-TOKEN-HERE")
    assert "placeholder" in run.stderr
    for platform in ("[irc.", "[matrix.", "[discord."):
        assert f"# {platform}" in run.stdout  # commented examples only


def test_reveal_prints_the_real_token_m1(cli):
    _set_token(cli)
    run = cli("matterbridge-toml", "--reveal")
    assert run.returncode == 0, run.stderr
    _check_section_a(tomllib.loads(run.stdout), TOKEN)


def test_output_writes_a_private_file_with_the_token_and_nothing_on_stdout_m1(cli, tmp_path):
    _set_token(cli)
    target = tmp_path / "matterbridge.toml"
    run = cli("matterbridge-toml", "--output", str(target), "--json")
    assert run.returncode == 0, run.stderr
    assert TOKEN not in run.stdout + run.stderr
    assert run.json()["status"] == "written"
    _check_section_a(tomllib.loads(target.read_text()), TOKEN)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_output_does_not_replace_an_existing_file_unless_force(cli, tmp_path):
    _set_token(cli)
    target = tmp_path / "matterbridge.toml"
    target.write_text(USER_FILE)
    refused = cli("matterbridge-toml", "--output", str(target))
    assert refused.returncode == 1 and "--merge" in refused.stderr and target.read_text() == USER_FILE
    forced = cli("matterbridge-toml", "--output", str(target), "--force")
    assert forced.returncode == 0, forced.stderr
    _check_section_a(tomllib.loads(target.read_text()), TOKEN)
    assert (tmp_path / "matterbridge.toml.bak").read_text() == USER_FILE


def test_a_file_without_a_token_is_refused_and_says_how_to_make_one(cli, tmp_path):
    target = tmp_path / "matterbridge.toml"
    run = cli("matterbridge-toml", "--output", str(target))
    assert run.returncode == 1
    assert "vhctl token generate matterbridge" in run.stderr and "Traceback" not in run.stderr
    assert not target.exists()


def test_merge_keeps_the_users_file_byte_for_byte_and_backs_it_up_m5(cli, tmp_path):
    _set_token(cli)
    target = tmp_path / "matterbridge.toml"
    target.write_text(USER_FILE)
    os.chmod(target, 0o640)
    run = cli("matterbridge-toml", "--merge", str(target))
    assert run.returncode == 0, run.stderr
    merged = target.read_text()
    assert merged.startswith(USER_FILE)
    data = tomllib.loads(merged)
    _check_section_a(data, TOKEN)
    assert data["irc"]["libera"]["Nick"] == "mybot" and [g["name"] for g in data["gateway"]] == ["other", "dchub"]
    assert (tmp_path / "matterbridge.toml.bak").read_text() == USER_FILE
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_merge_refuses_a_conflict_unless_force_m2(cli, tmp_path):
    _set_token(cli)
    target = tmp_path / "matterbridge.toml"
    original = USER_FILE + '\n[api.myhub]\nBindAddress="127.0.0.1:9999"\n'
    target.write_text(original)
    refused = cli("matterbridge-toml", "--merge", str(target))
    assert refused.returncode == 1 and "--force" in refused.stderr and "Traceback" not in refused.stderr
    assert target.read_text() == original
    forced = cli("matterbridge-toml", "--merge", str(target), "--force", "--json")
    assert forced.returncode == 0, forced.stderr
    data = tomllib.loads(target.read_text())
    _check_section_a(data, TOKEN)
    assert "# my own matterbridge config: keep this comment" in target.read_text()
    assert (tmp_path / "matterbridge.toml.bak").read_text() == original


def test_merge_refuses_our_gateway_already_there_m3(cli, tmp_path):
    _set_token(cli)
    target = tmp_path / "matterbridge.toml"
    target.write_text(USER_FILE.replace('name = "other"', 'name = "dchub"'))
    run = cli("matterbridge-toml", "--merge", str(target))
    assert run.returncode == 1 and "gateway 'dchub'" in run.stderr


def test_merge_through_a_symlink_writes_its_target(cli, tmp_path):
    _set_token(cli)
    real = tmp_path / "real.toml"
    real.write_text(USER_FILE)
    link = tmp_path / "matterbridge.toml"
    link.symlink_to(real)
    run = cli("matterbridge-toml", "--merge", str(link))
    assert run.returncode == 0, run.stderr
    assert link.is_symlink() and real.read_text().startswith(USER_FILE)
    _check_section_a(tomllib.loads(real.read_text()), TOKEN)


def test_non_regular_targets_are_refused(cli, tmp_path):
    _set_token(cli)
    folder = tmp_path / "adir"
    folder.mkdir()
    for args in (("--merge", str(folder)), ("--output", str(folder)), ("--merge", "/dev/null")):
        run = cli("matterbridge-toml", *args)
        assert run.returncode == 1, args
        assert "regular file" in run.stderr and "Traceback" not in run.stderr, run.stderr
    assert Path("/dev/null").is_char_device()


def test_merge_of_a_file_that_is_not_toml_is_refused(cli, tmp_path):
    _set_token(cli)
    target = tmp_path / "matterbridge.toml"
    target.write_text("[broken\n")
    run = cli("matterbridge-toml", "--merge", str(target))
    assert run.returncode == 1 and "not valid TOML" in run.stderr
    assert target.read_text() == "[broken\n"


def test_help_has_examples():
    run = run_vhctl(None, "matterbridge-toml", "--help")
    assert run.returncode == 0 and "vhctl matterbridge-toml --merge" in run.stdout
