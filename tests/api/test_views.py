"""The pre-rendered bodies (bundle/api/views.py) over hand-made snapshots: shapes, privacy, caching."""

from __future__ import annotations

import json
from dataclasses import replace

from testkit.api import snapshot, user

from vhctl_hub.api.views import UserJson, Views, format_size, iso_utc


def test_A10_sizes_are_formatted_like_the_seed():
    assert format_size(11111111100) == "10.35 GB"
    assert format_size(1234567890) == "1.15 GB"
    assert format_size(0) == "0.00 B"
    assert format_size(1023) == "1023.00 B"
    assert format_size(2 ** 70) == "1024.00 EB"


def test_timestamps_are_timezone_aware_utc():
    assert iso_utc(0.5) == "1970-01-01T00:00:00.500+00:00"
    assert iso_utc(None) is None


def test_F63_user_shape_has_the_seed_fields_and_private_fields_only_with_token():
    alice = user("alice", share=1234567890)
    view = Views(lambda: snapshot([alice])).current()
    public = json.loads(view.user("alice", private=False)[0])
    private = json.loads(view.user("alice", private=True)[0])
    seed_fields = {"nick", "class", "class_name", "ip", "host", "country_code", "country", "description",
                   "tag", "email", "share", "share_formatted"}
    assert seed_fields <= set(public) and set(public) == set(private)
    assert public["share"] == 1234567890 and public["share_formatted"] == "1.15 GB"
    assert (public["ip"], public["host"], public["email"]) == (None, None, None)
    assert (private["ip"], private["host"], private["email"]) == ("10.1.2.3", "host.example",
                                                                  "alice@example.invalid")
    assert public["login_time"] == "2026-11-24T21:16:56.500+00:00"


def test_pages_are_slices_in_login_order_with_totals():
    users = [user(f"u{i}", share=i) for i in range(10)]
    view = Views(lambda: snapshot(users)).current()
    page = json.loads(view.users_page(8, 5, False)[0])
    assert [u["nick"] for u in page["users"]] == ["u8", "u9"]
    assert (page["count"], page["total"], page["offset"], page["limit"]) == (2, 10, 8, 5)
    assert page["next_offset"] is None
    assert json.loads(view.users_page(0, 3, False)[0])["next_offset"] == 3
    assert json.loads(view.users_page(10 ** 30, 3, False)[0])["users"] == []


def test_users_are_serialized_once_per_object_across_snapshots():
    """Per request no work proportional to the user count: unchanged users keep their bytes."""
    alice, bob = user("alice"), user("bob")
    current = {"snap": snapshot([alice, bob])}
    views = Views(lambda: current["snap"])
    first = views.current().user("alice", False)[0]
    current["snap"] = snapshot([alice, replace(bob, share=5)])
    second_view = views.current()
    assert second_view.user("alice", False)[0] is first          # same object, same bytes object
    assert json.loads(second_view.user("bob", False)[0])["share"] == 5


def test_user_cache_forgets_users_gone_long_ago():
    cache = UserJson()
    live = {}
    for generation in range(5):
        live = {f"g{generation}-{i}": user(f"g{generation}-{i}") for i in range(100)}
        for u in live.values():
            cache.get(u, False)
        cache.prune(live)
    assert len(cache) <= 2 * len(live) + 64


def test_bodies_are_memoized_per_snapshot_with_content_etags():
    snap = snapshot([user("alice")])
    views = Views(lambda: snap)
    body, etag = views.current().users_page(0, 10, False)
    assert views.current().users_page(0, 10, False)[0] is body
    assert etag.startswith('"') and etag != views.current().users_page(0, 10, True)[1]


def test_F67_F68_stats_and_share_use_the_hubs_counters_not_the_sum_of_listed_users():
    users = [user("alice", share=1234567890), user("bob", share=9876543210)]
    snap = snapshot(users, users_online=3, total_share=11111111100 + 500)
    view = Views(lambda: snap).current()
    stats = json.loads(view.stats(1795555016.0, 0.5))
    assert stats["users_online"] == 3 and stats["total_share_bytes"] == 11111111600
    assert stats["total_share"] == "10.35 GB" and stats["listed_users"] == 2 and stats["bots"] == 2
    assert stats["timestamp"].endswith("+00:00") and stats["cache_age"] == 0.5
    share = json.loads(view.share()[0])
    assert share["total"] == 11111111600 and share["average"] == 11111111600 // 3
    assert share["listed_users_total"] == 11111111100


def test_geo_counts_users_per_country_sorted():
    users = [user("a", country_code="DE", country="Germany"), user("b", country_code="DE", country="Germany"),
             user("c", country_code="AT", country="Austria"), user("d", country_code=None, country=None)]
    geo = json.loads(Views(lambda: snapshot(users)).current().geo()[0])
    assert geo == {"total_countries": 2, "unknown": 1, "distribution": [
        {"country_code": "DE", "country": "Germany", "users": 2},
        {"country_code": "AT", "country": "Austria", "users": 1}]}


def test_A5_bots_are_listed_apart_and_ops_include_op_bots():
    snap = snapshot([user("Master", cls=10), user("alice")])
    view = Views(lambda: snap).current()
    ops = json.loads(view.ops(False)[0])
    assert [o["nick"] for o in ops["ops"]] == ["Master"] and ops["bots"] == ["Verlihub", "OpChat"]
    assert json.loads(view.bots()[0]) == {"count": 2, "bots": [{"nick": "Verlihub", "op": True},
                                                               {"nick": "OpChat", "op": True}]}
    assert "Verlihub" not in [u["nick"] for u in json.loads(view.users_page(0, 10, False)[0])["users"]]


def test_lone_surrogates_in_hub_text_do_not_break_the_json():
    odd = user("odd", description="bad \udcff byte")
    body = Views(lambda: snapshot([odd])).current().user("odd", False)[0]
    assert json.loads(body)["description"] == "bad ? byte"
