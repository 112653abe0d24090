"""`vhctl demo`'s setup (vhctl/demo.py) as a DC client and an API user see it: once its lines are
printed the API shows the whole hub, operators included, and no account of the test harness."""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

from vhctl.demo import OP_NICK, PEOPLE, Demo
from vhctl.sim import nmdc
from vhctl.sim.hub import MASTER_NICK
from vhctl.sim.matterbridge import MatterbridgeStandIn


def _get(port: int, path: str, token: Optional[str] = None) -> dict:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    with opener.open(request, timeout=5) as resp:
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
        people = {p[0] for p in PEOPLE}
        assert len(nicks & people) >= len(people) - 2  # the chatter may have sent one or two away
        assert not nicks - people  # the operator typed the setup commands and left: no harness master
        ops = {u["nick"] for u in _get(info.api_port, "/api/ops")["ops"]}
        assert ops == {p[0] for p in PEOPLE if p[1] >= 3} & nicks
        log = err.getvalue()
        assert f"!api start {info.api_port}: API " in log and "running on" in log, log
        assert OP_NICK not in nicks and MASTER_NICK not in log
    finally:
        problems = demo.stop()
    assert problems == []  # no thread-rule violation (F58), no crash (A13) in the whole demo


def test_a_demo_makes_its_folder_only_when_it_starts_and_stop_removes_it():
    """A Ctrl-C between constructing and starting must leave nothing behind: the folder is named at
    construction and made by start(), inside the caller's try/finally."""
    demo = Demo(err=io.StringIO(), seed=7)
    assert not demo.basedir.exists()
    assert demo.stop() == [] and not demo.basedir.exists()  # a stop before any start is harmless


# --- `vhctl demo` as a subprocess, bridged to a Matterbridge stand-in this test runs -------------------

def _dc_login(port: int, nick: str) -> socket.socket:
    """A bare NMDC client logged in as an unregistered user; returns its socket (5 s timeout)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    lock = _read_until(sock, bytearray(), b"|")
    key = nmdc.lock_to_key(nmdc.lock_token(lock[:-1].decode("latin-1")))
    sock.sendall(f"$Supports NoHello |$Key {key}|$ValidateNick {nick}|".encode())
    sock.sendall(f"$Version 1,0091|$GetNickList|$MyINFO $ALL {nick} $ $\x01$$0$|".encode())
    return sock


def _read_until(sock: socket.socket, buf: bytearray, needle: bytes, timeout: float = 30.0) -> bytes:
    """What arrives up to and including ``needle`` (the rest stays in ``buf``)."""
    deadline = time.monotonic() + timeout
    while needle not in buf:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        assert chunk, f"the hub closed before {needle!r}; got {bytes(buf)[-500:]!r}"
        buf += chunk
    cut = buf.index(needle) + len(needle)
    out = bytes(buf[:cut])
    del buf[:cut]
    return out


@contextmanager
def _demo_process(err: Path, *args: str, env: Optional[dict] = None) -> Iterator[tuple[subprocess.Popen, list[str]]]:
    """`vhctl demo --for 60 ARGS` with its stderr in ``err``; yields the process and its first five
    stdout lines, and kills it if the test ends before the demo does."""
    with err.open("w") as err_file:
        proc = subprocess.Popen([sys.executable, "-m", "vhctl", "demo", "--for", "60", *args],
                                stdout=subprocess.PIPE, stderr=err_file, text=True, cwd=err.parent,
                                env={**os.environ, **(env or {})})
    try:
        assert proc.stdout is not None
        yield proc, [proc.stdout.readline().rstrip("\n") for _ in range(5)]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()


def test_vhctl_demo_bridges_hub_chat_and_prints_a_working_token_M56(tmp_path):
    """`vhctl demo --matterbridge URL --matterbridge-token-env VAR`: a remote line arrives in hub chat
    as a DC client sees it, the hub's chat reaches the remote side, the printed token shows private
    fields, the Matterbridge token is never printed, and Ctrl-C stops it cleanly."""
    mb_token = secrets.token_urlsafe(16)
    err = tmp_path / "demo.stderr"
    with MatterbridgeStandIn(token=mb_token, gateway="demo-gw") as mb, _demo_process(
            err, "--matterbridge", mb.url, "--matterbridge-token-env", "DEMO_MB_TOKEN",
            "--matterbridge-gateway", "demo-gw", env={"DEMO_MB_TOKEN": mb_token}) as (proc, lines):
        assert [line.split(":")[0] for line in lines] == ["hub", "api", "op", "token", "bridge"], \
            (lines, err.read_text())
        hub_port = int(lines[0].rsplit(":", 1)[1])
        api_port = int(lines[1].rsplit(":", 1)[1])
        token = lines[3].split(" ", 1)[1]
        assert lines[4] == f"bridge: connected to Matterbridge at {mb.url} (gateway demo-gw)"

        users = _get(api_port, "/api/users?limit=100", token)["users"]
        assert users and all(u["ip"] for u in users)  # private fields, with the printed token
        assert not any(u["ip"] for u in _get(api_port, "/api/users?limit=100")["users"])

        mb.wait_until(lambda m: m.ws_clients >= 1, timeout=30)
        sock, buf = _dc_login(hub_port, "newcomer"), bytearray()
        _read_until(sock, buf, b"$MyINFO $ALL newcomer ")  # logged in: main chat reaches us now
        mb.inject("hello from the other side", "alice")
        _read_until(sock, buf, b"[irc] <alice> hello from the other side|")
        sock.close()

        sent = mb.wait_received(1, timeout=30)  # the demo's users chat every few seconds
        assert sent[0]["gateway"] == "demo-gw" and sent[0]["text"]
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        assert proc.wait(60) == 0, err.read_text()
    log = err.read_text()
    assert mb_token not in log and "Traceback" not in log, log
    assert "hub rule broken" not in log and "threads still running" not in log, log


def test_vhctl_demo_talks_to_the_built_in_stand_in_and_stops_cleanly_on_sigterm(tmp_path):
    """No Matterbridge given: the bridge line names the built-in stand-in; SIGTERM stops the demo with
    nothing left behind (no thread warning, no rule broken, its folder gone)."""
    err = tmp_path / "demo.stderr"
    with _demo_process(err) as (proc, lines):
        assert re.fullmatch(r"bridge: connected to the built-in Matterbridge stand-in at "
                            r"http://127\.0\.0\.1:\d+ \(gateway verlihub\)", lines[4]), (lines, err.read_text())
        hub_port = int(lines[0].rsplit(":", 1)[1])
        sock, buf = _dc_login(hub_port, "newcomer"), bytearray()
        _read_until(sock, buf, b"> [", timeout=60)  # a remote user's line: "<[Bridge]> [irc] <alice> ..."
        sock.close()
        folder = re.search(r"!pyload (\S+)/rendered/", err.read_text())
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0, err.read_text()
    log = err.read_text()
    assert "hub rule broken" not in log and "threads still running" not in log, log
    assert folder and not Path(folder[1]).exists()
