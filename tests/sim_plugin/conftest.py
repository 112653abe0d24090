"""Fixtures for the plugin's tests: real ``Hub`` objects in both build modes, probe scripts in tmp
dirs, and a way to run code inside a hook on the hub thread (where vh may be called)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from vhctl.sim.hub import Hub  # noqa: E402


@pytest.fixture
def make_hub(hub_factory: Callable[..., Hub], mode: str) -> Callable[..., Hub]:
    """``make_hub(**kwargs)`` -> a started hub in this test's build mode, timer off (tests tick by
    hand), chat delay and repeat rules off (they are the hub's own tests)."""

    def make(**kwargs: Any) -> Hub:
        kwargs.setdefault("mode", mode)
        kwargs.setdefault("timer_period", 3600.0)
        kwargs.setdefault("chat_rules", False)
        return hub_factory(**kwargs)

    return make


@pytest.fixture
def hub(make_hub: Callable[..., Hub]) -> Hub:
    return make_hub()
