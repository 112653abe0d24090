"""Hostile text across the chat bridge, checked on the bytes a real DC client receives.

`vhctl demo` runs as a real subprocess in each plugin mode, its bridge connected to a Matterbridge
stand-in in this process (``--matterbridge URL``), so that remote users can be made to say anything
(M23, M49-M50: Matterbridge passes `$`, `|`, CR/LF and NUL through and has no size limit). Debian's
microdc2 is logged in as a regular user behind a TCP relay that keeps every byte the hub sends it;
a raw-socket NMDC client is a second witness, and it types the bytes microdc2 cannot.

What is checked:
- no protocol injection: every message on microdc2's wire is one the hub itself makes (chat of a
  known nick, the bridge bot's lines, the nick-list commands of known nicks); nothing a remote
  user sent becomes a `$` command, a `|` never splits a remote line, a line break never starts a
  line without the bridge's `[protocol] <user>` prefix;
- the text shown is the remote text, as the README documents it: `$ |` sent as entities, control
  characters as spaces, line breaks as separate lines (at most 10), long lines cut with an
  ellipsis, usernames on one line without angle brackets, the hub's encoding (CP1252) applied;
  an entity a remote user typed literally is shown literally, since microdc2 decodes `&#36;`,
  `&#124;` and `&amp;` in what it receives;
- the other way, what microdc2 types reaches the stand-in as the real text (F64: `&#36;` -> `$`,
  `&#124;` -> `|`, `&amp;` -> `&`), and invalid UTF-8 from a DC client is never relayed (F23) and
  breaks nothing.
"""

from __future__ import annotations

import re
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from testkit.demo import DemoRun
from testkit.fixtures import closing_factory
from testkit.microdc2 import Microdc2
from testkit.runtime import wait_until
from testkit.wire import WireLog, WireTap, relay
from vhctl_hub.bridge.relay import MAX_USERNAME
from vhctl_hub.config import Settings

from vhctl.demo import PEOPLE as DEMO_PEOPLE
from vhctl.sim.matterbridge import MatterbridgeStandIn
from vhctl.sim.matterbridge.message import decode_body
from vhctl.sim.nmdc import build_myinfo, lock_to_key, lock_token

pytestmark = pytest.mark.dcclient

TOKEN_ENV = "VHCTL_TEST_HOSTILE_MB_TOKEN"
TOKEN = "hostile-dc-standin-" + "h" * 24
GATEWAY = "verlihub"
BOT = "[Bridge]"
NICK = "plain_dc"       # microdc2, class 0: chat delay, flood limit and all (A1, A17)
WITNESS = "raw_witness"
MAX_LINE = Settings().runtime.max_line
#: A class 0 user may send 5 lines in 10 s before the hub bans the IP (A17): stay well below.
TYPING_GAP = 2.7
#: The hub's encoding in the demo (its default, A1): what the bytes of a line are.
HUB_ENCODING = "cp1252"


@dataclass
class Remote:
    """One remote message: who says what, and the lines a DC user must see (``[p<n>] <user> text``
    without the ``[p<n>]`` marker, which tells each message's lines apart on the wire)."""

    text: str
    username: str
    shown: list[str]
    event: str = ""
    #: the one line is cut somewhere (its escapes make the exact place the sender's business):
    #: what is shown is the start of ``shown[0]``, then an ellipsis
    cut: bool = False


_LONG = "A" * 10_000 + "END"


def _cut(line: str) -> str:
    """A line longer than runtime.max_line, as documented: cut, ending with an ellipsis."""
    return line if len(line) <= MAX_LINE else line[:MAX_LINE - 1] + "\u2026"


REMOTE = [
    Remote("price $5 | a|b $$ |$|", "u", ["<u> price $5 | a|b $$ |$|"]),
    Remote("|$ForceMove 127.0.0.1", "u", ["<u> |$ForceMove 127.0.0.1"]),
    Remote("$To: x From: y $<y> hi", "u", ["<u> $To: x From: y $<y> hi"]),
    Remote("x|$MyINFO $ALL evil e$ $$$0$|$Quit plain_dc|", "u", ["<u> x|$MyINFO $ALL evil e$ $$$0$|$Quit plain_dc|"]),
    Remote("l1\r\nl2\nl3\rl4", "u", ["<u> l1", "<u> l2", "<u> l3", "<u> l4"]),
    Remote("ok\r\n<plain_dc> forged\n$ForceMove 127.0.0.1", "u",
           ["<u> ok", "<u> <plain_dc> forged", "<u> $ForceMove 127.0.0.1"]),
    Remote("a\x00b\x01c\x7fd\te\x1bf\x05g", "u", ["<u> a b c d e f g"]),
    Remote("<HubOwner> I am the owner", "<Verlihub>|$x\r\ny",
           ["<\u2039Verlihub\u203a|$x y> <HubOwner> I am the owner"]),
    Remote("x", "alice\n<HubOwner> $ForceMove 1|2", ["<alice \u2039HubOwner\u203a $ForceMove 1|2> x"]),
    Remote("nul user", "nu\x00ll", ["<nu ll> nul user"]),
    Remote("no name", "", ["<?> no name"]),
    Remote("long name", "n" * 200, [f"<{'n' * (MAX_USERNAME - 1)}\u2026> long name"]),
    Remote(_LONG, "u", [f"<u> {_LONG}"]),
    Remote("$|" * 3000, "u", [f"<u> {'$|' * 3000}"], cut=True),
    Remote("\n".join(f"line{i:02d}" for i in range(1, 16)), "u",
           [f"<u> line{i:02d}" for i in range(1, 10)] + ["<u> (6 more lines not shown)"]),
    Remote("\U0001F600 \u00e9 \u20ac \u0416 ok", "u", ["<u> ? \u00e9 \u20ac ? ok"]),
    # invalid UTF-8 as Matterbridge delivers it: one U+FFFD per bad byte (M49)
    Remote(decode_body(b"bad \xff\xfe end"), "u", ["<u> bad ?? end"]),
    Remote("&#36; &#124; &amp; AT&T &amp;amp; &#38;", "u", ["<u> &#36; &#124; &amp; AT&T &amp;amp; &#38;"]),
    Remote("waves | $", "u", ["<u> * waves | $"], event="user_action"),
    Remote("\r\n \n", "u", []),          # nothing to show: not shown at all
    Remote("|", "u", ["<u> |"]),
]

#: What microdc2 types, and the text Matterbridge must get.
TYPED = [
    ("price $5 | a|b", "price $5 | a|b"),
    ("|$ForceMove 127.0.0.1", "|$ForceMove 127.0.0.1"),
    ("$To: x From: y $<y> hi", "$To: x From: y $<y> hi"),
    ("<Verlihub> fake &amp; &#36; &#124; AT&T", "<Verlihub> fake &amp; &#36; &#124; AT&T"),
    ("emoji \U0001F600 \u00e9 \u20ac \u0416 ok", "emoji \U0001F600 \u00e9 \u20ac \u0416 ok"),
    ("L" * 10_000 + "END", "L" * 10_000 + "END"),
]


def _shown(line: str, marker: str) -> str:
    """A line as shown: with its marker, cut at runtime.max_line."""
    return _cut(f"[{marker}] {line}")


def _client_view(body: bytes) -> str:
    """A chat message's text as microdc2 shows it: hub bytes decoded, its three entities undone
    in one pass (observed: `&amp;#36;` shows as `&#36;`, `&#126;` stays as it is)."""
    text = body.decode(HUB_ENCODING, "replace")
    return re.sub(r"&(#36|#124|amp);", lambda m: {"#36": "$", "#124": "|", "amp": "&"}[m[1]], text)


def _screen_form(text: str) -> str:
    """How microdc2 (UTF-8 locale) prints a line of hub bytes: non-UTF-8 bytes as octal escapes."""
    return "".join(chr(b) if b < 0x80 else f"\\{b:03o}" for b in text.encode(HUB_ENCODING))


class RawClient(WireLog):
    """A minimal NMDC client on a plain socket: logs in (A1), keeps every byte the hub sends, and
    sends chat bytes exactly as given."""

    def __init__(self, port: int, nick: str) -> None:
        super().__init__()
        self.nick = nick
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.settimeout(None)
        self._reader = threading.Thread(target=relay, args=(self.sock, None, self), daemon=True)
        self._reader.start()
        lock = self.wait_for(rb"\$Lock ([^|]*)\|")[1].decode("latin-1")
        key = lock_to_key(lock_token("$Lock " + lock)).encode("latin-1")
        self.sock.sendall(b"$Supports NoGetINFO NoHello |$Key " + key + b"|$ValidateNick " + nick.encode() + b"|")
        self.wait_for(rb"\$Hello " + re.escape(nick.encode()) + rb"\|")
        info = build_myinfo(nick, "witness", "<++ V:0.868,M:P,H:1/0/0,S:1>", "100\x01", "", "0")
        self.sock.sendall(b"$Version 1,0091|$GetNickList|" + info.encode() + b"|")

    def say(self, raw: bytes) -> None:
        self.sock.sendall(b"<" + self.nick.encode() + b"> " + raw + b"|")

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self._reader.join(5)


@pytest.fixture
def standin(monkeypatch) -> Iterator[MatterbridgeStandIn]:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)  # the demo reads the token from here (--matterbridge-token-env)
    with MatterbridgeStandIn(host="127.0.0.1", port=0, token=TOKEN, gateway=GATEWAY) as mb:
        yield mb


@pytest.fixture
def witness() -> Iterator[Callable[[int], RawClient]]:
    """``witness(port)`` -> the raw-socket witness logged in to the hub (closed after the test)."""
    yield from closing_factory(lambda port: RawClient(port, WITNESS), RawClient.close)


def _messages(wire: bytes, start: int, end: int) -> list[bytes]:
    """The protocol messages in ``wire[start:end]`` (``start`` just after a ``|``)."""
    return wire[start:end].split(b"|")


def _known_nicks(wire: bytes) -> set[bytes]:
    """Every nick the hub listed at our login, and the demo's cast (its users leave and come back)."""
    listed = {m[1] for m in re.finditer(rb"\$MyINFO \$ALL (\S+) ", wire)}
    return listed | {person[0].encode() for person in DEMO_PEOPLE} | {b"Verlihub", b"OpChat"}


def _foreign(messages: list[bytes], nicks: set[bytes]) -> list[bytes]:
    """The messages that are not the hub's own kinds: the bridge bot's lines, chat of a known nick,
    a known nick's $MyINFO or $Quit, the op list, the keep-alive."""
    names = b"|".join(re.escape(n) for n in nicks)
    allowed = re.compile(rb"(<" + re.escape(BOT.encode()) + rb"> \[p\d+\] <[^\r\n]*|<(" + names + rb")> [^\r\n]*"
                         rb"|\$MyINFO \$ALL (" + names + rb") [^\r\n]*|\$Quit (" + names + rb")"
                         rb"|\$OpList ((" + names + rb")\$\$)*|)", re.DOTALL)
    return [m for m in messages if not allowed.fullmatch(m)]


def _lines_of(messages: list[bytes], marker: str) -> list[bytes]:
    prefix = f"<{BOT}> [{marker}] ".encode()
    return [m[len(f"<{BOT}> "):] for m in messages if m.startswith(prefix)]


def _typed(client: Microdc2, text: str) -> None:
    """Type ``say text`` into microdc2, whose command line treats ``;`` ``"`` ``'`` ``\\`` as syntax."""
    client.type("say " + re.sub(r"""([;"'\\])""", r"\\\1", text))


def _wait_received(mb: MatterbridgeStandIn, nick: str, count: int, timeout: float = 30.0) -> list[str]:
    """The texts ``nick`` got to Matterbridge, once there are ``count`` of them."""
    def texts() -> list[str]:
        return [m["text"] for m in mb.received() if m["username"] == nick]
    return wait_until(lambda: len(texts()) >= count and texts(), timeout)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("mode", ["single", "sub"])
def test_M23_M49_M50_F50_F64_hostile_text_both_ways_on_the_bytes_microdc2_receives(
        mode: str, tmp_path: Path, standin: MatterbridgeStandIn,
        start_demo: Callable[..., DemoRun], wiretap: Callable[[int], WireTap],
        microdc2: Callable[..., Microdc2],
        witness: Callable[[int], RawClient]) -> None:
    demo = start_demo("--for", "580", "--mode", mode, "--matterbridge", standin.url,
                      "--matterbridge-token-env", TOKEN_ENV)
    standin.wait_until(lambda mb: mb.ws_clients >= 1, timeout=60)
    share = tmp_path / "share"
    share.mkdir()
    (share / "file.bin").write_bytes(b"x" * 4096)
    tap = wiretap(demo.hub_port)
    client = microdc2(tap.port, NICK, "", share)
    client.wait_for("Public: <Verlihub> Status: Normal", timeout=30)
    tap.wait_for(rb"\$OpList [^|]*\|")  # the end of the nick list, the last part of a login (A15)
    raw = witness(demo.hub_port)
    raw.wait_for(rb"\$OpList [^|]*\|")
    nicks = _known_nicks(tap.received) | {NICK.encode(), WITNESS.encode()}

    # --- Matterbridge -> hub: every remote message, then an end mark ------------------------------
    start, start_raw, screen = len(tap.received), len(raw.received), len(client.output)
    start, start_raw = tap.received.rindex(b"|", 0, start) + 1, raw.received.rindex(b"|", 0, start_raw) + 1
    for n, remote in enumerate(REMOTE):
        standin.inject(remote.text, remote.username, protocol=f"p{n}", event=remote.event)
    end_marker = f"p{len(REMOTE)}"
    standin.inject("end", "u", protocol=end_marker)
    done = tap.wait_for(re.escape(f"<{BOT}> [{end_marker}] <u> end|".encode()), start, timeout=60)
    raw_done = raw.wait_for(re.escape(f"<{BOT}> [{end_marker}] <u> end|".encode()), start_raw, timeout=60)
    client.screen_after(screen, re.escape(f"Public: <{BOT}> [{end_marker}] <u> end"), timeout=30)

    wire = _messages(tap.received, start, done.start())
    # the second witness got the same bridge lines, byte for byte
    assert [m for m in _messages(raw.received, start_raw, raw_done.start()) if m.startswith(b"<[Bridge]>")] == \
        [m for m in wire if m.startswith(b"<[Bridge]>")]
    assert _foreign(wire, nicks) == [], "messages on the wire that the hub did not make itself"
    for n, remote in enumerate(REMOTE):
        marker = f"p{n}"
        lines = _lines_of(wire, marker)
        expected = [_shown(line, marker) for line in remote.shown]
        if remote.cut:
            assert len(lines) == 1 and len(lines[0]) <= MAX_LINE and lines[0].endswith(b"\x85"), (n, lines)
            expected = [_client_view(lines[0])]
            assert f"[{marker}] {remote.shown[0]}".startswith(expected[0][:-1]), (n, lines)
        assert [_client_view(line) for line in lines] == expected, (n, lines)
        for body in lines:  # no raw NMDC syntax inside: `$` and `|` only as entities
            assert b"$" not in body and not re.search(rb"&#\d*\x85$", body), (n, body)
        for shown in expected:
            assert f"Public: <{BOT}> {_screen_form(shown)}" in client.output[screen:], (n, shown)

    # --- hub -> Matterbridge: what microdc2 types, paced like a person (A17's flood limit) ---------
    for count, (typed, real) in enumerate(TYPED, start=1):
        _typed(client, typed)
        assert _wait_received(standin, NICK, count)[-1] == real
        time.sleep(TYPING_GAP)  # the hub's own rate limit for class 0, not a wait for a result
    # invalid UTF-8 from a DC client reaches no Python hook (F23): shown to hub users as it came,
    # never relayed; the next line is
    since = len(tap.received)
    raw.say(b"bad \xff\xfe end")
    tap.wait_for(re.escape(f"<{WITNESS}> bad \xff\xfe end|".encode("latin-1")), since)
    time.sleep(TYPING_GAP)
    raw.say(b"after the bad one")
    assert _wait_received(standin, WITNESS, 1) == ["after the bad one"]

    # the whole session since the remote users spoke: still only the hub's own kinds of message
    session = tap.received
    assert _foreign(_messages(session, start, session.rindex(b"|")), nicks) == []

    # nothing broke: the bridge still relays, the demo stops cleanly with no hub-rule violation
    demo.proc.send_signal(signal.SIGTERM)
    assert demo.wait_exit(60) == 0, demo.log()
    assert "hub rule broken" not in demo.log() and "Traceback" not in demo.log(), demo.log()
    print(f"{mode}: {len(REMOTE)} hostile remote messages, {len(wire)} messages on microdc2's wire, "
          f"{len(TYPED) + 1} typed lines relayed right, 0 injected")
