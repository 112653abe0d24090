"""The hub runs as its own Unix user: a real second user (``vhctl-hubtest``), the CLI run as that
user with setpriv in a fresh HOME with no desktop session, and as root (another user than the
hub's). Token commands (`vhctl token`, `vhctl matterbridge-toml`) run as the wrong user say so on
one line and change nothing; run as the hub's user they work and its keyring file stays 0600 and
its own; a config shared through its group keeps owner, group and mode when root changes it."""

from __future__ import annotations

import grp
import importlib.metadata
import json
import os
import pwd
import re
import shutil
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
from testkit.cli import REPO, Run, headless_env, run_vhctl
from testkit.unixuser import run_scoped, unix_user
from vhctl_hub import secrets as vault

HUB_USER = run_scoped("vhctl-hubtest")
#: The Python a Debian hub embeds, which another user can run (the tests' own may sit under /root).
SYSTEM_PYTHON = next((p for p in ("/usr/bin/python3.11", "/usr/bin/python3") if os.access(p, os.X_OK)), None)
SECRET = "hub-user-test-matterbridge-token-0123456789"


@pytest.fixture(scope="session")
def hub_user() -> Iterator[pwd.struct_passwd]:
    """The hub's service user, with a group of its own (Debian's useradd makes one)."""
    with unix_user(HUB_USER, "--no-create-home") as user:
        yield user


def _distributions(root: str) -> list[importlib.metadata.Distribution]:
    """``root`` and everything it needs at run time (no extras), as installed here."""
    seen: dict[str, importlib.metadata.Distribution] = {}
    todo = [root]
    while todo:
        name = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue  # a platform's own dependency (pywin32-ctypes...)
        seen[key] = dist
        todo.extend(re.match(r"[A-Za-z0-9._-]+", req).group(0) for req in dist.requires or []
                    if "extra ==" not in req.replace("extra==", "extra =="))
    return list(seen.values())


@pytest.fixture(scope="session")
def user_cli() -> Iterator[Path]:
    """The python of a world-readable venv holding the CLI and its dependencies (copied from this
    venv, so nothing is downloaded), made with the system's Python, which any user can run."""
    if SYSTEM_PYTHON is None:
        pytest.skip("no system Python (/usr/bin/python3) that another user can run")
    root = Path(tempfile.mkdtemp(prefix="vhctl-usercli-"))
    root.chmod(0o755)
    venv = root / "venv"
    subprocess.run([SYSTEM_PYTHON, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True)
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    target = Path(subprocess.run([str(venv / "bin" / "python"), "-c", purelib], check=True, capture_output=True,
                                 text=True).stdout.strip())
    for dist in _distributions("vhctl"):
        if dist.metadata["Name"] == "vhctl":
            continue  # this checkout itself, linked below
        for file in dist.files or []:
            if file.parts and file.parts[0] == "..":
                continue  # console scripts and the like, outside site-packages
            source = Path(dist.locate_file(file))
            if source.is_file():
                (target / file).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / file)
    for path in [root, *root.rglob("*")]:  # never through a link (the venv's python is one)
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644 | (path.stat().st_mode & 0o111))
    (target / "vhctl").symlink_to(REPO / "vhctl")
    (target / "vhctl_hub").symlink_to(REPO / "bundle")
    python = venv / "bin" / "python"
    yield python
    shutil.rmtree(root, ignore_errors=True)


@dataclass
class HubSetup:
    """A config whose hub runs as the hub user: its state folder and keyring are that user's."""

    config: Path
    home: Path
    state_dir: Path
    keyring_file: Path
    user: pwd.struct_passwd
    python: Path

    def as_hub_user(self, *args: str, stdin: str | None = None) -> Run:
        """The CLI as the hub's user, in its fresh HOME (no desktop session)."""
        started = time.monotonic()
        done = subprocess.run(["setpriv", f"--reuid={self.user.pw_uid}", f"--regid={self.user.pw_gid}",
                               "--clear-groups", "--", str(self.python), "-m", "vhctl", "--config",
                               str(self.config), *args], cwd="/", env=headless_env(self.home), input=stdin,
                              stdin=None if stdin is not None else subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=300)
        return Run(done.returncode, done.stdout, done.stderr, time.monotonic() - started)

    def as_root(self, *args: str, stdin: str | None = None) -> Run:
        """The CLI as root, in a fresh HOME of root's (another user than the hub's)."""
        home = self.config.parent / "root-home"
        home.mkdir(exist_ok=True)
        return run_vhctl(self.config, *args, env=headless_env(home), replace_env=True, stdin=stdin)


def _own(path: Path, user: pwd.struct_passwd, mode: int) -> None:
    os.chown(path, user.pw_uid, user.pw_gid)
    path.chmod(mode)


@pytest.fixture
def setup(hub_user: pwd.struct_passwd, user_cli: Path) -> Iterator[HubSetup]:
    """A world-readable folder: the config (root's, 0644), the hub user's 0700 HOME, state folder
    and keyring (as `vhctl install` records it in the hub venv), and a folder it may write."""
    root = Path(tempfile.mkdtemp(prefix="vhctl-hubuser-"))
    root.chmod(0o755)
    home = root / "hub-home"
    home.mkdir()
    _own(home, hub_user, 0o700)
    state_dir = home / "state"
    keyring_file = home / "keyring" / vault.FILE_NAME
    venv = root / "hub-venv"
    venv.mkdir()
    (venv / vault.RECORD).write_text(vault.Choice(vault.FILE_BACKEND, str(keyring_file)).to_json())
    for folder in (state_dir, keyring_file.parent):
        folder.mkdir()
        _own(folder, hub_user, 0o700)
    (root / "out").mkdir()
    _own(root / "out", hub_user, 0o755)
    config = root / "config.toml"
    config.write_text(f'[hub]\nstate_dir = "{state_dir}"\nvenv = "{venv}"\n'
                      '[bridge]\nurl = "http://127.0.0.1:4242"\ngateway = "dchub"\n')
    yield HubSetup(config, home, state_dir, keyring_file, hub_user, user_cli)
    shutil.rmtree(root, ignore_errors=True)


def _identity(path: Path) -> tuple[int, int, int]:
    info = os.stat(path)
    return info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)


def _refused(run: Run, command: str) -> None:
    assert run.returncode == 1 and run.stdout == "", run
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr, run.stderr
    assert run.stderr.startswith(f"vhctl: error: the hub runs as {HUB_USER} (the owner of "), run.stderr
    assert f"run this as {HUB_USER}, e.g. sudo -u {HUB_USER} vhctl {command}" in run.stderr, run.stderr


def test_token_commands_as_another_user_say_so_on_one_line_and_change_nothing(setup: HubSetup) -> None:
    out = setup.config.parent / "out"
    mine = setup.config.parent / "matterbridge.toml"
    mine.write_text("# my Matterbridge\n[general]\nMediaDownloadSize=1000000\n")
    before = mine.read_text()
    for args in (("token", "generate"), ("token", "rotate", "matterbridge"), ("token", "show", "--reveal"),
                 ("token", "delete", "matterbridge")):
        _refused(setup.as_root(*args), "token ...")
    _refused(setup.as_root("token", "set", "matterbridge", stdin=SECRET + "\n"), "token ...")
    for args in (("--output", str(out / "matterbridge.toml")), ("--merge", str(mine)), ("--reveal",)):
        _refused(setup.as_root("matterbridge-toml", *args), "matterbridge-toml ...")
    assert mine.read_text() == before and sorted(mine.parent.glob("matterbridge.toml*")) == [mine]
    assert list(out.iterdir()) == [] and list(setup.keyring_file.parent.iterdir()) == []
    shown = setup.as_root("matterbridge-toml")  # the placeholder needs no keyring: any user may look
    assert shown.returncode == 0 and "PASTE-THE-MATTERBRIDGE-TOKEN-HERE" in shown.stdout, shown.stderr


def test_as_the_hub_user_tokens_work_and_its_keyring_stays_0600_and_its_own(setup: HubSetup) -> None:
    user = setup.user
    made = setup.as_hub_user("token", "generate", "matterbridge")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert len(token) > 30 and str(setup.keyring_file) in made.stderr
    assert _identity(setup.keyring_file) == (user.pw_uid, user.pw_gid, 0o600)
    assert _identity(setup.keyring_file.parent) == (user.pw_uid, user.pw_gid, 0o700)
    target = setup.config.parent / "out" / "matterbridge.toml"
    written = setup.as_hub_user("matterbridge-toml", "--output", str(target))
    assert written.returncode == 0, written.stderr
    assert _identity(target) == (user.pw_uid, user.pw_gid, 0o600)  # it holds the token
    assert f'Token = "{token}"' in target.read_text()
    assert token not in written.stdout + written.stderr
    shown = setup.as_hub_user("token", "show", "matterbridge", "--json")
    assert shown.returncode == 0 and shown.json()["token_set"] is True and token not in shown.stdout
    rotated = setup.as_hub_user("token", "rotate", "matterbridge")
    assert rotated.returncode == 0 and rotated.stdout.strip() not in ("", token)
    assert _identity(setup.keyring_file) == (user.pw_uid, user.pw_gid, 0o600)
    doctor = setup.as_hub_user("doctor", "--json", "--timeout", "0.5", "--matterbridge-toml", str(target))
    checks = {check["name"]: check for check in doctor.json()["checks"]}
    assert "is not the stored Matterbridge token" in checks["matterbridge.toml"]["message"]  # rotated since
    assert token not in doctor.stdout + doctor.stderr and rotated.stdout.strip() not in doctor.stdout


@pytest.mark.parametrize("group", ["nogroup", HUB_USER], ids=["nogroup", "own-group"])
def test_a_config_shared_through_its_group_keeps_owner_group_and_mode(setup: HubSetup, group: str) -> None:
    """root:GROUP 0640, GROUP being nogroup or the hub user's own: root's `configure` keeps it so,
    and the hub's user still reads its config through the group."""
    gid = grp.getgrnam(group).gr_gid
    os.chown(setup.config, 0, gid)
    setup.config.chmod(0o640)
    changed = setup.as_root("configure", "bridge.gateway=other")
    assert changed.returncode == 0, changed.stderr
    assert _identity(setup.config) == (0, gid, 0o640)
    assert _identity(setup.config.with_name("config.toml.bak")) == (0, gid, 0o640)
    assert 'gateway = "other"' in setup.config.read_text()
    read = setup.as_hub_user("status", "--json", "--timeout", "0.5")
    assert "Traceback" not in read.stderr
    if gid == setup.user.pw_gid:
        assert read.returncode == 0 or read.stdout.startswith("{"), read.stderr
        assert "error" not in read.json() and read.json()["config_exists"] is True, read.stdout
    else:  # not in that group: the JSON says the file cannot be read, with the usage-error exit code
        report = read.json()
        assert (read.returncode, report["exit_code"]) == (2, 2), read
        assert f"{setup.config}: cannot read" in report["error"], read.stdout


def test_status_json_is_json_even_when_the_config_cannot_be_read(setup: HubSetup) -> None:
    setup.config.chmod(0o600)  # root's, and the hub user may not read it
    run = setup.as_hub_user("status", "--json")
    assert run.stdout.startswith("{"), run
    report = json.loads(run.stdout)
    assert (run.returncode, report["health"], report["exit_code"]) == (2, "down", 2), run
    assert str(setup.config) in report["error"] and "Traceback" not in run.stderr
    human = setup.as_hub_user("status")
    assert human.returncode != 0 and human.stderr.count("\n") == 1, human
    assert human.stderr.startswith("vhctl: error: ") and str(setup.config) in human.stderr, human
