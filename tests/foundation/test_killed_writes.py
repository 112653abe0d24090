"""Writes killed midway leave the old file or the new, never a torn one: the real CLI (`vhctl
configure`, `vhctl render`, `vhctl matterbridge-toml --merge`) run as a subprocess and SIGKILLed
at every step of its writes, and at random moments of them.

Exact steps: strace injects SIGKILL on entry to the Nth file-writing system call (chmod of the
temporary file, its write, its fsync, the rename over the target, the folder's fsync), for every N
a complete run makes. The killed run's own trace must end on the call it was killed at, so each
case proves where the writer died; the files must then be exactly what the calls before it made:
a file is new once the rename onto it happened and old before (the rename is the one atomic step).

Random moments (no strace, so with the writer's real timing): the run is watched until its first
temporary file appears, then killed after a random delay; whatever it left must be one of those
exact states. After a kill, running the command again finishes the job.
"""

from __future__ import annotations

import random
import re
import shutil
import signal
import stat
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from testkit.cli import REPO, headless_env, vhctl_command
from vhctl_hub import secrets as vault

STRACE = shutil.which("strace")
#: The system calls of a write (vhctl_hub.files.atomic_write): every one is a kill point.
WRITE_CALLS = "fchmod,fchown,write,fsync,fdatasync,rename,renameat,renameat2"
#: One traced call: pid, name, arguments; the result is "?" for the call the process died in.
_CALL = re.compile(r"^\d+ +(\w+)\((.*)\) += (.*)$")
#: The random part of a temporary file's name (tempfile.mkstemp).
_TEMP_NAME = re.compile(r"(/\.[^/\"]+\.)[a-z0-9_]{8}(\.tmp)")
RANDOM_RUNS = 12
#: Longest random delay after the first temporary file appears, seconds (a whole write phase
#: takes a few fsyncs; later kills find the files new, which is checked too).
RANDOM_DELAY = 0.02
TOKEN = "mb-killed-writes-" + "k" * 32
ORIGINAL_CONFIG = "# my own note\n[api]\nport = 8001  # chosen by me\n"
USER_MATTERBRIDGE = """\
# my own matterbridge config: keep this comment
[general]
RemoteNickFormat="[{PROTOCOL}] <{NICK}> "

[[gateway]]
name="other"
enable=true
"""

State = dict[Path, tuple[bytes, int] | None]


@dataclass(frozen=True)
class Call:
    """One traced system call, with the temporary file names made comparable between runs."""

    name: str
    args: str

    @classmethod
    def parse(cls, line: str) -> Call | None:
        found = _CALL.match(line)
        return cls(found[1], _TEMP_NAME.sub(r"\1XXXXXXXX\2", found[2])) if found else None

    def renamed_to(self) -> Path | None:
        """The file a rename call replaces."""
        if not self.name.startswith("rename"):
            return None
        target = self.args.rsplit(", ", 1)[-1].strip('"') if self.name == "rename" else \
            self.args.split(", ")[3].strip('"')
        return (REPO / target).resolve()


def _calls(log: Path) -> list[Call]:
    """The file-writing calls of a trace (what the command prints on stdout or stderr is not one)."""
    calls = map(Call.parse, log.read_text(errors="replace").splitlines())
    return [c for c in calls if c is not None and not (c.name == "write" and c.args[:2] in ("1,", "2,"))]


@dataclass
class Scene:
    """A command and the files it may change, in the state before it runs (``old``)."""

    args: list[str]
    env: dict[str, str]
    old: dict[Path, bytes | None]
    modes: dict[Path, int] = field(default_factory=dict)

    def reset(self) -> None:
        """Put every file back as it was before the command, and clear what killed runs left."""
        for path, data in self.old.items():
            for leftover in path.parent.glob(f".{path.name}.*.tmp"):
                leftover.unlink()
            if data is None:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(data)
                path.chmod(self.modes.get(path, 0o644))

    def state(self) -> State:
        return {p: (p.read_bytes(), stat.S_IMODE(p.stat().st_mode)) if p.exists() else None for p in self.old}

    def leftovers(self) -> list[str]:
        """Files beside ours that a kill left: only our hidden temporary files."""
        folders = {p.parent for p in self.old}
        ours = {p.name for p in self.old}
        others = [f.name for d in folders for f in d.iterdir() if f.name not in ours]
        return [n for n in others if any(n.startswith(f".{o}.") and n.endswith(".tmp") for o in ours)]

    def command(self) -> list[str]:
        return vhctl_command(*self.args)

    def run(self, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
        return subprocess.run([*prefix, *self.command()], cwd=REPO, env=self.env, capture_output=True,
                              text=True, timeout=300, stdin=subprocess.DEVNULL)


def _traced(scene: Scene, log: Path, kill_at: tuple[str, int] | None = None) -> subprocess.CompletedProcess:
    assert STRACE is not None
    prefix = [STRACE, "-f", "-qq", "-o", str(log), "-e", f"trace={WRITE_CALLS}"]
    if kill_at is not None:
        prefix += ["-e", f"inject={kill_at[0]}:signal=SIGKILL:when={kill_at[1]}"]
    return scene.run(tuple(prefix))


@dataclass
class Reference:
    """A complete run: its write calls in order and the state it leaves."""

    calls: list[Call]
    new: State

    def after(self, done: int, old: State) -> State:
        """The files when exactly the first ``done`` calls have run: new where a rename happened."""
        renamed = {c.renamed_to() for c in self.calls[:done]}
        return {p: self.new[p] if p.resolve() in renamed else old[p] for p in old}

    def states(self, old: State) -> list[State]:
        """Every state a write leaves on the way, once each, from the old one to the new."""
        states: list[State] = []
        for done in range(len(self.calls) + 1):
            if (now := self.after(done, old)) not in states:
                states.append(now)
        return states


def _reference(scene: Scene, log: Path) -> Reference:
    """Run the command to the end under strace (the same tracer the kills use, and it warms the
    bytecode cache so that later runs make the same calls)."""
    scene.reset()
    done = _traced(scene, log)
    assert done.returncode == 0, done.stderr
    calls = _calls(log)
    new = scene.state()
    scene.reset()
    assert any(c.renamed_to() for c in calls), calls
    return Reference(calls, new)


# --- the three commands ---------------------------------------------------------------------------

def _configure(tmp_path: Path, env: dict[str, str]) -> Scene:
    config = tmp_path / "config.toml"
    return Scene(["--config", str(config), "configure", "api.port=8002"], env,
                 {config: ORIGINAL_CONFIG.encode(), tmp_path / "config.toml.bak": None})


def _render(tmp_path: Path, env: dict[str, str]) -> Scene:
    """Two scripts rendered before by an older vhctl (our mark, other text), re-rendered."""
    config, scripts = tmp_path / "config.toml", tmp_path / "scripts"
    scripts.mkdir()
    python = f"{sys.version_info[0]}.{sys.version_info[1]}"
    config.write_text(f'[hub]\nvenv = "{sys.prefix}"\nsite_packages = "{sysconfig.get_paths()["purelib"]}"\n'
                      f'python = "{python}"\nscripts_dir = "{scripts}"\nstate_dir = "{tmp_path / "state"}"\n')
    scene = Scene(["--config", str(config), "render"], env, {})
    first = scene.run()
    assert first.returncode == 0, first.stderr
    for name in ("hub_api.py", "matterbridge.py"):
        script = scripts / name
        scene.old[script] = script.read_bytes() + b"# from an older vhctl\n"
        scene.old[scripts / f"{name}.bak"] = None
    scene.old[config] = config.read_bytes()  # unchanged by the second render: checked as such
    return scene


def _merge(tmp_path: Path, env: dict[str, str]) -> Scene:
    """The user's matterbridge.toml (0640, theirs) gets our account and gateway."""
    config, target = tmp_path / "config.toml", tmp_path / "matterbridge.toml"
    config.write_text('[bridge]\nurl = "http://127.0.0.1:4343"\ngateway = "dchub"\naccount = "api.myhub"\n')
    scene = Scene(["--config", str(config), "matterbridge-toml", "--merge", str(target)], env,
                  {target: USER_MATTERBRIDGE.encode(), tmp_path / "matterbridge.toml.bak": None},
                  {target: 0o640})
    stored = subprocess.run(vhctl_command("--config", str(config), "token", "set", "matterbridge"), cwd=REPO,
                            env=env, input=TOKEN + "\n", capture_output=True, text=True, timeout=120)
    assert stored.returncode == 0, stored.stderr
    return scene


SCENES = {"configure": _configure, "render": _render, "merge": _merge}


@pytest.fixture
def scene(request, tmp_path: Path, home: Path, monkeypatch) -> Iterator[Scene]:
    monkeypatch.setenv(vault.RECORD_ENV, "")  # restored afterwards: the temporary keyring sets it
    record = vault.use_temporary_keyring(tmp_path / "keyring")
    work = tmp_path / "files"
    work.mkdir()
    made = SCENES[request.param](work, headless_env(home, VHCTL_KEYRING=str(record)))
    made.reset()
    yield made
    shutil.rmtree(work)  # the merged file holds the token: nothing of it outlives the test


def _show(state: State) -> dict[str, str]:
    """A state in words, for failure messages."""
    return {p.name: "absent" if v is None else f"{len(v[0])} bytes, mode {v[1]:o}" for p, v in state.items()}


def _kill_at(scene: Scene, ref: Reference, index: int, kill: tuple[str, int], log: Path, old: State) -> None:
    """Run the command from the old state, SIGKILLed on entering the call ``ref.calls[index]``; it
    must have died exactly there and left what the calls before it made."""
    scene.reset()
    killed = _traced(scene, log, kill)
    call = ref.calls[index]
    assert killed.returncode in (-signal.SIGKILL, 128 + signal.SIGKILL), (call, killed.stderr)
    died_in = _calls(log)
    assert died_in and died_in[-1] == call, f"killed at {died_in[-1:]}, meant {call}"
    expected = ref.after(index, old)
    assert scene.state() == expected, (call, _show(scene.state()), _show(expected))


# --- the tests ------------------------------------------------------------------------------------

@pytest.mark.skipif(STRACE is None, reason="strace is not installed")
@pytest.mark.timeout(900)
@pytest.mark.parametrize("scene", list(SCENES), indirect=True)
def test_a_cli_killed_at_every_write_call_leaves_each_file_old_or_new(scene: Scene, tmp_path: Path) -> None:
    old = scene.state()
    ref = _reference(scene, tmp_path / "reference.trace")
    assert ref.new != old
    ordinal: dict[str, int] = {}
    leftovers = 0
    for index, call in enumerate(ref.calls):
        ordinal[call.name] = ordinal.get(call.name, 0) + 1
        _kill_at(scene, ref, index, (call.name, ordinal[call.name]), tmp_path / f"kill{index}.trace", old)
        leftovers += len(scene.leftovers())
    # killed just before its last rename (the others done), the command run again completes the job
    last = max(i for i, c in enumerate(ref.calls) if c.renamed_to())
    nth = sum(c.name == ref.calls[last].name for c in ref.calls[:last + 1])
    _kill_at(scene, ref, last, (ref.calls[last].name, nth), tmp_path / "again.trace", old)
    again = scene.run()
    assert again.returncode == 0, again.stderr
    assert scene.state() == ref.new
    print(f"{scene.args[2]}: killed at each of {len(ref.calls)} write calls; old or new every time; "
          f"{leftovers} temporary files left by the kills")


@pytest.mark.skipif(STRACE is None, reason="strace is not installed")
@pytest.mark.timeout(900)
@pytest.mark.parametrize("scene", list(SCENES), indirect=True)
def test_a_cli_killed_at_random_moments_of_its_writes_leaves_a_state_a_write_makes(
        scene: Scene, tmp_path: Path) -> None:
    old = scene.state()
    allowed = _reference(scene, tmp_path / "reference.trace").states(old)
    folders = {p.parent for p in scene.old}
    rng = random.Random()
    seen: dict[int, int] = {}
    for _ in range(RANDOM_RUNS):
        scene.reset()
        proc = subprocess.Popen(scene.command(), cwd=REPO, env=scene.env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            # the positive signal: its first temporary file (or its end, on a very fast run)
            while proc.poll() is None and not any(f.name.endswith(".tmp") for d in folders for f in d.iterdir()):
                time.sleep(0.0002)  # a write takes a few fsyncs: milliseconds
            time.sleep(rng.uniform(0, RANDOM_DELAY))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(60)
        now = scene.state()
        assert now in allowed, _show(now)
        seen[allowed.index(now)] = seen.get(allowed.index(now), 0) + 1
    print(f"{scene.args[2]}: {RANDOM_RUNS} random kills; runs per state reached, from the old "
          f"(0) to the new ({len(allowed) - 1}): {sorted(seen.items())}")
