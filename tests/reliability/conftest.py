"""Fixtures of the reliability suite: one simulated hub with both scripts (hub_api.py as component
"api", matterbridge.py as component "bridge") and a Matterbridge stand-in on loopback.

The helpers are the API and bridge tests' (``ApiHub``, ``BridgeHub``); teardown is theirs too: a
clean hub shutdown (OnUnLoad) and no plugin violation (thread rule), in both plugin modes."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from testkit.bridge import ApiHub, BridgeHub

from vhctl.sim.hub import Hub
from vhctl.sim.matterbridge import MatterbridgeStandIn


@pytest.fixture(params=["single", "sub"])
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


def free_port() -> int:
    """A loopback port nobody listens on now (the API is configured with it, to prove reuse)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Lab:
    """The hub, the stand-in, and both scripts rendered for them (loaded by the test)."""

    def __init__(self, hub: Hub, mb: MatterbridgeStandIn, api: ApiHub, bridge: BridgeHub) -> None:
        self.hub = hub
        self.mb = mb
        self.api = api
        self.bridge = bridge


@pytest.fixture
def make_lab(tmp_path: Path, keyring_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Lab]]:
    """``make_lab(mode, api_port=0, **bridge_settings)`` -> a started hub (timer on, chat rules off)
    with both scripts rendered; the operator "Admin" is shared by both helpers."""
    made: list[Lab] = []

    def make(mode: str, api_port: int = 0, **bridge_settings: Any) -> Lab:
        mb = MatterbridgeStandIn().start()
        hub = Hub(tmp_path / "hub", mode=mode, config={"hub_name": "LabHub"}, hub_encoding="UTF-8",
                  echo_stderr=False, timer_period=0.05, chat_rules=False)
        hub.dns_delay = 0.0
        hub.start()
        bridge = BridgeHub(hub, tmp_path / "bridge", mb, None, bridge_settings)
        with monkeypatch.context() as patch:   # one operator for both scripts
            patch.setattr(hub, "login", lambda *args, **kwargs: bridge.op)
            api = ApiHub(hub, tmp_path / "api", {"port": api_port})
        lab = Lab(hub, mb, api, bridge)
        made.append(lab)
        return lab

    yield make
    for lab in made:
        lab.bridge.shutdown()   # OnUnLoad for every script, hub stop, zero violations
        lab.mb.stop()
