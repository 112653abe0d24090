"""Fixtures for the hub's own tests: a started hub with the recording stand-in plugin, and raw
NMDC socket clients (closed after the test)."""

from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest

from testkit.simhub import RawClient, RecordingPlugin

from vhctl.sim.hub import Hub


@pytest.fixture
def make_hub(hub_factory: Callable[..., Hub]) -> Callable[..., Hub]:
    """``make_hub(**kwargs)`` -> a started Hub with the RecordingPlugin (the hub's own behaviour)."""

    def make(**kwargs: Any) -> Hub:
        kwargs.setdefault("plugin_factory", RecordingPlugin)
        return hub_factory(**kwargs)

    return make


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
