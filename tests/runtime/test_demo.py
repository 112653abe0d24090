"""`vhctl demo`'s setup (vhctl/demo.py) as a DC client and an API user see it: once its lines are
printed the API shows the whole hub, operators included, and no account of the test harness."""

from __future__ import annotations

import io
import json
import urllib.request

from vhctl.demo import _PEOPLE, OP_NICK, Demo
from vhctl.sim.hub import MASTER_NICK


def _get(port: int, path: str) -> dict:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
        return json.load(resp)


def test_demo_lines_come_once_the_api_shows_the_whole_hub():
    err = io.StringIO()
    demo = Demo(err=err, seed=7)
    try:
        info = demo.start()  # `vhctl demo` prints info.lines() right after this returns
        health = _get(info.api_port, "/health")
        assert health["cache_complete"], err.getvalue()
        assert health["snapshot_seq"] >= 1 and health["snapshot_events"] >= 1  # the logout, at least
        nicks = {u["nick"] for u in _get(info.api_port, "/api/users?limit=100")["users"]}
        people = {p[0] for p in _PEOPLE}
        assert len(nicks & people) >= len(people) - 2  # the chatter may have sent one or two away
        assert not nicks - people  # the operator typed the setup commands and left: no harness master
        ops = {u["nick"] for u in _get(info.api_port, "/api/ops")["ops"]}
        assert ops == {p[0] for p in _PEOPLE if p[1] >= 3} & nicks
        log = err.getvalue()
        assert f"!api start {info.api_port}: API " in log and "running on" in log, log
        assert OP_NICK not in nicks and MASTER_NICK not in log
    finally:
        problems = demo.stop()
    assert problems == []  # no thread-rule violation (F58), no crash (A13) in the whole demo
