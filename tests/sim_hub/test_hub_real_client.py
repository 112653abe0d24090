"""A real DC client (Debian's microdc2) against the simulated hub: it logs in as a registered
operator, sees the users and their shares, chats both ways with simulated users, and gets the
plugin console's exact `!pylist` reply (A2). It also proves our $Lock/$Key against a real client."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from testkit.microdc2 import PYLIST_EMPTY, Microdc2
from testkit.runtime import wait_until

from vhctl.sim.hub import Hub

pytestmark = pytest.mark.dcclient


def _tap(hub: Hub, nick: str) -> list[bytes]:
    """Record every byte the hub writes to ``nick``'s socket from now on."""
    seen: list[bytes] = []

    def install() -> None:
        transport = hub.state.online(nick).conn.transport  # type: ignore[union-attr]
        original = transport.write

        def write(data: bytes) -> None:
            seen.append(data)
            original(data)
        transport.write = write
    hub.call(install)
    return seen


def _who(client: Microdc2) -> dict[str, str]:
    """microdc2's ``who`` lines of the four nicks, asked again until one answer lists all four: the
    nick list is the last thing of the login (A15), so it may still be on its way."""
    names = ("bob", "alice", "Verlihub", "OpChat")
    deadline = time.monotonic() + 10
    lines: dict[str, str] = {}
    while len(lines) < len(names) and time.monotonic() < deadline:
        mark = len(client.output)
        client.type("who")
        ask_again = time.monotonic() + 1
        while len(lines) < len(names) and time.monotonic() < ask_again:
            answer = client.shown_since(mark).rpartition("\n")[0]   # whole lines only
            lines = {line.split()[0]: line for line in answer.splitlines()
                     if line.strip() and line.split()[0] in names}
            time.sleep(0.05)
    return lines


def test_microdc2_logs_in_chats_and_runs_pylist(tmp_path: Path, microdc2) -> None:
    hub = Hub(tmp_path / "hub", mode="single", listen_port=0, chat_rules=False,
              config={"hub_name": "LabHub"}, echo_stderr=False).start()
    try:
        hub.call(hub.register, "realop", 10, "s3cret")
        bob = hub.login("bob", share=9876543210)
        hub.login("alice", share=1234567890)
        share = tmp_path / "share"
        share.mkdir()
        (share / "file.bin").write_bytes(b"x" * 4096)

        client = microdc2(hub.port, "realop", "s3cret", share)
        client.wait_for("Public: <Verlihub> Status: Normal")
        assert hub.call(hub.state.user_class, "realop") == 10
        assert hub.call(lambda: hub.state.online("realop").conn.key_ok) is True   # a real client's $Key

        lines = _who(client)
        assert "9419M" in lines["bob"] and "1177M" in lines["alice"]
        assert "op" in lines["Verlihub"].split()

        bob.say("hello from bob")
        client.wait_for("Public: <bob> hello from bob")
        client.type("say hi from microdc")
        assert bob.wait_for("<realop> hi from microdc")

        wire = _tap(hub, "realop")
        client.type("say !pylist")
        client.wait_for("Loaded Python scripts:")
        wait_until(lambda: PYLIST_EMPTY in b"".join(wire), 30)
        # only the reply, byte for byte; other users' MyINFO updates may come in between
        from_hub = [m + b"|" for m in b"".join(wire).split(b"|") if m.startswith(b"<Verlihub> ")]
        assert from_hub == [PYLIST_EMPTY], b"".join(wire)
        assert b"!pylist" not in bob.received
        # microdc2 announces its share once it has scanned the folder: later on a loaded machine
        wait_until(lambda: hub.call(hub.get_myinfo, "realop")[5] == "4096", 60)
    finally:
        hub.stop()
    assert not hub.errors
