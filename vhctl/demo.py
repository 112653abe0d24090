"""The demo hub behind `vhctl demo`: the simulated Verlihub with ~30 lively users, our hub scripts
rendered with a demo configuration and loaded the way an operator would (``!pyload``, then
``!api start <port>``, typed as the printed operator), and that registered master account for a real
DC client to log in with. The first lines are printed once the API shows the whole hub as a client
would see it then; what the hub and the demo log while starting comes after them, on stderr.

Everything lives in a private temporary folder that is removed at the end; nothing outside it is read
or written (the demo's config file is its own, not the user's).
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import secrets
import shutil
import socket
import sys
import sysconfig
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, TextIO, cast

from vhctl import configfile
from vhctl.demo_bridge import BridgeTarget, DemoPeer
from vhctl.errors import VhctlError
from vhctl.scripts import render_script
from vhctl.sim.hub import Hub, LoginError
from vhctl.sim.users import SimUser

OP_NICK = "HubOwner"
API_WAIT_SECONDS = 60.0
#: Bound on waiting for the API's first complete picture of the hub (it takes a timer tick or two).
COMPLETE_WAIT_SECONDS = 10.0

_GB = 1024 ** 3
#: The demo's users: (nick, class, country, client tag, connection, share in GiB).
PEOPLE = [
    ("Zoltan_HU", 0, "HU", "<++ V:0.868,M:A,H:1/0/0,S:3>", "100", 412),
    ("marta.k", 0, "PL", "<EiskaltDC++ V:2.4.2,M:P,H:1/0/0,S:5>", "20", 87),
    ("NightOwl", 1, "DE", "<AirDC++ V:4.21,M:A,H:2/1/0,S:10>", "LAN(T3)", 6144),
    ("jukka", 0, "FI", "<ncdc V:1.23.1,M:A,H:1/0/0,S:10>", "100", 1380),
    ("Ricardo_BR", 0, "BR", "<++ V:0.868,M:P,H:1/0/0,S:3>", "Cable", 55),
    ("sunny_day", 0, "ES", "<ApexDC++ V:1.6.5,M:A,H:1/0/0,S:4>", "50", 233),
    ("Pixelmancer", 2, "NL", "<AirDC++ V:4.21,M:A,H:1/0/1,S:20>", "1000", 10240),
    ("old_timer", 1, "GB", "<DCPlusPlus V:0.868,M:A,H:3/0/0,S:6>", "10", 3072),
    ("kasia", 0, "PL", "<++ V:0.868,M:A,H:1/0/0,S:3>", "100", 19),
    ("dmitri.v", 0, "RU", "<FlylinkDC++ V:r600,M:A,H:1/0/0,S:15>", "100", 2048),
    ("LinuxLover", 1, "SE", "<microdc2 V:0.15.6,M:P,H:1/0/0,S:3>", "56Kbps", 150),
    ("moss", 0, "IE", "<ncdc V:1.23.1,M:P,H:1/0/0,S:5>", "20", 0),
    ("FrankTheTank", 0, "US", "<++ V:0.868,M:A,H:2/0/0,S:3>", "100", 640),
    ("elodie", 0, "FR", "<EiskaltDC++ V:2.4.2,M:A,H:1/0/0,S:5>", "50", 310),
    ("tomas_cz", 0, "CZ", "<++ V:0.868,M:A,H:1/0/0,S:3>", "100", 128),
    ("Archivist", 3, "AT", "<AirDC++ V:4.21,M:A,H:0/0/3,S:30>", "1000", 12288),
    ("Moderatrix", 4, "CH", "<++ V:0.868,M:A,H:0/1/2,S:10>", "100", 4096),
    ("SysAdmin", 5, "DE", "<ncdc V:1.23.1,M:A,H:0/0/4,S:10>", "1000", 2560),
    ("lurker42", 0, "CA", "<++ V:0.868,M:P,H:1/0/0,S:2>", "10", 4),
    ("bjorn", 0, "NO", "<++ V:0.868,M:A,H:1/0/0,S:3>", "100", 720),
    ("Giulia", 1, "IT", "<ApexDC++ V:1.6.5,M:A,H:1/1/0,S:4>", "50", 1100),
    ("vinyl_junkie", 0, "PT", "<++ V:0.868,M:A,H:1/0/0,S:3>", "20", 880),
    ("kenji", 0, "JP", "<AirDC++ V:4.21,M:A,H:1/0/0,S:8>", "100", 2900),
    ("aussie_mike", 0, "AU", "<++ V:0.868,M:P,H:1/0/0,S:3>", "Cable", 47),
    ("hanna_se", 0, "SE", "<EiskaltDC++ V:2.4.2,M:A,H:1/0/0,S:5>", "100", 365),
    ("RetroGamer", 2, "BE", "<AirDC++ V:4.21,M:A,H:1/0/1,S:12>", "1000", 7168),
    ("ana.ro", 0, "RO", "<++ V:0.868,M:A,H:1/0/0,S:3>", "50", 96),
    ("Petrov", 0, "BG", "<FlylinkDC++ V:r600,M:P,H:1/0/0,S:15>", "20", 512),
    ("quietstorm", 1, "DK", "<ncdc V:1.23.1,M:A,H:1/0/0,S:10>", "100", 1536),
    ("newbie_2024", 0, "UA", "<++ V:0.868,M:P,H:1/0/0,S:3>", "10", 1),
]

_LINES = [
    "hi all", "anyone got the new debian iso?", "thanks for the slots!", "brb, coffee",
    "is the hub slow today or is it me?", "good evening from here", "lol", "nice share btw",
    "who has the 1080p version?", "my client keeps timing out on search", "back",
    "g'night everyone", "is TTH search working for you?", "+1", "welcome!",
    "rules say min share 10 GB, right?", "just finished hashing 2 TB, finally",
    "anyone running ncdc here?", "the topic is outdated :)", "cheers",
]


@dataclass
class DemoInfo:
    """What `vhctl demo` prints first."""

    hub_port: int
    api_port: int
    op_nick: str
    op_password: str
    #: printed after the first three (the demo token, the bridge)
    more: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [f"hub: dchub://127.0.0.1:{self.hub_port}", f"api: http://127.0.0.1:{self.api_port}",
                f"op: {self.op_nick} {self.op_password}"] + self.more


def free_port() -> int:
    """A TCP port nothing listens on right now (for `!api start`, which needs a number)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Demo:
    """One demo hub: ``start()``, then ``stop()`` (idempotent)."""

    def __init__(self, hub_port: int = 0, api_port: int = 0, mode: str = "single",
                 err: TextIO = sys.stderr, seed: Optional[int] = None,
                 bridge: Optional[BridgeTarget] = None) -> None:
        self.hub_port = hub_port
        self.api_port = api_port or free_port()
        self.mode = mode
        self.err = err
        self.rng = random.Random(seed)
        #: named now, made first thing in ``start()``: a Ctrl-C that lands before ``start()`` leaves no
        #: folder, and one that lands in it reaches the caller's ``stop()``, which removes the folder
        self.basedir = Path(tempfile.gettempdir()) / f"vhctl-demo-{secrets.token_hex(6)}"
        self.password = secrets.token_urlsafe(9)
        self.hub: Optional[Hub] = None
        self.users: dict[str, SimUser] = {}
        self._running = False
        #: the keyring, tokens and Matterbridge peer of the bridge script (None: no bridge)
        self.peer = DemoPeer(bridge, self.basedir / "keyring", self._note, seed) if bridge else None
        self._bridge_script: Optional[Path] = None

    # --- start ---------------------------------------------------------------------------------

    def start(self) -> DemoInfo:
        self.basedir.mkdir(mode=0o700)  # private, like mkdtemp's; a name taken already is an error
        hub = Hub(self.basedir / "hub", mode=self.mode, listen_port=self.hub_port, config={
                      "hub_name": "vhctl demo hub", "hub_desc": "A simulated Verlihub 1.7 for vhctl",
                      "hub_topic": "Welcome! This hub is a simulation run by `vhctl demo`.",
                      "dns_lookup": "1"})  # hosts resolved at connect: the API can show them
        self.hub = hub
        hub.start()
        self._running = True
        hub.call(hub.register, OP_NICK, 10, self.password)
        for nick, cls, cc, tag, speed, gib in PEOPLE:
            self._join(nick, cls, cc, tag, speed, gib)
        script = self._render_api_script()
        if script is not None:
            self._load(script)
        if self.peer is not None and self._bridge_script is not None:
            self.peer.wait_connected()
        hub.call(self._schedule_chatter)
        more = self.peer.lines() if self.peer is not None else []
        return DemoInfo(hub.port or 0, self.api_port, OP_NICK, self.password, more)

    def _join(self, nick: str, cls: int, cc: str, tag: str, speed: str, gib: int) -> None:
        assert self.hub is not None
        number = len(self.users) + 10
        ip = f"203.0.113.{number}"
        share = gib * _GB + self.rng.randint(0, _GB - 1) if gib else 0
        email = f"{nick.lower().replace('.', '_')}@example.org" if self.rng.random() < 0.3 else ""
        try:
            self.users[nick] = self.hub.login(
                nick, user_class=cls, share=share, desc=self.rng.choice(["", "", "hi", "24/7"]),
                tag=tag, speed=speed + "\x01", email=email, ip=ip, cc=cc, record=False,
                host=f"peer{number}.{cc.lower()}.example.net")
        except LoginError as exc:
            self._note(f"demo user {nick} could not log in: {exc}")

    def _render_api_script(self) -> Optional[Path]:
        """hub_api.py rendered for this demo (the API on 127.0.0.1, vhctl's own environment as the
        hub venv), exactly as `vhctl render` would write it; None if it cannot be."""
        config_file = self.basedir / "vhctl.toml"
        folder = self.basedir / "rendered"
        folder.mkdir()
        bridge = self.peer.start() if self.peer is not None else {}
        try:
            settings = configfile.update(config_file, {**bridge,
                "hub.scripts_dir": str(folder), "hub.venv": sys.prefix,
                "hub.site_packages": sysconfig.get_paths()["purelib"],
                "hub.python": "%d.%d" % sys.version_info[:2],
                "hub.plugin_mode": self.mode, "hub.state_dir": str(self.basedir / "state"),
                "api.host": "127.0.0.1", "api.port": self.api_port})
            text = render_script("hub_api.py", settings, config_file)
        except VhctlError as exc:  # a demo without the API still demonstrates the hub
            self._note(f"cannot render hub_api.py: {exc}")
            return None
        script = folder / "hub_api.py"
        script.write_text(text, encoding="utf-8")
        if self.peer is not None:
            self._bridge_script = folder / "matterbridge.py"
            self._bridge_script.write_text(render_script("matterbridge.py", settings, config_file),
                                           encoding="utf-8")
        return script

    def _load(self, script: Path) -> None:
        """What the operator types first, as the printed operator (logged in for this only, so that a
        DC client can use the account afterwards): !pyload, then !api start <port>. Then wait until
        the API shows the hub as a client now sees it: without that operator."""
        assert self.hub is not None
        deadline = time.monotonic() + API_WAIT_SECONDS
        op = self.hub.login(OP_NICK, password=self.password, share=0, desc="vhctl demo setup")
        try:
            reply = self._answer(op, f"!pyload {script}", deadline)
            self._note(f"!pyload {script}: {reply}")
            if "is now loaded" not in reply:
                return
            command = f"!api start {self.api_port}"
            reply = self._answer(op, command, deadline)
            while "try again" in reply and time.monotonic() < deadline:  # the script is still starting
                time.sleep(0.2)
                reply = self._answer(op, command, deadline)
            self._note(f"{command}: {reply or '(no answer)'}")
            if self._bridge_script is not None:
                reply = self._answer(op, f"!pyload {self._bridge_script}", deadline)
                self._note(f"!pyload {self._bridge_script}: {reply}")
                if "is now loaded" not in reply:
                    self._bridge_script = None
        finally:
            op.logout()  # returns once the hub has run the logout hooks (on its own thread)
        while time.monotonic() < deadline and not port_open(self.api_port):
            time.sleep(0.1)
        if not port_open(self.api_port):
            self._note(f"the API is not listening on port {self.api_port}")
        elif not self._wait_until_current():
            self._note(f"the API still does not show the whole hub after {COMPLETE_WAIT_SECONDS:g} s")

    def _answer(self, op: SimUser, command: str, deadline: float) -> str:
        """The hub-security lines answering ``command`` typed by ``op``. A script may answer later
        from a worker thread (through the runtime's work queue, as `!api start` does), so wait for
        the first answer, until ``deadline``."""
        assert self.hub is not None
        seen = len(op.messages())
        # loading the script imports the web stack on the hub thread: slow on a loaded machine
        reply = self.hub.call(op.command_reply, command, timeout=max(1.0, deadline - time.monotonic()))
        bot = f"<{self.hub.security_nick}> "
        while not reply and time.monotonic() < deadline:
            time.sleep(0.1)
            reply = "\n".join(m[len(bot):] for m in op.messages()[seen:] if m.startswith(bot))
        return reply

    def _wait_until_current(self) -> bool:
        """Poll the API's /health (no token needed) until its snapshot shows every hub event that
        had happened when we first asked, the operator's logout included, and its first complete
        picture of the hub (the runtime fills it in over its first timer ticks). The hub's event
        count is read from the API after the logout returned, so it covers that logout; a
        snapshot's count says which events it shows: no guess from time or from a stale user list."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
        deadline = time.monotonic() + COMPLETE_WAIT_SECONDS
        since: Optional[int] = None
        while time.monotonic() < deadline:
            try:
                with opener.open(f"http://127.0.0.1:{self.api_port}/health", timeout=2) as resp:
                    health = json.load(resp)
                if since is None:
                    since = int(health["hub_events"])
                if health["cache_complete"] and int(health["snapshot_events"]) >= since:
                    return True
            except (OSError, ValueError, KeyError, TypeError):
                pass
            time.sleep(0.05)
        return False

    # --- life on the hub -----------------------------------------------------------------------

    def _schedule_chatter(self) -> None:
        """Hub thread: a chat line every few seconds; now and then someone leaves or comes back."""
        assert self.hub is not None
        self.hub.call_later(self.rng.uniform(2.0, 6.0), self._chatter)

    def _chatter(self) -> None:
        if not self._running:
            return
        online = [u for u in self.users.values() if u.connected]
        roll = self.rng.random()
        if online and roll < 0.85:
            self.rng.choice(online).say(self.rng.choice(_LINES))
        elif online and roll < 0.92:
            self.rng.choice(online).logout()
        else:
            gone = [p for p in PEOPLE if not self.users.get(p[0]) or not self.users[p[0]].connected]
            if gone:
                self._join(*self.rng.choice(gone))
        self._schedule_chatter()

    # --- stop ----------------------------------------------------------------------------------

    def stop(self) -> list[str]:
        """Shut the hub down the orderly way (OnUnLoad lets the scripts stop their threads and free
        their ports, F17), then remove the temporary folder. Returns what broke the hub's rules
        meanwhile (thread-rule violations F58, a crash A13), one line each, for the caller to report."""
        hub, self.hub = self.hub, None
        self._running = False
        problems: list[str] = []
        if hub is not None:
            hub.shutdown(0)
            problems = [str(v).splitlines()[0] for v in hub.plugin.violations]
            if hub.crashed is not None:
                problems.append(f"the hub crashed: {hub.crashed}")
        if self.peer is not None:
            self.peer.stop()
        shutil.rmtree(self.basedir, ignore_errors=True)
        return problems

    def leftovers(self) -> list[str]:
        """Threads still alive besides the caller's (what a clean stop must not leave behind)."""
        me = threading.current_thread()
        return [t.name for t in threading.enumerate() if t is not me and t.is_alive()]

    def _note(self, line: str) -> None:
        print(f"vhctl demo: {line}", file=self.err, flush=True)


class HeldText(io.TextIOBase):
    """A text stream that keeps what is written (from any thread) until ``release()``, then passes
    everything on to ``target``: the demo's first lines must come first, also in a terminal that
    shows stdout and stderr together."""

    def __init__(self, target: TextIO) -> None:
        super().__init__()
        self._target = target
        self._held: Optional[list[str]] = []
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            if self._held is not None:
                self._held.append(text)
            else:
                self._target.write(text)
        return len(text)

    def flush(self) -> None:
        with self._lock:
            if self._held is None:
                self._target.flush()

    def release(self) -> None:
        """Write out what was held; from now on pass writes straight through (idempotent)."""
        with self._lock:
            held, self._held = self._held, None
            if held:
                self._target.write("".join(held))
            self._target.flush()


@dataclass
class DemoOutcome:
    """How a demo run ended: threads left alive and hub-rule problems (both empty when clean)."""

    leftovers: list[str]
    problems: list[str]


def run(hub_port: int, api_port: int, seconds: Optional[float], mode: str,
        out: Callable[[str], None], stop: threading.Event, err: TextIO = sys.stderr,
        bridge: Optional[BridgeTarget] = None) -> DemoOutcome:
    """Start the demo, print its first lines with ``out``, run until ``stop`` is set or ``seconds``
    pass, stop cleanly."""
    held = HeldText(err)
    demo = Demo(hub_port, api_port, mode, cast(TextIO, held), bridge=bridge)  # makes nothing on disk
    problems: list[str] = []
    try:
        # what the hub, its scripts and the demo write while starting comes after the first lines
        with contextlib.redirect_stdout(held), contextlib.redirect_stderr(held):
            info = demo.start()
        for line in info.lines():
            out(line)
        held.release()
        try:
            stop.wait(seconds)
        except KeyboardInterrupt:  # Ctrl-C ends the demo like SIGTERM does
            pass
    finally:
        held.release()
        problems = demo.stop()
    deadline = time.monotonic() + 3
    while demo.leftovers() and time.monotonic() < deadline:
        time.sleep(0.05)
    return DemoOutcome(demo.leftovers(), problems)
