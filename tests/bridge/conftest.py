"""Fixtures of the bridge tests: a Matterbridge stand-in on loopback and simulated hubs (both plugin
modes) with the rendered matterbridge.py loaded by an operator. The file keyring is tests/conftest.py's."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from testkit.bridge import BridgeHub
from testkit.fixtures import closing_factory

from vhctl.sim.hub import Hub
from vhctl.sim.matterbridge import MatterbridgeStandIn


@pytest.fixture
def standin() -> Iterator[Callable[..., MatterbridgeStandIn]]:
    """``standin(**kwargs)`` -> a started stand-in (stopped at teardown)."""
    yield from closing_factory(lambda **kwargs: MatterbridgeStandIn(**kwargs).start(), MatterbridgeStandIn.stop)


@pytest.fixture
def make_bridge_hub(tmp_path: Path, keyring_dir: Path) -> Iterator[Callable[..., BridgeHub]]:
    """``make_bridge_hub(mode, mb, token=None, load=True, **bridge_settings)`` -> a started hub with
    matterbridge.py rendered for ``mb`` (the token, if any, stored in the keyring first).

    Teardown: a clean hub shutdown (OnUnLoad) and no plugin violation (thread rule)."""
    made: list[BridgeHub] = []

    def make(mode: str, mb: Any, token: Any = None, load: bool = True, hub_encoding: str = "UTF-8",
             **settings: Any) -> BridgeHub:
        hub = Hub(tmp_path / f"hub{len(made)}", mode=mode, config={"hub_name": "LabHub"},
                  hub_encoding=hub_encoding, echo_stderr=False, timer_period=0.05, chat_rules=False)
        hub.dns_delay = 0.0
        bridge = BridgeHub(hub.start(), tmp_path / f"bridge{len(made)}", mb, token, settings)
        made.append(bridge)
        if load:
            bridge.load()
        return bridge

    yield make
    for bridge in made:
        bridge.shutdown()
