"""The request-handling budget that leaves the GIL to the hub thread under a request flood."""

from __future__ import annotations

from vhctl_hub.api.budget import HandlingBudget


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_requests_within_the_share_do_not_wait():
    clock = Clock()
    budget = HandlingBudget(share=0.5, window=0.05, clock=clock)
    for _ in range(4):
        assert budget.delay() == 0.0
        budget.spend(0.005)
        clock.now += 0.005
    assert budget.waited == 0.0


def test_over_the_share_waits_until_the_next_window_then_starts_afresh():
    clock = Clock()
    budget = HandlingBudget(share=0.5, window=0.05, clock=clock)
    assert budget.delay() == 0.0
    budget.spend(0.03)
    clock.now += 0.03
    assert abs(budget.delay() - 0.02) < 1e-9
    clock.now += 0.02
    assert budget.delay() == 0.0
    assert abs(budget.waited - 0.02) < 1e-9
