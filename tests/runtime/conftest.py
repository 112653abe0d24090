"""Fixtures for the runtime tests: simulated hubs in both plugin modes, rendered scripts, configs.

Scripts are rendered like `vhctl install` renders them: ``templates/hub_api.py`` via
``vhctl.render.render`` and this folder's ``fixture_script.py`` via ``render_text``. The fixture
components (``fixture_components.py``) are copied next to the scripts as ``vhctl_fixture.py`` so
that, in sub-interpreter mode, every script slot imports its own copy, as a real sub-interpreter
would.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from runtime_helpers import Scripts  # noqa: E402

from vhctl.sim.hub import Hub  # noqa: E402

@pytest.fixture
def scripts(tmp_path: Path) -> Scripts:
    return Scripts(tmp_path)


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
