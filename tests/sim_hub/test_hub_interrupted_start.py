"""A Ctrl-C can land anywhere in `vhctl demo`'s start-up, also inside the simulated hub's start,
before its main thread ran: the stop that follows must then close what the hub opened (its
listening port) instead of failing on a thread that never started."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from vhctl.sim.hub import Hub


def _refused(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_a_hub_whose_main_thread_never_started_stops_cleanly_and_frees_its_port(tmp_path: Path,
                                                                                monkeypatch) -> None:
    def interrupted(_thread: threading.Thread) -> None:
        raise KeyboardInterrupt  # what SIGINT raises in the main thread, just before the start

    hub = Hub(tmp_path / "hub", listen_port=0)
    monkeypatch.setattr(threading.Thread, "start", interrupted)
    with pytest.raises(KeyboardInterrupt):
        hub.start()
    monkeypatch.undo()
    assert hub.port and not _refused(hub.port)  # the port was opened before the thread
    hub.shutdown(0)
    assert _refused(hub.port)


def test_a_hub_never_started_stops_without_error(tmp_path: Path) -> None:
    Hub(tmp_path / "hub", listen_port=0).shutdown(0)
