"""The issue's "Done when" for `vhctl demo`, end to end: the demo runs as a real subprocess, Debian's
microdc2 logs in with the printed operator account, sees the users and their shares, chats, runs
`!pylist` (A2, checked to the byte on the wire) and `!api status`, the REST API answers on the printed
URL with the same numbers, and the demo stops leaving no process, folder or listening port behind.

microdc2 is driven with the same helper as the simulator hub's own real-client test (A1). Between it
and the hub sits a small TCP relay that records what the hub sends, so the exact bytes can be checked.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, TypeVar

import pytest

from testkit.demo import DemoRun
from testkit.microdc2 import PYLIST_EMPTY, Microdc2
from testkit.wire import WireTap

from vhctl.demo import port_open

T = TypeVar("T")
MIB = 1024 ** 2
BOTS = ("Verlihub", "OpChat")
#: `who` lists one user a line: nick, share in MiB, "op" for operators, description and tag.
WHO_LINE = re.compile(r"^(\S+) +(\d+)M( op)? ", re.M)


def eventually(probe: Callable[[], T], accept: Callable[[T], Any] = bool, timeout: float = 15.0) -> T:
    """Call ``probe`` until ``accept`` likes its result (the API's snapshot follows the hub a timer
    tick behind; the synthetic users come and go); fail with the last result after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if accept(result):
            return result
        assert time.monotonic() < deadline, f"still {result!r} after {timeout} s"
        time.sleep(0.2)


def who(client: Microdc2) -> dict[str, tuple[int, bool]]:
    """Type `who`; returns {nick: (share in MiB, operator?)} from the listing microdc2 prints."""
    since = len(client.output)
    client.type("who")
    listing = client.screen_after(since, r"who\n((?:\S+ +\d+M.*\n)+)microdc2> ")[1]
    return {m[1]: (int(m[2]), bool(m[3])) for m in WHO_LINE.finditer(listing)}


def assert_port_free(port: int) -> None:
    """Nothing listens on ``port`` any more: a new server can bind it and listen. SO_REUSEADDR as
    every server sets it, so connections the hub closed (TIME_WAIT) do not count as "in use"."""
    assert not port_open(port), f"port {port} still accepts connections"
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen()


def assert_gone(run: DemoRun) -> None:
    """The process, its listening ports, its folder and its threads are all gone."""
    with pytest.raises(ProcessLookupError):
        os.kill(run.proc.pid, 0)
    assert_port_free(run.hub_port)
    assert_port_free(run.api_port)
    script = run.loaded_script()
    demo_dir = next(p for p in script.parents if p.name.startswith("vhctl-demo-"))
    assert not demo_dir.exists(), f"the demo left its folder {demo_dir} behind"
    assert "threads still running" not in run.log()


@pytest.mark.dcclient
@pytest.mark.timeout(120)
def test_A1_A2_microdc2_uses_the_demo_as_its_printed_operator(
        tmp_path: Path, start_demo: Callable[..., DemoRun], wiretap: Callable[[int], WireTap],
        microdc2: Callable[..., Microdc2]) -> None:
    demo = start_demo("--for", "40")
    script = demo.loaded_script()
    assert script.name == "hub_api.py" and script.is_file()
    demo.log_line(rf"^vhctl demo: !api start {demo.api_port}: API (already )?running on "
                  rf"http://127\.0\.0\.1:{demo.api_port}\b")

    share = tmp_path / "share"
    share.mkdir()
    (share / "file.bin").write_bytes(b"x" * 4096)
    tap = wiretap(demo.hub_port)
    client = microdc2(tap.port, demo.nick, demo.password, share)
    client.wait_for("Nick accepted. You are now logged in.", timeout=15)   # the password worked
    client.wait_for("Public: <Verlihub> Status: Normal")
    tap.wait_for(rb"\$LogedIn " + demo.nick.encode() + rb"\|")              # an operator (A1)

    # The users and their shares: microdc2's `who` against the API's user list (once the API's
    # first snapshot of the hub is complete: it fills in over the first timer ticks).
    eventually(lambda: demo.get("/api/stats")[1]["complete"])
    # our login shows from the OnTimer after it (the runtime publishes once per tick): wait for the
    # entry microdc2's own MyINFO made, not for one of the same nick from an earlier login
    def microdc2_listed() -> bool:
        return any(u["nick"] == demo.nick and u["tag"].startswith("<microdc2 V:")
                   for u in demo.get("/api/users")[1]["users"])
    eventually(microdc2_listed)
    status, page = demo.get("/api/users")
    assert status == 200
    api_shares = {u["nick"]: u["share"] for u in page["users"]}
    listed = who(client)
    both = set(listed) & set(api_shares)
    assert len(both) >= 25, (listed, api_shares)
    assert all(listed[nick][0] == api_shares[nick] // MIB for nick in both)
    assert max(mib for mib, _op in listed.values()) >= MIB          # someone shares terabytes
    assert all(listed[nick][1] for nick in (*BOTS, demo.nick))      # bots and we are operators
    me = demo.get(f"/api/user/{demo.nick}")[1]          # what microdc2 told the hub about us
    assert (me["class"], me["is_op"], me["description"]) == (10, True, "lab")
    assert me["tag"].startswith("<microdc2 V:")

    # users_online is the hub's counter: the users in `who` (bots aside), when nobody came or went.
    def online_matches_who() -> tuple[int, int, int]:
        before = demo.get("/api/stats")[1]["users_online"]
        counted = len(set(who(client)) - set(BOTS))
        return before, counted, demo.get("/api/stats")[1]["users_online"]
    counts = eventually(online_matches_who, lambda c: len(set(c)) == 1)
    assert counts[0] > 25
    status, health = demo.get("/health")
    assert status == 200 and health["status"] == "healthy"

    # Chat both ways: our line comes back in main chat; the synthetic users talk.
    client.type("say hello from microdc2")
    client.wait_for(f"Public: <{demo.nick}> hello from microdc2")
    people = "|".join(re.escape(nick) for nick in set(api_shares) - {demo.nick})
    chat = client.screen_after(0, rf"Public: <({people})> ([^\r\n]+)", timeout=20)
    # ... and so do the remote users of the built-in Matterbridge stand-in, through the bridge bot.
    tap.wait_for(rb"\|<\[Bridge\]> \[[a-z]+\] <[a-z]+> [^|]+\|", 0, timeout=30)

    # !pylist: the A2 reply to the byte, with the demo's hub_api.py as script #0 and the chat bridge
    # beside it as #1. A command is not relayed to main chat (A1), not even back to us.
    since = len(tap.received)
    client.type("say !pylist")
    bridge = script.with_name("matterbridge.py")
    expected = (PYLIST_EMPTY[:-1] + b"\t0\t" + str(script).encode() + b"\r\n\t1\t" + str(bridge).encode()
                + b"\r\n|")
    tap.wait_for(rb"(?<=\|)" + re.escape(expected), since)
    client.wait_for(f"\\t0\\t{script}")
    assert b"> !pylist|" not in tap.received

    # !api status: running on the printed port, and it counted our HTTP requests.
    since = len(tap.received)
    client.type("say !api status")
    reply = tap.wait_for(rb"<Verlihub> API running on http://127\.0\.0\.1:" + str(demo.api_port).encode()
                         + rb" since \S+, (\d+) requests served; token: [^|]*\|", since)
    assert int(reply[1]) >= 5
    shown = client.screen_after(0, r"Public: <Verlihub> API running on (\S+) ")
    assert shown[1] == f"http://127.0.0.1:{demo.api_port}"

    # Stop (SIGTERM, as a service manager would) with the client still connected: it sees the hub go.
    demo.proc.send_signal(signal.SIGTERM)
    assert demo.wait_exit(20) == 0, demo.log()
    client.wait_for("Disconnected from hub.")
    assert_gone(demo)
    print(f"microdc2 saw {len(listed)} users; chat: {chat[0]!r}; !api status: {reply[0]!r}")


@pytest.mark.timeout(120)
def test_demo_for_5_exits_by_itself_and_frees_everything(
        start_demo: Callable[..., DemoRun]) -> None:
    demo = start_demo("--for", "5")
    status, health = demo.get("/health")
    assert status == 200 and health["status"] == "healthy"
    with socket.create_connection(("127.0.0.1", demo.hub_port), timeout=5) as client:
        assert client.recv(64).startswith(b"$Lock ")     # a live hub greets first (A1)
        assert demo.wait_exit(30) == 0, demo.log()
        client.settimeout(5)
        while client.recv(4096):                  # the hub closed our connection as it stopped
            pass
    assert_gone(demo)


@pytest.mark.timeout(120)
def test_demo_prints_its_three_lines_before_any_log_line(tmp_path: Path) -> None:
    """stdout and stderr together, as a terminal shows them: the three lines come first, whatever
    the hub and the scripts log while starting (that comes after them)."""
    done = subprocess.run([sys.executable, "-m", "vhctl", "demo", "--for", "0"], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, cwd=tmp_path, timeout=90)
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stdout
    assert [line.split(":", 1)[0] for line in lines[:3]] == ["hub", "api", "op"], done.stdout
    assert any(line.startswith("vhctl demo: !pyload ") for line in lines[3:]), done.stdout
