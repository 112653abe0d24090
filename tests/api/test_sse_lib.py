"""``/api/events`` framed and sent by sse-starlette: the exact bytes a client reads, the keepalive, and
the library's process-wide state, which must stay inert across `!api stop`/`!api start`, reloads
(single mode) and the first load in sub mode; the lowest version the requirements allow passes the
same tests."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import sse_starlette.sse as sse_lib
from api_helpers import snapshot, user
from cli_helpers import REPO
from lowest_versions import install_lowest

from vhctl_hub.api import sse


class Reader:
    """One stream's text, read as far as a test needs (one iterator over the body, kept)."""

    def __init__(self, answer: requests.Response) -> None:
        self._chunks = answer.iter_content(chunk_size=None, decode_unicode=True)
        self.text = ""

    def until(self, wanted: str, timeout: float = 10.0) -> str:
        """Everything read so far, once it holds ``wanted`` after what earlier calls returned."""
        start, deadline = len(self.text), time.monotonic() + timeout
        while wanted not in self.text[start:] and time.monotonic() < deadline:
            self.text += next(self._chunks)
        assert wanted in self.text[start:], self.text
        return self.text


def test_a_client_reads_the_retry_hint_then_each_event_as_id_event_data(standalone):
    api = standalone(snapshot([]))
    with requests.get(api.url + "/api/events", stream=True, timeout=10) as answer:
        assert answer.headers["content-type"].startswith("text/event-stream")
        assert answer.headers["cache-control"] == "no-store" and answer.headers["x-accel-buffering"] == "no"
        api.feed.publish("logout", "carol")
        text = Reader(answer).until('"nick":"carol"}\n\n')
    assert text.startswith(": vhctl hub events\nretry: 3000\n\n")
    block = text.split("\n\n")[1]
    assert re.fullmatch(r'id: 1\nevent: logout\ndata: \{"seq":1,"kind":"logout","at":"[^"]+\+00:00","nick":"carol"\}',
                        block), block
    assert "\r" not in text


def test_events_of_one_look_at_the_feed_arrive_together_in_order(standalone):
    api = standalone(snapshot([]))
    with requests.get(api.url + "/api/events", stream=True, timeout=10) as answer:
        reader = Reader(answer)
        reader.until("retry: 3000")
        for i in range(5):
            api.feed.publish("login", f"u{i}", user=user(f"u{i}").to_dict())
        text = reader.until('"nick":"u4"')
    assert [int(n) for n in re.findall(r"^id: (\d+)$", text, re.M)] == [1, 2, 3, 4, 5]


def test_an_idle_stream_gets_keepalive_comments(standalone, monkeypatch):
    monkeypatch.setattr(sse, "KEEPALIVE_SECONDS", 0.2)
    api = standalone(snapshot([]))
    with requests.get(api.url + "/api/events", stream=True, timeout=10) as answer:
        text = Reader(answer).until(": keepalive\n\n")
    assert "data:" not in text


def test_the_librarys_exit_flag_stays_down_when_our_server_stops(standalone):
    api = standalone(snapshot([]))
    with requests.get(api.url + "/api/events", stream=True, timeout=10) as answer:
        Reader(answer).until("retry: 3000")
        api.close()
        assert answer.raw.read() == b""  # the stream ended cleanly, by our own stopping event
    assert sse_lib.AppStatus.should_exit is False


def test_A24_streams_work_after_stop_start_and_single_mode_reloads(make_api_hub, mode):
    """Sub mode: the first load (FastAPI cannot load again there, A10); single mode: `!api stop` and
    `!api start`, then two reloads; every new stream is served, and the process-wide flag stays down."""
    api = make_api_hub(mode)
    rounds = ("first", "restart", "reload", "reload") if mode == "single" else ("first",)
    for number, how in enumerate(rounds):
        if how == "restart":
            api.command("!api stop", wait_for="stopped")
            api.command("!api start", wait_for="http://")
        elif how == "reload":
            api.reload()
        url = api.url()
        with requests.get(url + "/api/events", stream=True, timeout=10) as answer:
            reader = Reader(answer)
            reader.until("retry: 3000")
            api.hub.login(f"visitor{number}")
            reader.until(f'"nick":"visitor{number}"')
        assert sse_lib.AppStatus.should_exit is False


@pytest.mark.slow
def test_the_lowest_allowed_sse_starlette_passes_these_tests(tmp_path: Path):
    target = tmp_path / "lowest"
    lowest = install_lowest("sse-starlette", target)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(target), os.environ.get("PYTHONPATH")]))}
    check = subprocess.run([sys.executable, "-c", "import sse_starlette; print(sse_starlette.__file__)"],
                           env=env, capture_output=True, text=True, check=True)
    assert check.stdout.startswith(str(target)), check.stdout
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", __file__,
                          "-k", "not lowest"], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    print(f"sse-starlette {lowest}.x: {run.stdout.strip().splitlines()[-1]}")
