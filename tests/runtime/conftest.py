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
from typing import Any, Callable, Iterator

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from runtime_helpers import Scripts  # noqa: E402

from vhctl.sim.hub import Hub  # noqa: E402

@pytest.fixture
def scripts(tmp_path: Path) -> Scripts:
    return Scripts(tmp_path)


@pytest.fixture(params=["single", "sub"])
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def make_hub(tmp_path: Path, mode: str) -> Iterator[Callable[..., Hub]]:
    """``make_hub(**kwargs)`` -> a started hub whose timer is off (tests tick by hand).

    Teardown shuts the hub down cleanly and fails the test on any plugin violation or simulator error."""
    hubs: list[Hub] = []

    def make(**kwargs: Any) -> Hub:
        kwargs.setdefault("mode", mode)
        kwargs.setdefault("echo_stderr", False)
        kwargs.setdefault("timer_period", 3600.0)
        config = {"hub_name": "LabHub", **kwargs.pop("config", {})}
        hub = Hub(tmp_path / f"hub{len(hubs)}", config=config, **kwargs)
        hub.dns_delay = 0.0
        hubs.append(hub)
        return hub.start()

    yield make
    for hub in hubs:
        if hub.running and hub.crashed is None:
            hub.call(hub.plugin.hook, "OnUnLoad", 0)  # a clean hub shutdown (F17): our threads end
        hub.stop()
        assert not hub.errors, hub.errors[0]
        hub.plugin.violations.assert_clean()


@pytest.fixture
def hub(make_hub: Callable[..., Hub]) -> Hub:
    return make_hub()
