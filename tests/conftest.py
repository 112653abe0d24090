"""Fixtures shared by every hub-side test folder: simulated hubs in both plugin build modes.

Each folder's ``make_hub`` is ``hub_factory`` with that folder's defaults. Teardown shuts the hub
down as a real hub does on a clean stop (F17: the scripts' OnUnLoad, so our threads end), then fails
the test on any simulator error and on any plugin violation (thread rule F58, fatal crashes A13),
unless the test provoked violations on purpose and said so with ``hub.expected_violations = True``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

import keyring
from testkit.cli import Run, run_vhctl
from testkit.microdc2 import Microdc2
from keyrings.alt.file import PlaintextKeyring
from testkit.secret_scan import SecretScan

from vhctl.sim.hub import Hub

PLAINTEXT = "keyrings.alt.file.PlaintextKeyring"


@pytest.fixture(params=["single", "sub"])
def mode(request: pytest.FixtureRequest) -> str:
    """The plugin build mode (F2): every hub-side test runs in both."""
    return request.param


@pytest.fixture
def hub_factory(tmp_path: Path) -> Iterator[Callable[..., Hub]]:
    """``hub_factory(**kwargs)`` -> a started ``Hub`` (hub name LabHub, stderr captured, no DNS wait)."""
    hubs: list[Hub] = []

    def make(**kwargs: Any) -> Hub:
        kwargs.setdefault("echo_stderr", False)
        config = {"hub_name": "LabHub", **kwargs.pop("config", {})}
        hub = Hub(tmp_path / f"hub{len(hubs)}", config=config, **kwargs)
        hub.dns_delay = 0.0
        hub.expected_violations = False
        hubs.append(hub)
        return hub.start()

    yield make
    for hub in hubs:
        hub.shutdown(0)
        assert not hub.errors, hub.errors[0]
        violations = getattr(hub.plugin, "violations", None)
        if violations is not None and not hub.expected_violations:
            violations.assert_clean()


@pytest.fixture
def make_hub(hub_factory: Callable[..., Hub], mode: str) -> Callable[..., Hub]:
    """``make_hub(**kwargs)`` -> a started hub in this test's build mode, timer off (tests tick by
    hand), chat delay and repeat rules off (those are the hub's own tests)."""

    def make(**kwargs: Any) -> Hub:
        kwargs.setdefault("mode", mode)
        kwargs.setdefault("timer_period", 3600.0)
        kwargs.setdefault("chat_rules", False)
        return hub_factory(**kwargs)

    return make


@pytest.fixture
def hub(make_hub: Callable[..., Hub]) -> Hub:
    """A started hub in this test's build mode."""
    return make_hub()


@pytest.fixture
def vhctl() -> Callable[..., Run]:
    """Runs the real CLI: ``vhctl(config, *args, env=None, prefix=())``."""
    return run_vhctl


@pytest.fixture
def keyring_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A real file keyring under tmp (env for subprocesses, backend for this process)."""
    data = tmp_path / "xdg-data"
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", PLAINTEXT)
    previous = keyring.get_keyring()
    keyring.set_keyring(PlaintextKeyring())
    yield data
    keyring.set_keyring(previous)


# ------------------------------------------------------------------------------ the secrets scan
_SCAN = SecretScan()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Keep what each test printed, for the end-of-session secrets scan."""
    _SCAN.record(report.nodeid, report.sections)


@pytest.fixture(scope="session", autouse=True)
def secrets_scan_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's base temp folder (every test's tmp_path is below it): what the scan searches."""
    _SCAN.base = tmp_path_factory.getbasetemp()
    return _SCAN.base


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """No token that any test stored appears in any other file of the run or in its output."""
    if _SCAN.base is None or session.config.option.collectonly:
        return
    hits = _SCAN.scan(_SCAN.base)
    if hits:
        print("\nsecrets scan: a token appears outside its keyring in:\n  " + "\n  ".join(hits[:50]))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    else:
        print("\nsecrets scan: no token outside its keyring")


# ------------------------------------------------------------------------------ a real DC client
@pytest.fixture
def microdc2(tmp_path: Path) -> Iterator[Callable[..., Microdc2]]:
    """``microdc2(port, nick, password, share)`` -> a real microdc2 connected to 127.0.0.1:port (skips
    where microdc2 is not installed); each is closed after the test."""
    if shutil.which("microdc2") is None:
        pytest.skip("microdc2 is not installed (apt-get install -y microdc2)")
    clients: list[Microdc2] = []

    def start(port: int, nick: str, password: str, share: Path) -> Microdc2:
        home = tmp_path / "home"
        (home / ".microdc2").mkdir(parents=True, exist_ok=True)
        config = tmp_path / "microdc2.cfg"
        config.write_text(f"set nick {nick}\nset password {password}\nset active off\n"
                          f"set description lab\nshare {share}\nconnect 127.0.0.1:{port}\n")
        client = Microdc2(home, config)
        clients.append(client)
        return client

    yield start
    for client in clients:
        client.close()
