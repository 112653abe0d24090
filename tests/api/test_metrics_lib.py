"""``/metrics`` written by prometheus-client: it parses back to the hub's exact values, each app has a
registry of its own (never the library's global one), it serves in both plugin modes and across
reloads (A24), and the lowest version the requirements allow writes the same samples."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import prometheus_client
import pytest
from testkit.api import get, snapshot, user, wait_until
from testkit.cli import REPO
from testkit.lowest_versions import install_lowest
from prometheus_client.parser import text_string_to_metric_families

from vhctl_hub.api.metrics import Exposition, Reading, RequestCounter

LAB = [user("Master", cls=10), user("alice", share=1234567890), user("bob", share=9876543210)]
HEALTH = {"hooks": {"OnTimer": {"count": 10, "total_ms": 0.4, "max_us": 300.0}},
          "lag": {"queue_len": 2, "oldest_age_s": 0.5, "last_tick_age_s": 0.3}}
#: Renders a fixed reading with whichever prometheus_client is first on sys.path; prints it as JSON.
RENDER_FIXED = r'''
import json, sys
sys.path.insert(0, sys.argv[1])
import prometheus_client
from testkit.api import snapshot, user
from vhctl_hub.api.metrics import Exposition, Reading, RequestCounter
counter = RequestCounter()
counter.record("/api/user/{nick}", 200)
health = json.loads(sys.argv[2])
reading = Reading(snapshot([user("alice", share=1234567890)]), 0.25, counter, health, 0.125)
print(json.dumps({"from": prometheus_client.__file__, "text": Exposition(lambda: reading).render().decode()}))
'''


def samples(text: str) -> dict:
    """``{(name, sorted labels): value}`` as Prometheus reads the exposition."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_the_exposition_parses_back_to_the_hubs_exact_values(standalone):
    api = standalone(snapshot(LAB))
    api.health = HEALTH
    api.get("/api/user/alice")
    api.get("/api/user/nobody")
    answer = api.get("/metrics")
    assert answer.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    found = samples(answer.text)
    assert found[("vhctl_hub_users_online", ())] == 3 and found[("vhctl_hub_bots", ())] == 2
    assert found[("vhctl_hub_total_share_bytes", ())] == 11111111100  # exact: far below 2**53
    requests_of = {dict(labels)["status"]: value for (name, labels), value in found.items()
                   if name == "vhctl_api_requests_total" and dict(labels)["endpoint"] == "/api/user/{nick}"}
    assert requests_of == {"200": 1, "404": 1}
    assert found[("vhctl_hub_hook_calls_total", (("hook", "OnTimer"),))] == 10
    assert found[("vhctl_hub_hook_seconds_total", (("hook", "OnTimer"),))] == pytest.approx(0.0004)
    assert found[("vhctl_hub_hook_max_seconds", (("hook", "OnTimer"),))] == pytest.approx(0.0003)
    assert found[("vhctl_hub_queue_length", ())] == 2 and found[("vhctl_api_cache_age_seconds", ())] == 0.25
    assert ("vhctl_api_paused_seconds_total", ()) in found
    assert not [name for name, _ in found if name.endswith("_created")]  # no per-process timestamps


def test_each_app_counts_in_a_registry_of_its_own(standalone):
    first, second = standalone(snapshot(LAB)), standalone(snapshot([]))
    for _ in range(3):
        first.get("/api/stats")
    key = ("vhctl_api_requests_total", (("endpoint", "/api/stats"), ("status", "200")))
    assert samples(first.get("/metrics").text)[key] == 3
    assert key not in samples(second.get("/metrics").text)
    assert samples(second.get("/metrics").text)[("vhctl_hub_users_online", ())] == 0
    global_names = {m.name for m in prometheus_client.REGISTRY.collect()}
    assert not [name for name in global_names if name.startswith("vhctl_")]


def test_a_health_section_missing_leaves_its_families_out():
    reading = Reading(snapshot([]), 1.0, RequestCounter(), None, 0.0)
    names = {name for name, _ in samples(Exposition(lambda: reading).render().decode())}
    assert "vhctl_hub_users_online" in names and not [n for n in names if n.startswith("vhctl_hub_hook")]


def test_A24_metrics_serve_in_both_modes_and_single_mode_reloads(make_api_hub, mode):
    """Sub mode: the first load serves (FastAPI itself cannot load again there, A10). Single mode:
    every reload builds a new app with a new registry; nothing is registered twice."""
    api = make_api_hub(mode)
    for round_ in range(3 if mode == "single" else 1):
        if round_:
            api.reload()
        stats, scrape = api.url() + "/api/stats", api.url() + "/metrics"
        wait_until(lambda url=stats: get(url).json()["complete"], hub=api.hub)
        found = samples(get(scrape).text)
        assert found[("vhctl_hub_users_online", ())] == api.hub.users_count
        assert found[("vhctl_api_requests_total", (("endpoint", "/api/stats"), ("status", "200")))] >= 1
        assert ("vhctl_hub_hook_calls_total", (("hook", "OnTimer"),)) in found


@pytest.mark.slow
def test_the_lowest_allowed_prometheus_client_writes_the_same_samples(tmp_path: Path):
    target = tmp_path / "lowest"
    lowest = install_lowest("prometheus-client", target)
    outputs = []
    for path in (str(target), ""):  # the lowest, then the dev venv's (newest)
        done = subprocess.run([sys.executable, "-c", RENDER_FIXED, path or str(REPO / "tests"),
                               json.dumps(HEALTH)], cwd=REPO, capture_output=True, text=True, timeout=120,
                              env={"PYTHONPATH": f"{target}:{REPO / 'tests'}" if path else
                                   str(REPO / "tests"), "PATH": "/usr/bin:/bin"})
        assert done.returncode == 0, done.stderr
        outputs.append(json.loads(done.stdout))
    assert outputs[0]["from"].startswith(str(target)) and not outputs[1]["from"].startswith(str(target))
    assert outputs[0]["text"] and samples(outputs[0]["text"]) == samples(outputs[1]["text"])
    print(f"prometheus-client {lowest}.x and the newest write the same {len(samples(outputs[1]['text']))} samples")
