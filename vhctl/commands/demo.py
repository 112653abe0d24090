"""`vhctl demo`: a simulated Verlihub with lively users and the vhctl scripts loaded."""

from __future__ import annotations

import signal
import threading
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from vhctl_hub.config import BridgeSettings, ConfigError, Settings

from vhctl import plugin_lib
from vhctl.errors import VhctlError

if TYPE_CHECKING:  # the demo's machinery is imported only when the demo runs
    from vhctl.demo_bridge import BridgeTarget

HELP = """Run a simulated Verlihub 1.7 hub with ~30 chatting users and vhctl's REST API loaded.

The hub is real NMDC on 127.0.0.1: any DC client can connect. The scripts are rendered with a
demo configuration into a private temporary folder and loaded the way an operator would
(!pyload, then !api start PORT). The first lines printed are always:

  hub: dchub://127.0.0.1:PORT

  api: http://127.0.0.1:PORT

  op: NICK PASSWORD        (a registered master account, class 10)

then a token: line (a throwaway API token: send it as "Authorization: Bearer TOKEN" to see private
fields) and a bridge: line. The chat bridge is loaded too (!pyload matterbridge.py) and connected to a
built-in Matterbridge stand-in with a few simulated remote users, or with --matterbridge URL to a
real Matterbridge.

It runs until Ctrl-C, SIGTERM or --for SECONDS, then stops everything and removes its folder.

Examples:

  vhctl demo                              # ports chosen for you

  vhctl demo --hub-port 4111 --api-port 8000

  vhctl demo --for 60 --mode sub          # one minute, sub-interpreter build

  vhctl demo --matterbridge http://127.0.0.1:4242 --matterbridge-token-env T

  microdc2     # then: set nick HubOwner / set password PASSWORD /
               #       connect 127.0.0.1:4111
"""


class Mode(str, Enum):
    """The plugin builds the simulator can be: every script in one interpreter, or one each."""

    single = plugin_lib.SINGLE
    sub = plugin_lib.SUB


def _port_option(flag: str, help: str) -> Any:
    """An option for a TCP port to listen on (0: the system chooses a free one)."""
    return typer.Option(flag, min=0, max=65535, metavar="PORT", help=help)


def register(app: typer.Typer) -> None:
    @app.command("demo", help=HELP)
    def demo_command(
        hub_port: Annotated[int, _port_option("--hub-port", "NMDC port of the hub (0 = any free port)")] = 0,
        api_port: Annotated[int, _port_option("--api-port", "port of the REST API (0 = any free port)")] = 0,
        seconds: Annotated[Optional[float], typer.Option(
            "--for", min=0, metavar="SECONDS", help="stop by itself after this many seconds")] = None,
        mode: Annotated[Mode, typer.Option(
            "--mode", help="the plugin build mode to simulate")] = Mode.single,
        matterbridge: Annotated[Optional[str], typer.Option(
            "--matterbridge", metavar="URL",
            help="bridge to this Matterbridge API instead of the built-in stand-in")] = None,
        token_env: Annotated[Optional[str], typer.Option(
            "--matterbridge-token-env", metavar="VAR",
            help="environment variable holding that Matterbridge's API token")] = None,
        gateway: Annotated[str, typer.Option(
            "--matterbridge-gateway", metavar="NAME",
            help="Matterbridge gateway to bridge the hub chat with")] = BridgeSettings().gateway,
    ) -> None:
        demo(hub_port, api_port, seconds, mode, bridge_target(matterbridge, token_env, gateway))


def bridge_target(url: Optional[str], token_env: Optional[str], gateway: str) -> "BridgeTarget":
    """The demo's bridge peer from the options, checked like the config file's settings."""
    from vhctl.demo_bridge import BridgeTarget

    if token_env is not None and url is None:
        raise VhctlError("--matterbridge-token-env needs --matterbridge URL")
    try:
        Settings().replace("bridge.gateway", gateway)
        if url is not None:
            Settings().replace("bridge.url", url)
    except ConfigError as exc:
        raise VhctlError(str(exc)) from None
    target = BridgeTarget(url, token_env, gateway)
    target.token()  # a missing variable is an error before anything starts
    return target


def demo(hub_port: int, api_port: int, seconds: Optional[float], mode: Mode,
         bridge: Optional["BridgeTarget"] = None) -> None:
    """Run the demo in the foreground (the options are checked by their types); SIGTERM and Ctrl-C
    stop it cleanly."""
    from vhctl import demo as sim_demo

    stop = threading.Event()

    def on_signal(_signum: int, _frame: Any) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    try:
        outcome = sim_demo.run(hub_port, api_port, seconds, mode.value, lambda line: typer.echo(line), stop,
                               bridge=bridge)
    except KeyboardInterrupt:  # during start-up; the demo stopped itself on the way out
        raise typer.Exit(130) from None
    except OSError as exc:
        raise VhctlError(f"cannot start the demo hub: {exc.strerror or exc}") from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    if outcome.leftovers:
        typer.echo(f"vhctl demo: warning: threads still running: {', '.join(outcome.leftovers)}", err=True)
    if outcome.problems:
        for line in outcome.problems:
            typer.echo(f"vhctl demo: hub rule broken: {line}", err=True)
        raise VhctlError(f"{len(outcome.problems)} hub-rule violation(s) during the demo (see above)")
