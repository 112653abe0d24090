"""Fixtures for the Matterbridge stand-in's own tests: started stand-ins, killed after the test."""

from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest

from testkit.mbsim import TOKEN

from vhctl.sim.matterbridge import MatterbridgeStandIn


@pytest.fixture
def make_mb() -> Iterator[Callable[..., MatterbridgeStandIn]]:
    """``make_mb(**kwargs)`` -> a started stand-in (token ``hubtoken``, gateway ``dchub``)."""
    made: list[MatterbridgeStandIn] = []

    def make(**kwargs: Any) -> MatterbridgeStandIn:
        kwargs.setdefault("token", TOKEN)
        kwargs.setdefault("gateway", "dchub")
        mb = MatterbridgeStandIn(**kwargs)
        made.append(mb)
        return mb.start()

    yield make
    for mb in made:
        mb.stop()


@pytest.fixture
def mb(make_mb: Callable[..., MatterbridgeStandIn]) -> MatterbridgeStandIn:
    return make_mb()
