"""Fixtures for the hub's own tests: a started hub with the recording stand-in plugin, and raw
NMDC socket clients (closed after the test)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from simhub_helpers import RawClient, RecordingPlugin  # noqa: E402

from vhctl.sim.hub import Hub  # noqa: E402


@pytest.fixture
def make_hub(tmp_path: Path) -> Iterator[Callable[..., Hub]]:
    """``make_hub(**kwargs)`` -> a started Hub with the RecordingPlugin; stopped after the test, which
    fails if the hub code itself raised anywhere."""
    hubs: list[Hub] = []

    def make(**kwargs: Any) -> Hub:
        kwargs.setdefault("plugin_factory", RecordingPlugin)
        kwargs.setdefault("echo_stderr", False)
        config = {"hub_name": "LabHub", **kwargs.pop("config", {})}
        hub = Hub(tmp_path / f"hub{len(hubs)}", config=config, **kwargs)
        hubs.append(hub)
        return hub.start()

    yield make
    for hub in hubs:
        hub.stop()
        assert not hub.errors, hub.errors[0]


@pytest.fixture
def hub(make_hub: Callable[..., Hub]) -> Hub:
    return make_hub()


@pytest.fixture
def raw_client() -> Iterator[Callable[[int], RawClient]]:
    clients: list[RawClient] = []

    def connect(port: int) -> RawClient:
        client = RawClient(port)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()
