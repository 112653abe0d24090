"""The body of a factory fixture, written once: hand the test a ``make`` that remembers what it
made, and close each of those at teardown, in the order made."""

from __future__ import annotations

from typing import Any, Callable, Iterator, List, TypeVar

T = TypeVar("T")


def closing_factory(make: Callable[..., T], close: Callable[[T], Any]) -> Iterator[Callable[..., T]]:
    """``yield from closing_factory(make, close)`` in a fixture: the test gets ``make``; whatever it
    made is closed with ``close`` once the test is done, whether it passed or not."""
    made: List[T] = []

    def tracked(*args: Any, **kwargs: Any) -> T:
        made.append(make(*args, **kwargs))
        return made[-1]

    yield tracked
    for item in made:
        close(item)
