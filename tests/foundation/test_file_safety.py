"""Files vhctl writes are never clobbered: only a regular file is replaced, a symlink's target is
written, owner/group/mode stay, one backup, and a writer killed at any step leaves the old content or
the new. Real CLI runs in a fresh headless HOME, as root, with a real second user and group."""

from __future__ import annotations

import os
import pwd
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from testkit.cli import REPO

ORIGINAL = "# my own note\n[api]\nport = 8001  # chosen by me\n"


def _config(tmp_path: Path, text: str = ORIGINAL) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def _identity(path: Path) -> tuple[int, int, int]:
    st = os.stat(path)
    return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)


@pytest.mark.parametrize("kind", ["device", "folder", "fifo"])
def test_config_that_is_not_a_regular_file_is_never_replaced(cli, tmp_path: Path, kind: str) -> None:
    target = tmp_path / "config.toml"
    if kind == "device":  # a private /dev/null (same major/minor), so a failure cannot break the machine's
        if os.geteuid() != 0:
            pytest.skip("mknod of a device needs root")
        os.mknod(target, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    elif kind == "folder":
        target.mkdir()
    else:
        os.mkfifo(target)
    before = os.lstat(target)
    result = cli(target, "configure", "api.port=8002")
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith(f"vhctl: error: {target} is a"), result.stderr
    assert "not a regular file" in result.stderr and result.stderr.count("\n") == 1
    after = os.lstat(target)
    assert (after.st_mode, after.st_ino, after.st_rdev) == (before.st_mode, before.st_ino, before.st_rdev)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml", "home"]


def test_through_a_symlink_the_target_is_written_and_the_cli_says_so(cli, tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    real = _config(tmp_path / "etc")
    chain = tmp_path / "link2.toml"
    (tmp_path / "link1.toml").symlink_to(real)
    chain.symlink_to("link1.toml")
    result = cli(chain, "configure", "api.port=8002")
    assert result.returncode == 0, result.stderr
    assert f"{chain} is a symlink: writing its target {real}" in result.stderr
    assert chain.is_symlink() and os.readlink(chain) == "link1.toml"
    assert "port = 8002  # chosen by me" in real.read_text()
    assert (real.parent / "config.toml.bak").read_text() == ORIGINAL
    assert not (tmp_path / "link2.toml.bak").exists()


def test_owner_group_and_mode_are_kept_for_the_file_and_its_backup(cli, tmp_path: Path,
                                                                   service_account: pwd.struct_passwd) -> None:
    shared = _config(tmp_path)  # root:svc 0640, the hub's service user reads it through its group
    os.chown(shared, 0, service_account.pw_gid)
    shared.chmod(0o640)
    result = cli(shared, "configure", "api.port=8002")
    assert result.returncode == 0, result.stderr
    assert _identity(shared) == (0, service_account.pw_gid, 0o640)
    assert _identity(tmp_path / "config.toml.bak") == (0, service_account.pw_gid, 0o640)

    owned = tmp_path / "svc" / "config.toml"  # the service user's own private file, edited by root
    owned.parent.mkdir()
    owned.write_text(ORIGINAL)
    os.chown(owned, service_account.pw_uid, service_account.pw_gid)
    owned.chmod(0o600)
    result = cli(owned, "configure", "api.port=8003")
    assert result.returncode == 0, result.stderr
    assert "port = 8003" in owned.read_text()
    for path in (owned, owned.parent / "config.toml.bak"):
        assert _identity(path) == (service_account.pw_uid, service_account.pw_gid, 0o600), path


def test_one_backup_however_often_it_runs(cli, tmp_path: Path) -> None:
    config = _config(tmp_path)
    for port in (8002, 8003, 8004):
        assert cli(config, "configure", f"api.port={port}").returncode == 0
    backups = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("config.toml."))
    assert backups == ["config.toml.bak"]
    assert "port = 8003" in (tmp_path / "config.toml.bak").read_text()
    before = (tmp_path / "config.toml.bak").stat().st_mtime_ns
    assert cli(config, "configure", "api.port=8004").returncode == 0  # unchanged: no new backup
    assert (tmp_path / "config.toml.bak").stat().st_mtime_ns == before


def test_a_backup_name_that_is_a_symlink_is_refused(cli, tmp_path: Path) -> None:
    config = _config(tmp_path)
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (tmp_path / "config.toml.bak").symlink_to(victim)
    result = cli(config, "configure", "api.port=8002")
    assert result.returncode == 1 and "config.toml.bak is a symlink" in result.stderr, result.stderr
    assert victim.read_text() == "precious\n" and config.read_text() == ORIGINAL


@pytest.mark.parametrize("key", ["hub.state_dir", "hub.venv", "hub.scripts_dir"])
@pytest.mark.parametrize("value", ["relative/folder", "./here", "~/there"])
def test_path_settings_must_be_absolute(cli, tmp_path: Path, key: str, value: str) -> None:
    config = _config(tmp_path)
    result = cli(config, "configure", f"{key}={value}")
    assert result.returncode == 1
    assert result.stderr == (f'vhctl: error: {config}: {key} = "{value}" is not allowed; use an absolute '
                             "file system path (starting with /), or empty when not set yet\n")
    assert config.read_text() == ORIGINAL
    section, _, name = key.partition(".")
    config.write_text(f'[{section}]\n{name} = "{value}"\n')  # edited by hand: every command says so
    status = cli(config, "status")
    assert status.returncode != 0 and f"{config}: {key} = " in status.stderr, status.stderr


def test_errors_spell_values_as_toml(cli, tmp_path: Path) -> None:
    config = _config(tmp_path)
    result = cli(config, "configure", "api.port=true")
    assert "api.port = true is not allowed" in result.stderr and "True" not in result.stderr
    mode = cli(config, "configure", "hub.plugin_mode=both")
    assert 'hub.plugin_mode = "both" is not allowed; use one of "single", "sub", "unknown"' in mode.stderr


@pytest.mark.parametrize("how", ["option", "environment"])
def test_a_missing_folder_for_the_config_is_an_error_not_created(cli, tmp_path: Path, how: str) -> None:
    config = tmp_path / "missing" / "config.toml"
    if how == "option":
        result = cli(config, "configure", "api.port=8002")
        source = "--config"
    else:
        result = cli(None, "configure", "api.port=8002", VHCTL_CONFIG=str(config))
        source = "$VHCTL_CONFIG"
    assert result.returncode == 1
    assert result.stderr.startswith(f"vhctl: error: {source} {config}: the folder {config.parent} does not exist")
    assert not config.parent.exists()


def test_the_default_config_folder_is_made_on_first_write(cli, home: Path) -> None:
    result = cli(None, "configure", "api.port=8002")
    assert result.returncode == 0, result.stderr
    assert "port = 8002" in (home / ".config" / "vhctl" / "config.toml").read_text()


#: A writer that blocks at its Nth fsync or rename, says so, and waits to be killed.
_WRITER = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from vhctl.files import write_with_backup
    target, block_at = Path(sys.argv[1]), int(sys.argv[2])
    steps = [0]
    def blocking(real, name):
        def step(*args):
            steps[0] += 1
            if steps[0] == block_at:
                print(name, flush=True)
                signal.pause()
            return real(*args)
        return step
    os.fsync = blocking(os.fsync, "fsync")
    os.replace = blocking(os.replace, "replace")
    write_with_backup(target, sys.argv[3])
""")

#: The steps of one write with a backup, and what the file holds when killed at each.
_STEPS = [("fsync", "old"),    # the backup's temporary file
          ("replace", "old"),  # the backup renamed into place
          ("fsync", "old"),    # the folder
          ("fsync", "old"),    # the new content's temporary file
          ("replace", "old"),  # ... renamed over the file
          ("fsync", "new")]    # the folder: the new file is in place


@pytest.mark.parametrize("block_at", range(1, len(_STEPS) + 1))
def test_a_writer_killed_at_any_step_leaves_the_old_file_or_the_new(tmp_path: Path, block_at: int) -> None:
    config = _config(tmp_path)
    new = ORIGINAL.replace("8001", "8002")
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(config), str(block_at), new], cwd=REPO,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == _STEPS[block_at - 1][0]  # it is blocked there
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
    expected = ORIGINAL if _STEPS[block_at - 1][1] == "old" else new
    assert config.read_text() == expected
    assert os.stat(config).st_mode & 0o777 == 0o644
