"""Simulated users in bulk: login storms, chat floods, MyINFO changes and mass logouts keep the
counters and lists right (no timing assertions here; speed is a bench/ matter)."""

from __future__ import annotations

from typing import Callable

from vhctl.sim.hub import Hub

N = 2000


def test_login_storm_of_2000_users(make_hub: Callable[..., Hub]) -> None:
    hub = make_hub(chat_rules=False)
    watcher = hub.login("watcher", share=0)
    users = hub.login_many((f"user{i:04d}", {"share": i, "record": False}) for i in range(N))
    assert all(u.connected for u in users)
    assert hub.call(lambda: hub.users_count) == N + 1
    assert hub.call(lambda: hub.total_share) == sum(range(N))
    assert len(hub.call(hub.state.nick_list)) == N + 3
    assert watcher.received.count(b"$MyINFO $ALL user") == N
    assert users[5].received == b""            # recording off: the hub sent it nothing
    late = hub.login("late", share=0)
    assert late.received.count(b"$MyINFO $ALL user") == N    # the full info list

    def flood() -> None:
        for i, user in enumerate(users[:500]):
            user.say(f"flood {i}")
            user.myinfo(share=1)
    hub.call(flood)
    assert watcher.messages()[-1] == "<user0499> flood 499"
    assert hub.call(lambda: hub.total_share) == sum(range(500, N)) + 500

    hub.call(lambda: [u.logout() for u in users])
    assert watcher.received.count(b"$Quit user") == N
    assert hub.call(lambda: (hub.users_count, hub.total_share)) == (2, 0)
    assert hub.call(hub.state.nick_list) == ["Verlihub", "OpChat", "watcher", "late"]


def test_storm_hooks_fire_for_every_user(hub: Hub) -> None:
    hub.login_many((f"u{i}", {"record": False}) for i in range(300))
    assert len(hub.plugin.of("OnUserLogin")) == 300
    assert len(hub.plugin.of("OnParsedMsgAny")) == 900
