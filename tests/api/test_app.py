"""Every endpoint and error of the app over hand-made snapshots, served by a real uvicorn on
127.0.0.1 and queried with real HTTP requests; the token comes from a real file keyring."""

from __future__ import annotations

import json
import time
from urllib.parse import quote

import pytest
from prometheus_client.parser import text_string_to_metric_families
import requests
from testkit.api import snapshot, user

from vhctl_hub import secrets as vault

TOKEN_ONLY = ("/api/auth",)
PUBLIC_API = ("/api/hub", "/api/stats", "/api/users", "/api/user/alice", "/api/ops", "/api/bots", "/api/geo",
              "/api/share", "/metrics")


@pytest.fixture
def lab(standalone):
    """The A10 lab hub: Master (share 0), alice and bob with the lab shares, two bots."""
    users = [user("Master", cls=10), user("alice", share=1234567890), user("bob", share=9876543210)]
    return standalone(snapshot(users))


@pytest.fixture
def token(keyring_dir, lab):
    value = vault.new_token()
    vault.store_token(value)
    lab.keeper.refresh()
    return value


def test_A10_root_lists_the_endpoints_and_docs_work(lab):
    root = lab.get("/").json()
    for path in ("/api/hub", "/api/stats", "/api/users?limit=N&offset=N", "/api/user/{nick}", "/api/geo",
                 "/api/share", "/health", "/docs", "/metrics", "/api/events"):
        assert path in root["endpoints"]
    assert lab.get("/docs").status_code == 200
    schema = lab.get("/openapi.json").json()
    assert "/api/user/{nick}" in schema["paths"] and "GetTotalShareSize" in schema["info"]["description"]


def test_A10_seed_fields_of_hub_stats_users_geo_share(lab):
    hub = lab.get("/api/hub").json()
    assert {k: hub[k] for k in ("name", "description", "topic", "max_users", "version")} == {
        "name": "LabHub", "description": "A lab hub", "topic": "", "max_users": 6000, "version": "1.7.0.0"}
    stats = lab.get("/api/stats").json()
    assert stats["users_online"] == 3 and stats["max_users"] == 6000 and stats["hub_name"] == "LabHub"
    assert stats["total_share"] == "10.35 GB" and stats["total_share_bytes"] == 11111111100
    assert stats["cache_age"] == 0.25 and stats["timestamp"].endswith("+00:00")
    users = lab.get("/api/users?limit=1&offset=1").json()
    assert (users["count"], users["total"], [u["nick"] for u in users["users"]]) == (1, 3, ["alice"])
    assert lab.get("/api/geo").json()["distribution"] == [
        {"country_code": "L1", "country": "Local Network", "users": 3}]
    assert lab.get("/api/share").json()["total_formatted"] == "10.35 GB"
    assert lab.get("/health").json()["status"] == "healthy"


def test_A10_unknown_user_is_a_clear_404(lab):
    answer = lab.get("/api/user/nobody")
    assert answer.status_code == 404 and answer.json() == {"detail": "User 'nobody' not found"}


NICKS = ["Jürgen", "名前", "emoji😀", "[ISP]nick", "a&b", "100%", "x?y#z", "a/b", "back\\slash",
         "semi;colon", "plus+sign", "dollar&#36;escaped"]


def test_F23_non_ascii_and_special_nicks_work_percent_encoded(standalone):
    api = standalone(snapshot([user(nick, share=7) for nick in NICKS]))
    for nick in NICKS:
        answer = api.get("/api/user/" + quote(nick, safe=""))
        assert answer.status_code == 200, (nick, answer.text)
        assert answer.json()["nick"] == nick
        missing = api.get("/api/user/" + quote(nick + "x", safe=""))
        assert missing.status_code == 404 and missing.json() == {"detail": f"User '{nick}x' not found"}


@pytest.mark.parametrize("query, field", [
    ("limit=-1", "limit"), ("offset=-5", "offset"), ("limit=abc", "limit"), ("offset=1.5", "offset"),
    ("limit=1e3", "limit"), ("limit=" + "9" * 5000, "limit")])
def test_bad_query_values_are_a_clear_422_never_a_500(lab, query, field):
    answer = lab.get("/api/users?" + query)
    assert answer.status_code == 422
    body = answer.json()
    assert body["message"].startswith(f"{field}: ") and body["detail"][0]["loc"] == ["query", field]


@pytest.mark.parametrize("limit", ["1001", "99999999999999999999999999999999", str(10 ** 4000)])
def test_huge_limit_is_capped_at_max_limit(standalone, limit):
    api = standalone(snapshot([user(f"u{i}") for i in range(1200)]))
    body = api.get("/api/users?limit=" + limit).json()
    assert body["limit"] == 1000 and body["count"] == 1000 and body["total"] == 1200
    assert api.get("/api/users").json()["count"] == 1000  # the default is the cap too


def test_max_limit_setting_is_the_cap(standalone):
    api = standalone(snapshot([user(f"u{i}") for i in range(30)]), max_limit=10)
    assert api.get("/api/users?limit=25").json()["count"] == 10
    assert api.get("/api/users?limit=0").json()["users"] == []
    assert api.get(f"/api/users?offset={10 ** 40}").json()["users"] == []


def test_private_fields_only_with_the_token(lab, token):
    public = lab.get("/api/user/alice").json()
    private = lab.get("/api/user/alice", token).json()
    assert (public["ip"], public["host"], public["email"]) == (None, None, None)
    assert (private["ip"], private["email"]) == ("10.1.2.3", "alice@example.invalid")
    assert lab.get("/api/users", token).json()["users"][1]["ip"] == "10.1.2.3"
    assert lab.get("/api/ops", token).json()["ops"][0]["email"] == "Master@example.invalid"
    assert lab.get("/api/auth", token).json()["authenticated"] is True


@pytest.mark.parametrize("header", ["Bearer wrong", "Bearer ", "Basic dXNlcjpwYXNz", "token", "Bearer a b"])
def test_wrong_or_malformed_token_is_401_with_a_clear_body(lab, token, header):
    for path in PUBLIC_API + TOKEN_ONLY:
        answer = lab.get(path, Authorization=header)
        assert answer.status_code == 401, (path, answer.text)
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        detail = answer.json()["detail"]
        assert detail == "invalid API token" or "Authorization: Bearer <token>" in detail
        assert token not in answer.text


def test_token_only_endpoint_without_token_is_401_and_public_ones_are_200(lab, token):
    answer = lab.get("/api/auth")
    assert answer.status_code == 401 and "Authorization: Bearer <token>" in answer.json()["detail"]
    for path in PUBLIC_API + ("/health", "/"):
        assert lab.get(path).status_code == 200, path


def test_health_ignores_even_a_wrong_token(lab, token):
    assert lab.get("/health", "wrong").status_code == 200


def test_keyring_unavailable_serves_public_data_and_says_why_on_401(standalone, monkeypatch):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    api = standalone(snapshot([user("alice", share=1)]))
    assert api.keeper.state.startswith("keyring unavailable: ")
    assert [line for line in api.logs if "keyring unavailable" in line] and len(api.logs) == 1
    assert api.get("/api/user/alice").json()["ip"] is None
    answer = api.get("/api/user/alice", "anything")
    assert answer.status_code == 401 and "keyring unavailable" in answer.json()["detail"]


def test_etag_and_if_none_match_give_304_until_the_snapshot_changes(lab):
    for path in ("/api/users", "/api/user/alice", "/api/geo", "/api/ops", "/api/bots", "/api/share",
                 "/api/hub"):
        first = lab.get(path)
        etag = first.headers["ETag"]
        again = lab.get(path, **{"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == etag
        assert lab.get(path, **{"If-None-Match": f'"other", W/{etag}'}).status_code == 304
        assert lab.get(path, **{"If-None-Match": '"other"'}).status_code == 200
    etag = lab.get("/api/users").headers["ETag"]
    lab.snapshot = snapshot([user("carol")])
    assert lab.get("/api/users", **{"If-None-Match": etag}).status_code == 200


def test_etag_differs_with_and_without_the_token(lab, token):
    public, private = lab.get("/api/users"), lab.get("/api/users", token)
    assert public.headers["ETag"] != private.headers["ETag"]
    assert private.headers["Cache-Control"].startswith("private")
    assert "Authorization" in public.headers["Vary"]


def test_cors_is_off_by_default(lab):
    answer = lab.get("/api/stats", Origin="http://evil.example")
    assert "access-control-allow-origin" not in {k.lower() for k in answer.headers}


def test_cors_only_for_configured_origins(standalone):
    api = standalone(snapshot([]), cors_origins=("http://dash.example",))
    assert api.get("/api/stats", Origin="http://dash.example").headers["access-control-allow-origin"] == \
        "http://dash.example"
    assert "access-control-allow-origin" not in api.get("/api/stats", Origin="http://evil.example").headers


def test_metrics_are_prometheus_text_with_requests_by_route_and_hook_times(lab):
    lab.health = {"hooks": {"OnTimer": {"count": 10, "avg_us": 40.0, "max_us": 300.0, "total_ms": 0.4}},
                  "lag": {"queue_len": 2, "oldest_age_s": 0.5, "last_tick_age_s": 0.3}}
    lab.get("/api/user/alice")
    lab.get("/api/user/nobody")
    lab.get("/no/such/path")
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(lab.get("/metrics").text) for s in family.samples}
    assert samples[("vhctl_hub_users_online", ())] == 3
    assert samples[("vhctl_hub_total_share_bytes", ())] == 11111111100
    route = lambda endpoint, status: ("vhctl_api_requests_total", (("endpoint", endpoint), ("status", status)))  # noqa: E731
    assert samples[route("/api/user/{nick}", "200")] == samples[route("/api/user/{nick}", "404")] == 1
    assert samples[route("other", "404")] == 1
    assert samples[("vhctl_hub_hook_calls_total", (("hook", "OnTimer"),))] == 10
    assert samples[("vhctl_hub_hook_seconds_total", (("hook", "OnTimer"),))] == 0.0004
    assert samples[("vhctl_hub_queue_length", ())] == 2 and samples[("vhctl_api_cache_age_seconds", ())] == 0.25
    assert ("vhctl_api_paused_seconds_total", ()) in samples
    assert lab.get("/metrics").headers["content-type"].startswith("text/plain; version=0.0.4")


def test_no_endpoint_probes_other_hosts(lab):
    paths = lab.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if any(w in p for w in ("trace", "ping", "nmap", "scan", "os"))]


def _read_events(answer, wanted: int, timeout: float = 10.0):
    events, buffer = [], ""
    deadline = time.monotonic() + timeout
    for chunk in answer.iter_content(chunk_size=None, decode_unicode=True):
        buffer += chunk
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            data = [line[6:] for line in block.splitlines() if line.startswith("data: ")]
            if data:
                events.append(json.loads(data[0]))
        if len(events) >= wanted or time.monotonic() > deadline:
            break
    return events


def test_events_stream_logins_logouts_and_stats_without_private_fields(lab):
    with requests.get(lab.url + "/api/events", stream=True, timeout=10) as answer:
        assert answer.headers["content-type"].startswith("text/event-stream")
        lab.feed.publish("login", "carol", user=user("carol", share=5).to_dict())
        lab.feed.publish("stats", None, users_online=4, total_share=5)
        lab.feed.publish("chat", "carol", text="hi &#36;1")
        lab.feed.publish("logout", "carol")
        events = _read_events(answer, 3)
    assert [e["kind"] for e in events] == ["login", "stats", "logout"]
    assert events[0]["user"]["nick"] == "carol" and events[0]["user"]["ip"] is None
    assert events[0]["at"].endswith("+00:00") and events[1]["users_online"] == 4


def test_events_chat_only_with_token_and_chat_events_on(standalone, keyring_dir):
    vault.store_token("tok-" + vault.new_token())
    api = standalone(snapshot([]), chat_events=True)
    token = vault.read_token()
    with requests.get(api.url + "/api/events", stream=True, timeout=10,
                      headers={"Authorization": f"Bearer {token}"}) as answer:
        api.feed.publish("chat", "carol", text="hi &#36;1 &#124; x")
        api.feed.publish("login", "dave", user=user("dave").to_dict())
        events = _read_events(answer, 2)
    assert events[0] == {**events[0], "kind": "chat", "text": "hi $1 | x"}
    assert events[1]["user"]["ip"] == "10.1.2.3"


def test_events_resume_after_last_event_id(lab):
    for i in range(3):
        lab.feed.publish("logout", f"u{i}")
    with requests.get(lab.url + "/api/events", stream=True, timeout=10,
                      headers={"Last-Event-ID": "1"}) as answer:
        events = _read_events(answer, 2)
    assert [e["nick"] for e in events] == ["u1", "u2"]


def test_stop_ends_event_streams_and_frees_the_port(standalone):
    api = standalone(snapshot([]))
    port = int(api.url.rsplit(":", 1)[1])
    answer = requests.get(api.url + "/api/events", stream=True, timeout=10)
    started = time.monotonic()
    api.close()
    assert time.monotonic() - started < 3
    answer.close()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/health", timeout=2)


def test_head_is_answered_like_get_without_a_body(lab):
    for path in ("/health", "/api/stats", "/api/users", "/api/hub", "/metrics", "/api/events"):
        got = requests.get(lab.url + path, stream=path == "/api/events", timeout=10)
        head = requests.head(lab.url + path, timeout=10)
        assert head.status_code == got.status_code == 200, path
        assert head.content == b"" and head.headers["content-type"] == got.headers["content-type"], path
        got.close()


def test_next_offset_is_null_when_the_page_does_not_move_on(lab):
    assert lab.get("/api/users?limit=0").json()["next_offset"] is None
    page = lab.get("/api/users?limit=1").json()
    assert page["next_offset"] == (1 if page["total"] > 1 else None)


def test_docs_and_redoc_work_offline_from_assets_in_the_venv(lab):
    for page, asset in (("/docs", "/docs/assets/swagger-ui-bundle.js"), ("/redoc", "/docs/assets/redoc.standalone.js")):
        html = lab.get(page).text
        assert asset in html and "https://" not in html.replace("https://fastapi", ""), page
        body = lab.get(asset)
        assert body.status_code == 200 and len(body.content) > 100_000
    assert lab.get("/docs/assets/../../etc/passwd").status_code == 404
