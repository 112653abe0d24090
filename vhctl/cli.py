"""The `vhctl` command line: thin typer commands over the plain functions in ``vhctl.commands``.

Expected failures raise ``VhctlError`` and are printed here as one line (no traceback), exit 1.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import click
import typer

from vhctl import __version__, paths
from vhctl.errors import VhctlError

app = typer.Typer(
    name="vhctl",
    help="Install, configure and run vhctl's REST API and Matterbridge scripts for a Verlihub hub.\n\n"
    "Examples:\n\n"
    "  vhctl demo --for 60          # a simulated hub with the scripts loaded\n\n"
    "  vhctl install --plugin /usr/local/lib/libpython_pi.so\n\n",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class State:
    """Options every command shares."""

    config_path: Path = paths.user_config_file()


state = State()


def _version(value: bool) -> None:
    if value:
        typer.echo(f"vhctl {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    config: Optional[Path] = typer.Option(
        None, "--config", "-c", metavar="PATH",
        help=f"config file (default: ${paths.CONFIG_ENV}, else {paths.user_config_file()}, "
        f"else {paths.SYSTEM_CONFIG})"),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="print the version and exit"),
) -> None:
    state.config_path = paths.config_file(config)


def _register() -> None:
    """Attach each command module's typer function (one module per command)."""
    from vhctl.commands import register_all

    register_all(app)


def main(argv: Optional[list] = None) -> None:
    """Console-script entry point."""
    _register()
    try:
        app(args=argv, standalone_mode=False)
    except VhctlError as exc:
        typer.echo(f"vhctl: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        typer.echo("vhctl: aborted", err=True)
        sys.exit(130)
    except click.exceptions.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("vhctl: interrupted", err=True)
        sys.exit(130)
