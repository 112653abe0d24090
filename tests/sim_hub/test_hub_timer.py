"""The hub timer (F36-F38, A8): OnTimer with Unix seconds every ``timer_period`` plus the loop's
overhead, late ticks skipped and never queued; the thread-safe hand-off."""

from __future__ import annotations

import time
from typing import Callable

from vhctl.sim.hub import Hub


def _ticks_reach(hub: Hub, count: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while len(hub.plugin.of("OnTimer")) < count:
        assert time.monotonic() < deadline, hub.plugin.of("OnTimer")
        time.sleep(0.01)


def test_F36_timer_period_and_skipped_ticks(make_hub: Callable[..., Hub]) -> None:
    hub = make_hub(timer_period=0.1)
    _ticks_reach(hub, 4)
    stamps = [a[0] for a in hub.plugin.of("OnTimer")]
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    assert all(gap >= 0.099 for gap in gaps), gaps     # never early (ms resolution)
    hub.call(time.sleep, 0.5)                          # the hub thread is busy for 5 periods
    before = len(hub.plugin.of("OnTimer"))
    _ticks_reach(hub, before + 3)                      # three more periods after the busy one
    late = [a[0] for a in hub.plugin.of("OnTimer")][before:]
    assert all(b - a >= 0.099 for a, b in zip(late, late[1:])), late  # skipped, not made up for


def test_timer_period_can_change_while_running(make_hub: Callable[..., Hub]) -> None:
    hub = make_hub(timer_period=3600)
    hub.tick()
    count = len(hub.plugin.of("OnTimer"))
    hub.timer_period = 0.02
    hub.call(lambda: None)
    _ticks_reach(hub, count + 3)  # an hour's period would give none


def test_call_from_many_threads(hub: Hub) -> None:
    import threading

    results: list[int] = []

    def worker(i: int) -> None:
        results.append(hub.call(lambda: i * 2))
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [i * 2 for i in range(20)]


def test_stop_leaves_no_thread_and_no_port(make_hub: Callable[..., Hub]) -> None:
    import socket
    import threading

    hub = make_hub(listen_port=0)
    port = hub.port
    hub.login("alice")
    hub.stop()
    assert not any(t.name == "vh-hub-main" and t.is_alive() for t in threading.enumerate())
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
    assert hub.plugin.closed


def test_A1_keepalive_pipe_after_60_idle_seconds(hub: Hub) -> None:
    alice, bob = hub.login("alice"), hub.login("bob")
    alice.clear(), bob.clear()
    hub.call(lambda: setattr(alice.conn, "last_send", alice.conn.last_send - 61))
    hub.tick()
    assert alice.received == b"|" and bob.received == b""


def test_login_timeout_closes_half_logged_in_connections(hub: Hub) -> None:
    from vhctl.sim.hub import CR_TIMEOUT, LOGIN_TIMEOUT_SECONDS
    from vhctl.sim.users import SimTransport

    conn = hub.call(hub.new_conn, SimTransport(), "127.0.0.1", None, False)
    hub.call(lambda: setattr(conn, "connected_at", conn.connected_at - LOGIN_TIMEOUT_SECONDS - 1))
    hub.tick()
    assert conn.closed and conn.close_reason == CR_TIMEOUT


def test_stop_twice_and_before_start(tmp_path) -> None:
    from testkit.simhub import RecordingPlugin

    never = Hub(tmp_path / "never", plugin_factory=RecordingPlugin)
    never.stop()
    never.stop()
    assert never.plugin.closed


def test_F17_shutdown_calls_OnUnLoad_but_stop_does_not_A2(make_hub: Callable[..., Hub]) -> None:
    quiet, orderly = make_hub(), make_hub()
    quiet.stop()
    orderly.shutdown(3)
    assert not quiet.plugin.of("OnUnLoad")
    assert orderly.plugin.of("OnUnLoad") == [(3,)]
    assert not orderly.running
