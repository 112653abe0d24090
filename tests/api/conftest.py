"""Fixtures of the REST API tests (the file keyring is tests/conftest.py's): hand-made snapshots
served by a real uvicorn, and simulated hubs (both plugin modes) with the rendered hub_api.py loaded by an operator."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from testkit.api import ApiHub, StandaloneApi
from testkit.fixtures import closing_factory

from vhctl.sim.hub import Hub


@pytest.fixture
def standalone(keyring_dir: Path) -> Iterator[Callable[..., StandaloneApi]]:
    """``standalone(snapshot, **settings)`` -> the app over a hand-made snapshot on a real server."""
    yield from closing_factory(StandaloneApi, StandaloneApi.close)


@pytest.fixture(params=["single", "sub"])
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def make_api_hub(tmp_path: Path, keyring_dir: Path) -> Iterator[Callable[..., ApiHub]]:
    """``make_api_hub(mode, load=True, hub_encoding="CP1252", **api_settings)`` -> a started simulated
    hub with hub_api.py rendered and (unless ``load=False``) loaded by an operator.

    Teardown: a clean hub shutdown (OnUnLoad, F17) and no plugin violation (thread rule F58)."""
    made: list[ApiHub] = []

    def make(mode: str, load: bool = True, hub_encoding: str = "CP1252", **api_settings: Any) -> ApiHub:
        hub = Hub(tmp_path / f"hub{len(made)}", mode=mode, config={"hub_name": "LabHub"},
                  hub_encoding=hub_encoding, echo_stderr=False, timer_period=0.2)
        hub.dns_delay = 0.0
        api = ApiHub(hub.start(), tmp_path / f"api{len(made)}", api_settings)
        made.append(api)
        if load:
            api.load()
        return api

    yield make
    for api in made:
        api.shutdown()
