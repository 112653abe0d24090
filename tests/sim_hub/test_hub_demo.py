"""`vhctl demo --for 3` as a real subprocess: the first three lines, a hub a client can log in to
with the printed operator account, ~30 users with shares, and a clean exit by itself."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from testkit.runtime import wait_until
from testkit.simhub import RawClient

from vhctl.demo import port_open


def test_demo_for_3_seconds(tmp_path: Path) -> None:
    err_file = (tmp_path / "stderr").open("w+")
    tree = str(Path(__file__).resolve().parents[2])   # the code under test, not an installed copy
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (tree, os.environ.get("PYTHONPATH"))))}
    proc = subprocess.Popen([sys.executable, "-m", "vhctl", "demo", "--for", "3"],
                            stdout=subprocess.PIPE, stderr=err_file, text=True, cwd=tmp_path, env=env)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().rstrip("\n") for _ in range(3)]
        hub = re.fullmatch(r"hub: dchub://127\.0\.0\.1:(\d+)", lines[0])
        api = re.fullmatch(r"api: http://127\.0\.0\.1:(\d+)", lines[1])
        op = re.fullmatch(r"op: (\S+) (\S+)", lines[2])
        assert hub and api and op, lines
        port, nick, password = int(hub[1]), op[1], op[2]
        loaded = "is now loaded" in (tmp_path / "stderr").read_text()
        if loaded:   # the API script loaded: then `!api start` must have made it answer
            with urllib.request.urlopen(f"http://127.0.0.1:{api[1]}/health", timeout=5) as resp:
                assert resp.status == 200

        client = RawClient(port)
        client.handshake(nick)
        client.read_until(b"$GetPass|")
        client.send(f"$MyPass {password}|")
        assert client.read_until(f"$LogedIn {nick}|".encode()).endswith(f"$LogedIn {nick}|".encode())
        client.send(f"$Version 1,0091|$GetNickList|$MyINFO $ALL {nick} $ $\x01$$0$|")
        got = client.read_login()
        infos = re.findall(rb"\$MyINFO \$ALL (\S+) [^$]*\$ \$[^$]*\$[^$]*\$(\d+)\$", got)
        shares = {n.decode(): int(s) for n, s in infos}
        assert len(shares) >= 28
        assert max(shares.values()) > 1024 ** 4       # someone shares terabytes
        client.close()

        assert proc.wait(30) == 0, (tmp_path / "stderr").read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        err_file.close()
    wait_until(lambda: not port_open(port), 15)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_demo_help_has_examples() -> None:
    out = subprocess.run([sys.executable, "-m", "vhctl", "demo", "--help"], capture_output=True,
                         text=True, check=True).stdout
    assert "Examples:" in out and "--for" in out and "--hub-port" in out


def test_demo_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "vhctl", "demo"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, cwd=tmp_path)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("hub: dchub://127.0.0.1:")
        proc.stdout.readline(), proc.stdout.readline()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not port_open(int(first.rsplit(":", 1)[1]))
