"""The Matterbridge bridge as a runtime component: lifecycle and the hub-side hooks; the ``!bridge``
commands (``chatcommands``) act on it through the few methods at the end.

What runs where:
- hub thread: ``__init__``, ``on_chat`` (cheap checks and one append to the outbox: the hub thread
  never touches the network), the command handlers of ``chatcommands`` (parse, then hand the slow
  part to a thread);
- the poster thread (``poster``): hub lines to Matterbridge, and the outbox spool;
- the reader thread (``reader``): Matterbridge's messages, made into escaped main-chat lines and
  queued in the ``inlet``, which the hub thread drains in batches as work items of the runtime's
  queue (so under its time budget), in arrival order;
- short command threads: keyring and config-file writes, starting and stopping the link.

The bridge starts with the component (after ``!pyreload`` or a hub restart too) unless an operator
stopped it with ``!bridge stop``. Lines that wait for Matterbridge go to the next instance through
the outbox spool (see ``outbox``). The WebSocket is handed over without a gap: a new instance
connects as soon as it is built (its inlet held), the old one waits for that before it lets go, and
the two files of ``handover`` make every message shown exactly once (see there).

Hub lines never relayed: commands (``+ ! /``), the bridge bot's, the hub-security and OpChat bots',
``ignore_nicks`` and users below ``min_class_to_send``.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any, Dict, List, Optional

from vhctl_hub.bridge import gatewaycheck, report, secret
from vhctl_hub.bridge.backoff import Backoff
from vhctl_hub.bridge.chatcommands import BridgeCommands, StartOutcome
from vhctl_hub.bridge.handover import CONNECTED, GAVE_UP, Handover
from vhctl_hub.bridge.inlet import Entry, Inlet, message_key
from vhctl_hub.bridge.link import Link, LinkReport
from vhctl_hub.bridge.outbox import Outbox, Spool, spool_dir
from vhctl_hub.bridge.poster import Poster
from vhctl_hub.bridge.reader import Reader
from vhctl_hub.bridge.relay import inbound, relayable
from vhctl_hub.bridge.ringread import Recovery
from vhctl_hub.commands import CommandSet
from vhctl_hub.component import Component, Context
from vhctl_hub.secrets import KeyringUnavailable
from vhctl_hub.statedir import fallback_state_dir
from vhctl_hub.text import HubCodec, safe_lines, valid_nick

#: How long the link threads get to end, seconds.
JOIN_TIMEOUT = 3.0
#: How long a command waits for the runtime to start the component (just after a load), seconds.
START_WAIT = 3.0
#: A pre-connected instance the runtime never starts (a newer one took over first) lets go after
#: this long, seconds (beyond the runtime's wait for the previous instance).
PRECONNECT_LIMIT = 25.0
#: Main chat reaches every class (F65).
ALL_CLASSES = (0, 10)


class BridgeComponent(Component):
    """The hub's main chat <-> one Matterbridge API account (see the module docstring)."""

    name = "bridge"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.settings = ctx.settings.bridge
        self.link = Link(self.settings.url, self.settings.gateway, self.settings.account)
        self.outbox = Outbox(self.settings.queue_size)
        self.spool = Spool(ctx.state_dir or spool_dir(ctx.settings.hub.state_dir, fallback_state_dir()))
        self._commands = BridgeCommands(ctx, self, self.link, self.outbox)
        self.bots = frozenset(n for n in (self.settings.bot_nick, *self._hub_bots()) if n)
        self.ignored = frozenset(self.settings.ignore_nicks)
        self.auth = "not read yet"
        self._wanted = True       # an operator's `!bridge stop` clears it
        self._active = threading.Event()  # from the runtime's start() to its stop()
        self._busy = threading.Lock()     # one start/stop at a time
        self._halt_link = threading.Event()
        self._reader: Optional[Reader] = None
        self._reader_thread: Optional[threading.Thread] = None
        self._threads: list = []
        self._spool_read = False
        self._started_at = time.time()
        self._last_from_gateway: Optional[float] = None
        self._quiet_since = self._started_at  # reset when the gateway is changed from chat
        #: Gateway names of the messages received (M48), for the gateway check (a few at most).
        self._gateways_seen: set = set()
        #: Seconds of lines sent and nothing back from the gateway before status warns (M22).
        self.quiet_after = report.QUIET_WARNING
        codec = HubCodec(self._hub_setting("hub_encoding"))
        self._codec = codec
        bot = self.settings.bot_nick
        self._bot = codec.outgoing(bot) if valid_nick(bot) else None
        self._max_line = ctx.settings.runtime.max_line
        self.inlet = Inlet(self._send_lines, ctx.submit, ctx.status.count, held=True)
        self.handover = Handover(self.spool.path.parent, uuid.uuid4().hex, self._started_at)
        self._launched = threading.Event()  # the first _launch: the inlet is released then
        try:
            self.handover.announce()  # before the runtime tells the old instance to stop
        except OSError as exc:
            self.ctx.log(f"cannot announce the hand-over: {exc}")
        ctx.start_thread(self._preconnect, "preconnect")

    def _hub_bots(self) -> tuple:
        """Hub thread, at load: the hub-security and OpChat nicks (their lines are the hub's own)."""
        return tuple(n for n in (self._hub_setting(v) for v in ("hub_security", "opchat_name")) if n)

    def _hub_setting(self, var: str) -> str:
        try:
            return self.ctx.vh.get_config(var)
        except Exception:  # noqa: BLE001 - a hub without it
            return ""

    # ---------------------------------------------------------------- runtime lifecycle
    def start(self) -> None:
        """Supervisor thread: connect unless an operator stopped the bridge."""
        with self._busy:
            self._active.set()
            if self._launched.is_set():  # again, after the runtime paused us: our baton is void
                self._withdraw()
            if self._wanted and not self._threads:
                self._launch()

    def stop(self) -> None:
        """Any thread: hand the link over to a successor (see ``handover``), then end the link
        threads; waiting lines go to the spool for the next instance."""
        with self._busy:
            self._active.clear()
            self._pass_on()
            self._halt()

    def on_tick(self, now: float) -> None:
        """Hub thread: a drain is queued if messages wait and none is (after a full work queue)."""
        self.inlet.kick()

    def on_chat(self, nick: str, text: str) -> None:
        """Hub thread: microseconds, no I/O. The line waits in the outbox for the poster thread."""
        if not self._wanted or not relayable(nick, text, self.bots, self.ignored):
            return
        if self.settings.min_class_to_send and self._user_class(nick) < self.settings.min_class_to_send:
            return
        self.outbox.put(nick, text)

    def _user_class(self, nick: str) -> int:
        try:
            value = self.ctx.vh.call("GetUserClass", self.ctx.cache.vh_nick(nick))
        except Exception:  # noqa: BLE001 - unknown user: treat as the lowest class
            return 0
        return value if isinstance(value, int) else 0

    def status(self) -> Dict[str, Any]:
        """Extra status fields (the token only as its state)."""
        counters = self.ctx.status.get("counters") or {}
        quiet = self._last_from_gateway is None and time.time() - self._quiet_since > self.quiet_after
        gateway_note = gatewaycheck.from_traffic(self.link.gateway, list(self._gateways_seen),
                                                 counters.get("out_sent", 0), quiet)
        return {"url": self.link.url, "gateway": self.link.gateway, "account": self.link.account or None,
                "auth": self.auth, "waiting": len(self.outbox), "dropped": self.outbox.dropped,
                "waiting_in": len(self.inlet),
                "spool": str(self.spool.path), "running": self.linked(), "gateway_check": gateway_note}

    def linked(self) -> bool:
        """Whether the link threads run (a pre-connected reader before the first launch counts)."""
        return bool(self._threads) or self._reader is not None

    # ---------------------------------------------------------------- the link (component threads)
    def _launch(self) -> None:
        if not self._spool_read:  # once per instance: after `!bridge stop` the lines are still in memory
            self._spool_read = True
            self.outbox.prepend(self.spool.take())
        if self._reader is None:  # not pre-connected (or `!bridge stop` ended it)
            self._start_reader()
        assert self._reader_thread is not None
        initial, cap = self.settings.retry_initial, self.settings.retry_max
        poster = Poster(self.link, self.outbox, self.spool, LinkReport(self.ctx.status, "out"),
                        Backoff(initial, cap), self.settings.hub_to_bridge_format, self._halt_link,
                        self.ctx.notice)
        self._threads = [self.ctx.start_thread(poster.run, "poster"), self._reader_thread]
        if not self._launched.is_set():
            self._launched.set()
            self._take_over()
        self.ctx.log(f"bridging to {self.link.url}, gateway {self.link.gateway}")

    def _start_reader(self) -> None:
        """Any component thread, under ``_busy`` or before the first launch: the reader thread."""
        self._read_token()
        self._halt_link = threading.Event()
        board = self.ctx.status
        report_in = LinkReport(board, "in")
        self._recovery = Recovery(self.link, report_in, self.inlet.known, self._deliver)
        self._reader = Reader(self.link, report_in, Backoff(self.settings.retry_initial, self.settings.retry_max),
                              self._deliver, self._halt_link, self.ctx.notice, self._recovery, self._joined,
                              self._launched.is_set)
        self._reader_thread = self.ctx.start_thread(self._reader.run, "reader")

    # ---------------------------------------------------------------- hand-over (see ``handover``)
    def _preconnect(self) -> None:
        """Component thread, from construction: connect now, show nothing until the first launch.
        Lets go if the runtime never starts this instance (a newer one took over first)."""
        with self._busy:
            if self._launched.is_set() or self._reader is not None:
                return
            self._start_reader()
        deadline = time.monotonic() + PRECONNECT_LIMIT
        told_failure = False
        while not self._launched.wait(0.1):
            if not told_failure and self.ctx.status.get("in_state") in ("retrying", "auth_failed"):
                told_failure = True
                self._mark(GAVE_UP)  # the old instance need not wait for us
            if self.ctx.stopping.is_set() or time.monotonic() > deadline or not self._still_announced():
                with self._busy:
                    if not self._launched.is_set():
                        self._halt()
                return

    def _still_announced(self) -> bool:
        try:
            return self.handover.still_announced()
        except OSError:
            return False

    def _joined(self) -> None:
        """Reader thread, at each connection's first frame: before the first launch, tell the old
        instance that it may let go."""
        if not self._launched.is_set():
            self._mark(CONNECTED)

    def _mark(self, state: str) -> None:
        try:
            self.handover.mark(state)
        except OSError as exc:
            self.ctx.log(f"cannot write the hand-over state: {exc}")

    def _take_over(self) -> None:
        """The first launch: the predecessor's baton, and the ring read back if there was a gap."""
        try:
            baton, since, gapless = self.handover.take_baton()
        except OSError as exc:
            self.ctx.log(f"cannot read the hand-over: {exc}")
            baton, since, gapless = None, None, True
        older: List[Entry] = []
        reader = self._reader
        if not gapless and since is not None and reader is not None:
            if reader.joined:  # read back now, so that the gap comes before what we hold
                older = [e for e in (self._entry(m, message_key(m)) for m in self._recovery.collect(since))
                         if e is not None]
            else:              # the reader reads it back once it is connected
                reader.gap_since = since
        skipped = self.inlet.release(baton, older)
        if baton is not None:
            self.ctx.log(f"took over from the previous instance: {len(baton.waiting)} messages it had not "
                         f"shown, {skipped} it had; {len(older)} read back from Matterbridge's buffer")

    def _withdraw(self) -> None:
        try:
            self.handover.withdraw()
        except OSError as exc:
            self.ctx.log(f"cannot withdraw the hand-over: {exc}")

    def _pass_on(self) -> None:
        """In ``stop``: wait for an announced successor to be connected, then hand it the baton."""
        reader = self._reader
        if reader is None or not self._launched.is_set():
            return
        try:
            successor = self.handover.successor()
            gapless = bool(successor) and self.handover.wait_connected(successor) and reader.joined
            # final unless only paused (the hub stopped calling OnTimer): this instance may go on
            baton = self.inlet.hand_over(final=successor is not None or self.ctx.stopping.is_set())
            self.handover.write_baton(successor, baton, reader.gap_start(), gapless)
        except OSError as exc:
            self.ctx.log(f"cannot hand over to the next instance: {exc}")

    def _halt(self) -> bool:
        """End the link threads (the poster writes the spool as it ends); True if they ran."""
        was_running = bool(self._threads)
        self._halt_link.set()
        self.outbox.wake()
        if self._reader is not None:
            self._reader.close()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(JOIN_TIMEOUT)
        self._threads = []
        self._reader = None
        self._reader_thread = None
        return was_running

    def _read_token(self) -> None:
        try:
            token = secret.read_token()
        except KeyringUnavailable as exc:
            self.auth = "keyring unavailable"  # fine for a Matterbridge without a token; else the 401 says so
            self.ctx.log(f"no Matterbridge token: {exc}; connecting without one")
            token = None
        else:
            self.auth = "token set" if token else "no token"
        self.link.update(token=token or "")

    def _deliver(self, msg: Dict[str, Any]) -> None:
        """Reader thread: one message from Matterbridge, queued for the hub's main chat once."""
        gateway = msg.get("gateway")
        if gateway == self.link.gateway:
            self._last_from_gateway = time.time()
        if isinstance(gateway, str) and gateway not in self._gateways_seen and len(self._gateways_seen) < 16:
            self._gateways_seen.add(gateway)
        key = message_key(msg)
        if self.inlet.known(key):
            self.ctx.status.count("in_duplicates")
            return
        entry = self._entry(msg, key)
        if entry is not None:
            self.inlet.offer(entry)

    def _entry(self, msg: Dict[str, Any], key: str) -> Optional[Entry]:
        """Any component thread: the message as ready protocol lines (escaped, hub-encoded), or None."""
        board = self.ctx.status
        shown = inbound(msg, self.settings.bridge_to_hub_format, self.link.account)
        if shown is None or self._bot is None:
            board.count("in_skipped")
            return None
        if shown.truncated:
            board.count("in_truncated")
        codec, prefix = self._codec, f"<{self._bot}> "
        return Entry(key, [prefix + codec.outgoing(line)
                           for line in safe_lines("\n".join(shown.lines), self._max_line)])

    def _send_lines(self, lines: List[str]) -> None:
        """Hub thread (an inlet work item): several main-chat messages in one send; the hub ends the
        data with ``|`` (F49.7) and every line is escaped, so ``|`` between them separates messages."""
        self.ctx.vh.call("SendDataToAll", "|".join(lines), *ALL_CLASSES)

    # ---------------------------------------------------------------- for the chat commands
    def commands(self) -> CommandSet:
        return self._commands.command_set()

    def operator_start(self) -> StartOutcome:
        """Command thread (``!bridge start``): connect, and relay again after ``!bridge stop``."""
        self._active.wait(START_WAIT)  # right after `!pyload` the runtime may not have started us
        with self._busy:
            if not self._active.is_set():
                return "inactive"
            self._wanted = True
            if self._threads:
                return "running"
            self._launch()
        return "started"

    def operator_stop(self) -> bool:
        """Command thread (``!bridge stop``): end the link, relay nothing until started; True if it ran."""
        with self._busy:
            self._wanted = False
            return self._halt()

    def new_gateway(self, name: str) -> None:
        """Command thread: lines go to ``name`` from now on; the gateway check starts again."""
        self._last_from_gateway, self._quiet_since = None, time.time()
        self._gateways_seen = set()
        self.link.update(gateway=name)

    def use_token(self, token: str, saved: bool) -> None:
        """Command thread: connect with ``token`` from now on (``saved``: it is in the keyring)."""
        self.link.update(token=token)
        self.auth = "token set" if saved else "token set (not saved)"
