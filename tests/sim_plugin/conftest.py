"""Fixtures for the plugin's tests: real ``Hub`` objects in both build modes, probe scripts in tmp
dirs, and a way to run code inside a hook on the hub thread (where vh may be called)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from vhctl.sim.hub import Hub  # noqa: E402


@pytest.fixture(params=["single", "sub"])
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def make_hub(tmp_path: Path, mode: str) -> Iterator[Callable[..., Hub]]:
    """``make_hub(**kwargs)`` -> a started Hub (timer effectively off: tests tick by hand).

    Teardown stops it and fails the test on any plugin violation, unless the test provoked them on
    purpose and said so with ``hub.expected_violations = True``; hub-internal errors always fail."""
    hubs: list[Hub] = []

    def make(**kwargs: Any) -> Hub:
        kwargs.setdefault("mode", mode)
        kwargs.setdefault("echo_stderr", False)
        kwargs.setdefault("timer_period", 3600.0)
        kwargs.setdefault("chat_rules", False)  # chat delay and repeat rules are the hub's tests
        config = {"hub_name": "LabHub", **kwargs.pop("config", {})}
        hub = Hub(tmp_path / f"hub{len(hubs)}", config=config, **kwargs)
        hub.dns_delay = 0.0
        hub.expected_violations = False
        hubs.append(hub)
        return hub.start()

    yield make
    for hub in hubs:
        hub.stop()
        assert not hub.errors, hub.errors[0]
        if not hub.expected_violations:
            hub.plugin.violations.assert_clean()


@pytest.fixture
def hub(make_hub: Callable[..., Hub]) -> Hub:
    return make_hub()
