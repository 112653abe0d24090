"""The snapshot's user mapping (bundle/usermap.py): Mapping semantics, arrival order, immutability of
what was published, and republishing that copies only what changed."""

from __future__ import annotations

import random

import pytest

from vhctl_hub.snapshot import UserInfo, class_name
from vhctl_hub.usermap import BUCKETS, CHUNK, UserMap, UserTable


def _user(nick: str, share: int = 0) -> UserInfo:
    return UserInfo(nick=nick, user_class=0, class_name=class_name(0), ip="10.0.0.1", host=None,
                    country_code=None, country=None, description="", tag="", speed="", email="",
                    share=share, is_op=False, login_time=None)


def test_published_map_is_a_read_only_mapping_in_arrival_order():
    table = UserTable()
    for i in range(3 * CHUNK):
        table.put(_user(f"u{i}"))
    table.put(_user("u5", share=9))            # an update keeps its place
    assert table.pop("u7") is not None and table.pop("nobody") is None
    users = table.publish()
    expected = [f"u{i}" for i in range(3 * CHUNK) if i != 7]
    assert list(users) == expected and [u.nick for u in users.values()] == expected
    assert [k for k, _ in users.items()] == expected and len(users) == len(expected)
    assert users["u5"].share == 9 and users.get("u7") is None and "u7" not in users and "u8" in users
    assert users.get("u7", "x") == "x" and ("u8", users["u8"]) in users.items() and users["u8"] in users.values()
    assert users == {u.nick: u for u in users.values()} and 42 not in users
    with pytest.raises(KeyError):
        users["u7"]
    with pytest.raises(TypeError):
        users["x"] = _user("x")  # type: ignore[index]


def test_what_was_published_never_changes():
    table = UserTable()
    table.put(_user("alice"))
    before = table.publish()
    table.put(_user("alice", share=5))
    table.put(_user("bob"))
    table.pop("alice")
    assert list(before) == ["alice"] and before["alice"].share == 0 and len(before) == 1
    after = table.publish()
    assert list(after) == ["bob"] and before is not after


def test_publish_without_changes_returns_the_same_map_and_copies_only_changed_parts():
    table = UserTable()
    for i in range(1000):
        table.put(_user(f"u{i}"))
    first = table.publish()
    assert table.publish() is first
    table.put(_user("u500", share=1))
    second = table.publish()
    # sharing is structure, not behaviour: only the maps' private parts show it (no public signal fits)
    shared = sum(a is b for a, b in zip(first._buckets, second._buckets))
    assert shared == BUCKETS - 1  # only the changed user's bucket was copied
    assert sum(a is b for a, b in zip(first._chunks, second._chunks)) == len(first._chunks) - 1


def test_empty_chunks_are_dropped_and_order_survives_churn():
    table = UserTable()
    reference = {}
    rng = random.Random(7)
    for step in range(5000):
        nick = f"n{rng.randrange(400)}"
        if nick in reference and rng.random() < 0.5:
            assert table.pop(nick) == reference.pop(nick)
        else:
            info = _user(nick, share=step)
            table.put(info)
            reference[nick] = info   # a dict keeps the same order: arrival, updates in place
        if step % 97 == 0:
            published = table.publish()
            assert list(published.items()) == list(reference.items())
    published = table.publish()
    assert list(published.items()) == list(reference.items()) and len(published) == len(reference)
    assert len(table.chunk_ids()) == len(published._chunks)  # the table's chunks, each published once
    assert len(published._chunks) <= len(reference)  # no empty chunk is kept (structure: private parts)
    assert all(published[n] is u for n, u in reference.items())


def test_empty_map():
    empty = UserMap()
    assert len(empty) == 0 and list(empty) == [] and empty.get("x") is None and "x" not in empty
    assert UserTable().publish() == {}
