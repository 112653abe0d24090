"""The ``!bridge`` chat commands: parsing, the replies, and the slow part handed to a thread.

The handlers run on the hub thread and take microseconds: they check the words (and the settings
model), then answer at once or start a short command thread that answers with ``call.reply``. That
thread writes the keyring or the config file and asks the component (``Bridge``) to start, stop or
use a new gateway or token; it never calls ``vh``. Who may use the commands is the class set in
``bridge.command_class``; the token is only taken by private message.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Literal, Optional, Protocol

from vhctl_hub.bridge import report, secret
from vhctl_hub.bridge.link import Link
from vhctl_hub.bridge.outbox import Outbox
from vhctl_hub.bridge.persist import save_setting
from vhctl_hub.commands import CommandCall, CommandSet
from vhctl_hub.component import Context
from vhctl_hub.config import ConfigError
from vhctl_hub.hublog import log_exception
from vhctl_hub.secrets import KeyringUnavailable

MAX_TOKEN = 512

#: What ``Bridge.operator_start`` found: the runtime has not started the component (or is stopping
#: it), the link already ran, or it was started now.
StartOutcome = Literal["inactive", "running", "started"]


class Bridge(Protocol):
    """What the commands ask of the bridge component, from a command thread (``status`` and
    ``linked`` from the hub thread)."""

    def operator_start(self) -> StartOutcome: ...
    def operator_stop(self) -> bool: ...
    def new_gateway(self, name: str) -> None: ...
    def use_token(self, token: str, saved: bool) -> None: ...
    def status(self) -> Dict[str, Any]: ...
    def linked(self) -> bool: ...


class BridgeCommands:
    """The ``!bridge`` subcommands of one component instance."""

    def __init__(self, ctx: Context, bridge: Bridge, link: Link, outbox: Outbox) -> None:
        self.ctx = ctx
        self.bridge = bridge
        self.link = link
        self.outbox = outbox
        self._config = ctx.settings  # what chat commands changed, checked by the one model

    def command_set(self) -> CommandSet:
        cmds = CommandSet("bridge", min_class=self.ctx.settings.bridge.command_class,
                          summary="the Matterbridge chat bridge")
        cmds.sub("start", "", "connect to Matterbridge (it starts by itself unless stopped)")(self._cmd_start)
        cmds.sub("stop", "", "disconnect; hub chat is not relayed until started again")(self._cmd_stop)
        cmds.sub("status", "", "connection, queues, counters and the last error")(self._cmd_status)
        cmds.sub("config", "<url>", "set the Matterbridge API address (saved)")(self._cmd_config)
        cmds.sub("token", "<token>", "set the Matterbridge token (only by PM to the hub bot; kept in the "
                 "keyring)")(self._cmd_token)
        cmds.sub("gateway", "<name>", "set the Matterbridge gateway name (saved)")(self._cmd_gateway)
        cmds.sub("channel", "<name>", "why the channel of an API account cannot be changed")(self._cmd_channel)
        return cmds

    def _in_thread(self, call: CommandCall, what: str, work: Callable[[], str]) -> None:
        """Run ``work`` on a command thread; its line (or its failure) is the reply."""

        def run() -> None:
            try:
                call.reply(work())
            except Exception as exc:  # noqa: BLE001 - the operator must always get an answer
                log_exception(f"bridge {what} failed", exc)
                call.reply(f"bridge {what} failed: {type(exc).__name__}")

        self.ctx.start_thread(run, what)

    def _cmd_start(self, call: CommandCall) -> None:
        def work() -> str:
            outcome = self.bridge.operator_start()
            if outcome == "inactive":
                return "bridge not started: the script is starting or stopping right now; try again shortly"
            if outcome == "running":
                return f"bridge already running (to {self.link.url}, gateway {self.link.gateway})"
            return f"bridge started: connecting to {self.link.url}, gateway {self.link.gateway}"

        self._in_thread(call, "start", work)

    def _cmd_stop(self, call: CommandCall) -> None:
        def work() -> str:
            was_running = self.bridge.operator_stop()
            kept = len(self.outbox)
            return ("bridge stopped" + (f"; {kept} lines kept for when it starts again" if kept else "")
                    if was_running else "bridge is not running")

        self._in_thread(call, "stop", work)

    def _cmd_status(self, call: CommandCall) -> str:
        return "\n".join(report.status_lines(self.ctx.status.snapshot(), self.bridge.status(),
                                             self.bridge.linked()))

    def _cmd_config(self, call: CommandCall) -> Optional[str]:
        return self._set(call, "config", "url", "Matterbridge address", lambda v: self.link.update(url=v))

    def _cmd_gateway(self, call: CommandCall) -> Optional[str]:
        return self._set(call, "gateway", "gateway", "gateway", self.bridge.new_gateway)

    def _set(self, call: CommandCall, word: str, name: str, label: str,
             apply: Callable[[str], None]) -> Optional[str]:
        """`!bridge config|gateway VALUE`: checked by the settings model, applied, saved."""
        if len(call.args) != 1:
            return f"usage: {call.prefix}bridge {word} <{name}>"
        value = call.args[0]
        try:
            self._config = self._config.replace(f"bridge.{name}", value)
        except ConfigError as exc:
            return f"{call.prefix}bridge: {str(exc).split(': ', 1)[-1]}"

        def work() -> str:
            apply(value)
            try:
                save_setting(self.ctx.config_file, f"bridge.{name}", value)
            except ConfigError as exc:
                return f"{label} set to {value} for now, but not saved: {exc}"
            return f"{label} set to {value} (saved in {self.ctx.config_file}); reconnecting"

        self._in_thread(call, name, work)
        return None

    def _cmd_token(self, call: CommandCall) -> Optional[str]:
        if not call.in_pm:
            return (f"{call.prefix}bridge token is only accepted in a private message to the hub bot. "
                    "What you typed was seen by others: make a new token in Matterbridge's config.")
        if len(call.args) != 1 or len(call.args[0]) > MAX_TOKEN:
            return f"usage: {call.prefix}bridge token <token> (one word, at most {MAX_TOKEN} characters)"
        token = call.args[0]

        def work() -> str:
            try:
                secret.store_token(token)
            except KeyringUnavailable as exc:
                self.bridge.use_token(token, saved=False)
                return f"token in use until the next reload, but not saved: {exc}"
            self.bridge.use_token(token, saved=True)
            return "token saved in the keyring; reconnecting with it"

        self._in_thread(call, "token", work)
        return None

    def _cmd_channel(self, call: CommandCall) -> str:
        return ("Matterbridge always uses the channel name 'api' for an API account, whatever is "
                "configured, so there is nothing to change here. To send hub chat somewhere else, "
                f"change the gateway ({call.prefix}bridge gateway NAME) or the accounts listed in "
                "that gateway in Matterbridge's own configuration.")
