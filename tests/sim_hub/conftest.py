"""Fixtures for the hub's own tests: a started hub with the recording stand-in plugin, and raw
NMDC socket clients (closed after the test)."""

from __future__ import annotations

from typing import Any, Callable, Iterator, Tuple

import pytest

from testkit.fixtures import closing_factory
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
    """``raw_client(port)`` -> a bare NMDC client connected to the hub (closed after the test)."""
    yield from closing_factory(RawClient, RawClient.close)


@pytest.fixture
def master_asked_for_password(make_hub: Callable[..., Hub],
                              raw_client: Callable[[int], RawClient]) -> Tuple[Hub, RawClient, bytes]:
    """A hub on a real port with "Master" registered (class 10, password "secret") and a raw client
    that did the handshake as Master: (hub, client, the bytes up to and with the hub's $GetPass)."""
    hub = make_hub(listen_port=0)
    hub.call(hub.register, "Master", 10, "secret")
    client = raw_client(hub.port)
    client.handshake("Master")
    return hub, client, client.read_until(b"$GetPass|")
