"""The reader thread on its own against the stand-in (in this process, so its timing constants can
be shortened): a silent link is found dead by our pings and replaced; the greeting is recognised
wherever it comes."""

from __future__ import annotations

import threading
from typing import Any, Iterator, List, Tuple

import pytest

from testkit.bridge import wait_until

from vhctl_hub.bridge import reader as reader_module
from vhctl_hub.bridge.backoff import Backoff
from vhctl_hub.bridge.link import Link, LinkReport
from vhctl_hub.bridge.reader import Reader
from vhctl_hub.status import StatusBoard


@pytest.fixture
def run_reader(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setattr(reader_module, "PING_EVERY", 0.5)
    monkeypatch.setattr(reader_module, "PING_TIMEOUT", 0.5)
    started: List[Tuple[Reader, threading.Event, threading.Thread]] = []

    def start(mb: Any) -> Tuple[Reader, StatusBoard, List[dict]]:
        board, got, stop = StatusBoard("bridge"), [], threading.Event()
        reader = Reader(Link(mb.url, "gateway1", ""), LinkReport(board, "in"), Backoff(0.1, 0.5),
                        got.append, stop, lambda line: None)
        thread = threading.Thread(target=reader.run, daemon=True)
        thread.start()
        started.append((reader, stop, thread))
        return reader, board, got

    yield start
    for reader, stop, thread in started:
        stop.set()
        reader.close()
        thread.join(5)
        assert not thread.is_alive()


def counter(board: StatusBoard, name: str) -> int:
    return board.get("counters").get(name, 0)


def test_a_silent_link_is_dead_and_replaced_M79_M85(standin, run_reader):
    mb = standin()
    _, board, got = run_reader(mb)
    wait_until(lambda: mb.ws_clients == 1 and counter(board, "in_connects") == 1)
    mb.blackhole(True)  # no frames, no pongs: only our pings can tell
    wait_until(lambda: counter(board, "in_disconnects") >= 1)
    mb.blackhole(False)
    wait_until(lambda: board.get("in_state") == "connected" and counter(board, "in_connects") >= 2, 20)
    mb.inject("after the silence", "bob")
    wait_until(lambda: [m["text"] for m in got] == ["after the silence"])


def test_the_greeting_is_recognised_when_it_comes_second_M67(standin, run_reader):
    mb = standin(late_greeting=1.0, late_greeting_window=5.0)
    _, board, got = run_reader(mb)
    wait_until(lambda: mb.ws_clients == 1)
    mb.inject("before the greeting", "bob")
    wait_until(lambda: board.get("in_greeted"))
    assert [m["text"] for m in got] == ["before the greeting"]
