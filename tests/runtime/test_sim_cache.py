"""The hub cache and event feed through the simulator (F23, F49.10, F49.19, F53-F55, F67-F68)."""

from __future__ import annotations

import threading
import time

import pytest
from testkit.runtime import component, free_port, load, ticks, wait_until

from vhctl_hub.reconcile import LIST_PASSES


def _echo(hub, scripts, extra="", command_class=3):
    sid = load(hub, scripts.hub_api(scripts.config(port=free_port(), extra=extra, command_class=command_class)))
    echo = wait_until(lambda: component(hub, sid, "echo").port and component(hub, sid, "echo"))
    return sid, echo


def _echo_on_a_new_hub(make_hub, scripts):
    """(hub, the echo component) on a new hub, after the first OnTimer since the load."""
    hub = make_hub()
    _, echo = _echo(hub, scripts)
    ticks(hub, 1)
    return hub, echo


def _first_complete(hub, echo):
    """The first complete snapshot: the reconciliation that reads the users online before the load
    works under each tick's time budget, so a loaded machine needs more ticks."""
    return wait_until(lambda: echo.ctx.cache.snapshot().complete and echo.ctx.cache.snapshot(), 30, hub)


def _ticks_at(hub, times):
    """OnTimer with the hub's clock (its argument, F38) at ``times``: the cache schedules by it, so
    minutes of a hub pass in milliseconds."""
    for now in times:
        hub.call(hub.plugin.hook, "OnTimer", now)


def _reconcile_at(hub, cache, at):
    """The reconciliation due at ``at`` (the hub's clock), ticked to its end."""
    passes = cache.passes
    _ticks_at(hub, [at])
    assert cache.passes == passes + 1
    steps = 0
    while cache.reconciling:
        steps += 1
        _ticks_at(hub, [at + steps / 10])


def test_users_online_before_the_load_are_reconciled(make_hub, scripts):
    hub = make_hub()
    hub.login("alice", share=1234567890, desc="lab desc", email="a@x", speed="DSL\x01", cc="DE")
    hub.login("boss", user_class=3, share=5)
    _, echo = _echo(hub, scripts)
    snap = _first_complete(hub, echo)
    assert set(snap.users) == {"alice", "boss", "SimMaster"}  # the master loaded us
    alice = snap.users["alice"]
    assert (alice.share, alice.description, alice.email, alice.speed, alice.user_class, alice.class_name,
            alice.is_op, alice.ip, alice.country_code, alice.login_time, alice.host) == \
        (1234567890, "lab desc", "a@x", "DSL", 0, "guest", False, "127.0.0.1", "DE", None, None)
    assert alice.country  # GetIPCN's name for the code
    assert snap.users["boss"].is_op and snap.users["boss"].class_name == "operator"
    assert snap.users_online == hub.call(lambda: hub.users_count) == 3
    assert snap.total_share == 1234567895
    assert {"Verlihub", "OpChat"} <= set(snap.bots) and not set(snap.bots) & set(snap.users)
    assert "boss" in snap.ops
    assert snap.hub_name == "LabHub" and snap.max_users > 0
    assert hub.plugin.vh_calls["GetUserHost"] == 0  # never blocking DNS on the hub thread


def test_F49_19_host_comes_from_the_hub_only_when_its_dns_lookup_is_on(make_hub, scripts):
    """With dns_lookup = 1 the hub resolved each host when the user connected and GetUserHost returns
    it without blocking (script_api.cpp); the cache then reads it. Off (the default): never asked."""
    hub = make_hub(config={"dns_lookup": "1"})
    hub.dns_delay = 0.5                       # a blocking lookup would show in the stats and the time
    hub.login("carol", ip="198.51.100.9", host="carol.example.net")
    _, echo = _echo(hub, scripts)
    _first_complete(hub, echo)
    hub.login("dave", ip="198.51.100.10", host="dave.example.net")
    hub.login("erin", ip="198.51.100.11")      # nothing to resolve it to
    ticks(hub, 1)
    users = echo.ctx.cache.snapshot().users
    assert (users["carol"].host, users["dave"].host, users["erin"].host) == \
        ("carol.example.net", "dave.example.net", None)
    assert hub.plugin.vh_calls["GetUserHost"] >= 3
    assert "GetUserHost" not in hub.plugin.blocking_stats()


def test_hooks_keep_the_cache_current_and_feed_events(make_hub, scripts):
    hub, echo = _echo_on_a_new_hub(make_hub, scripts)
    feed = echo.ctx.events
    cursor = feed.latest_seq()
    bob = hub.login("bob", share=100)
    ticks(hub, 1)  # snapshots are published by OnTimer
    snap = echo.ctx.cache.snapshot()
    assert snap.users["bob"].share == 100 and snap.users["bob"].login_time
    assert snap.total_share == 100 and snap.users_online == 2  # bob and the master
    bob.myinfo(share=250, desc="new desc")
    ticks(hub, 1)
    snap = echo.ctx.cache.snapshot()
    assert (snap.users["bob"].share, snap.users["bob"].description, snap.total_share) == (250, "new desc", 250)
    bob.logout()
    ticks(hub, 1)  # the hub's counter may drop after OnUserLogout (F67); each tick re-reads it
    snap = echo.ctx.cache.snapshot()
    assert "bob" not in snap.users and snap.users_online == 1 and snap.total_share == 0
    events, _ = feed.since(cursor)
    kinds = [(e.kind, e.nick) for e in events]
    assert ("login", "bob") in kinds and ("myinfo", "bob") in kinds and ("logout", "bob") in kinds
    assert [e.data["total_share"] for e in events if e.kind == "stats"][:3] == [100, 250, 0]
    with pytest.raises(TypeError):
        snap.users["x"] = None  # snapshots are read-only


@pytest.mark.parametrize("encoding", ["CP1252", "UTF-8"])
def test_F23_F55_nicks_and_texts_in_either_hub_encoding(make_hub, scripts, encoding):
    hub = make_hub(hub_encoding=encoding)
    _, echo = _echo(hub, scripts, extra="[runtime]\nreconcile_seconds = 1\n", command_class=0)
    ticks(hub, 1)
    jose = hub.login("José", desc="café ☕")
    ticks(hub, 1)
    snap = echo.ctx.cache.snapshot()
    assert snap.users["José"].description == "café ☕"
    reply = hub.call(jose.command_reply, "!echo status")
    assert reply.startswith("echo runs on port")  # the reply found the UTF-8 nick through vh
    if encoding == "CP1252":  # a CP1252 client's non-ASCII nick: the plugin skips the hooks (F23)
        zoe = hub.login("Zoë", encoding="cp1252")
        assert "Zoë" not in echo.ctx.cache.snapshot().users
        wait_until(lambda: "Zoë" in echo.ctx.cache.snapshot().users, hub=hub, timeout=5)
        zoe.logout()
        wait_until(lambda: "Zoë" not in echo.ctx.cache.snapshot().users, hub=hub, timeout=5)


def test_background_readers_need_no_lock_and_break_no_rule(make_hub, scripts):
    hub = make_hub()
    _, echo = _echo(hub, scripts)
    seen = []
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            snap = echo.ctx.cache.snapshot()
            seen.append(len(snap.users))

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    hub.login_many([(f"u{i}", {"share": i}) for i in range(30)])
    wait_until(lambda: seen and seen[-1] == 31, 30, hub)  # the reader saw the 30 arrive, + the master
    stop.set()
    thread.join(2)
    assert max(seen) == 31 and echo.ctx.cache.snapshot().total_share == sum(range(30))  # + the master


def test_F49_14_ops_follow_logins_at_the_next_tick_and_robots_at_the_next_reconciliation(make_hub, scripts):
    hub, echo = _echo_on_a_new_hub(make_hub, scripts)
    cache = echo.ctx.cache
    assert cache.snapshot().complete
    op_lists = hub.plugin.vh_calls["GetOpList"]
    boss, guest = hub.login("boss", user_class=3), hub.login("guest")
    ticks(hub, 1)  # the next OnTimer publishes; no reconciliation since the logins
    snap = cache.snapshot()
    assert "boss" in snap.ops and "guest" not in snap.ops and snap.users["boss"].is_op
    assert hub.plugin.vh_calls["GetOpList"] == op_lists  # O(1) per login: the class it fetched anyway
    boss.logout()
    guest.logout()
    ticks(hub, 1)
    assert "boss" not in cache.snapshot().ops
    assert hub.call(hub.add_robot, "LabBot", 3, "lab bot", "LAN", "", "0")  # no hook tells about robots
    later = time.time()
    for _ in range(LIST_PASSES):   # the nick list shows it at least every LIST_PASSES reconciliations
        later += 60   # runtime.reconcile_seconds
        _reconcile_at(hub, cache, later)
    snap = cache.snapshot()
    assert "LabBot" in snap.bots and "LabBot" in snap.ops and "LabBot" not in snap.users
    assert list(snap.ops) == hub.call(hub.op_list)  # the hub's own order
    assert hub.call(hub.del_robot, "LabBot")
    for _ in range(LIST_PASSES):
        later += 60
        _reconcile_at(hub, cache, later)
    assert "LabBot" not in cache.snapshot().bots + cache.snapshot().ops


def test_snapshots_are_published_by_OnTimer_and_only_after_a_change(make_hub, scripts):
    hub, echo = _echo_on_a_new_hub(make_hub, scripts)
    cache = echo.ctx.cache
    first = cache.snapshot()
    carol = hub.login("carol", share=7)
    carol.myinfo(share=8)
    assert cache.snapshot() is first              # hooks change the cache, not the published snapshot
    ticks(hub, 1)
    second = cache.snapshot()
    assert second is not first and second.users["carol"].share == 8 and "carol" not in first.users
    ticks(hub, 3)
    assert cache.snapshot() is second             # nothing changed: nothing new to read (API caches stay)
    carol.logout()
    ticks(hub, 1)
    assert "carol" not in cache.snapshot().users and second.users["carol"].share == 8


def test_reconciliation_catches_what_no_hook_tells(make_hub, scripts):
    """A class change of an online user, and MyINFO changes of a client whose text is not UTF-8 (the
    plugin skips its hooks, F23), reach the cache at a later reconciliation."""
    hub = make_hub(hub_encoding="CP1252")
    carl = hub.login("carl")
    _, echo = _echo(hub, scripts, extra="[runtime]\nreconcile_seconds = 1\n")
    cache = echo.ctx.cache
    zoe = hub.login("Zoë", share=5, encoding="cp1252")
    wait_until(lambda: "Zoë" in cache.snapshot().users, hub=hub)
    zoe.myinfo(share=77)
    hub.call(setattr, hub.user("carl"), "cls", 2)   # no hook tells about a class change (F65)
    wait_until(lambda: cache.snapshot().users["Zoë"].share == 77 and cache.snapshot().users["carl"].user_class == 2,
               hub=hub)
    assert cache.snapshot().users["carl"].class_name == "vip" and carl.connected


def test_F53_a_nick_vh_cannot_address_starts_no_reconciliation_again(make_hub, scripts):
    hub = make_hub(hub_encoding="CP1252")
    _, echo = _echo(hub, scripts, extra="[runtime]\nreconcile_seconds = 3600\n")
    ticks(hub, 1)
    cache = echo.ctx.cache
    hub.login("名前", share=1, encoding="utf-8")   # listed and counted by the hub, unknown to vh in CP1252
    hub.login("after", share=2)
    start = time.time()
    passes = cache.passes
    _ticks_at(hub, [start + 10 * k for k in range(1, 31)])   # 5 minutes of the hub's clock
    assert cache.passes == passes
    assert cache.summary()["unfetchable"] == 1 and "after" in cache.snapshot().users
    for k in range(1, LIST_PASSES + 1):   # periodic passes; one compares the nick list and finds it again
        _reconcile_at(hub, cache, start + 3600 * k)
    assert cache.summary()["unfetchable"] == 1
    passes = cache.passes
    _ticks_at(hub, [start + 3600 * LIST_PASSES + 10 * k for k in range(1, 31)])
    assert cache.passes == passes


def test_F67_reconciliations_that_change_nothing_back_off(make_hub, scripts):
    """The hub counts users still logging in (F67) that no list shows: early reconciliations for that
    mismatch come less and less often instead of every EARLY_RECONCILE_GAP."""
    hub = make_hub()
    _, echo = _echo(hub, scripts, extra="[runtime]\nreconcile_seconds = 600\n")
    ticks(hub, 1)
    cache = echo.ctx.cache
    hub.call(setattr, hub, "users_count", hub.users_count + 1)   # a connection half logged in
    try:
        start = time.time()
        passes = cache.passes
        _ticks_at(hub, [start + k for k in range(1, 301)])   # one tick per second for 5 minutes
        assert 3 <= cache.passes - passes <= 7   # 5, 10, 20, 40, 80, 160 s apart; without the back-off: 60
    finally:
        hub.call(setattr, hub, "users_count", hub.users_count - 1)


def test_snapshots_are_numbered_and_say_which_hub_events_they_show(make_hub, scripts):
    """What the demo's readiness (and /health) rests on: every login, logout and MyINFO the hooks
    report is counted at once, and the next OnTimer publishes a snapshot that shows it, even one
    that changes nothing a reader sees."""
    hub = make_hub()
    _, echo = _echo(hub, scripts)
    cache = echo.ctx.cache
    first = _first_complete(hub, echo)
    assert first.current and first.seq >= 1
    carol = hub.login("carol", share=5)
    assert not cache.snapshot().current            # the hook counted it; no tick published it yet
    ticks(hub, 1)
    after_login = cache.snapshot()
    assert after_login.current and after_login.seq > first.seq and "carol" in after_login.users
    carol.myinfo(share=5)                           # the same MyINFO again: shows no change
    ticks(hub, 1)
    same = cache.snapshot()
    assert same.current and same.seq == after_login.seq + 1 and same.events == after_login.events + 1
    assert same.users["carol"] == after_login.users["carol"]
    carol.logout()
    ticks(hub, 1)
    last = cache.snapshot()
    assert last.current and last.seq > same.seq and last.events > same.events
    assert "carol" not in last.users
    ticks(hub, 1)
    assert cache.snapshot() is last                 # nothing new: nothing republished
