"""The `vhctl` command line: thin typer commands over the plain functions in ``vhctl.commands``.

How a run ends, the same with every typer/click this project allows (older typer uses the
``click`` package, newer ones such as 0.29 carry their own copy as ``typer._click``, whose
exceptions are other classes):

- an expected failure (``VhctlError``): ``vhctl: error: ...`` on one line, exit 1 (or its code);
- a usage error (unknown command or option, a value of the wrong type): click's usage line and
  ``Error: ...``, exit 2; bare ``vhctl`` shows the help and exits 2 too;
- Ctrl-C: ``vhctl: interrupted``, exit 130. Commands undo what they had started on the way out.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
import typer.core

from vhctl import __version__, paths
from vhctl.commands import register_all
from vhctl.errors import VhctlError
from vhctl.state import state

#: The click that this typer parses with: its own copy (``typer._click``) or the click package.
click: Any = getattr(typer.core, "_click", None) or getattr(typer.core, "click", None)
if getattr(typer.core, "rich", None) is not None:
    # Older typer formats help and errors with rich whenever it is installed, ignoring
    # rich_markup_mode=None: boxes wider than the text and errors on stdout. Plain click output,
    # the same with every allowed typer, is what the help texts and tests are written for.
    typer.core.rich = None  # type: ignore[attr-defined]  # gone from newer typer, hence the getattr

#: Ctrl-C (or end of input at a prompt) as typer/click report it: one class, or two in newer typer.
ABORTS = tuple({typer.Abort, getattr(click.exceptions, "Abort", typer.Abort)})

#: Set by the shell's completion script; the run then answers a completion request (no arguments).
COMPLETE_VAR = "_VHCTL_COMPLETE"
USAGE_EXIT = 2
INTERRUPTED_EXIT = 130

app = typer.Typer(
    name="vhctl",
    help="Install, configure and run vhctl's REST API and Matterbridge scripts for a Verlihub hub.\n\n"
    "Examples:\n\n"
    "  vhctl demo --for 60\n\n"
    "  vhctl install --plugin /usr/local/lib/libpython_pi.so\n\n"
    "  vhctl --install-completion bash    # then open a new shell\n\n",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"max_content_width": 80},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"vhctl {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    config: Annotated[Optional[Path], typer.Option(
        "--config", "-c", metavar="PATH", readable=False,  # read by the command: its error, in --json too
        help=f"config file (default: ${paths.CONFIG_ENV}, else ~/.config/vhctl/config.toml, else "
        f"{paths.DEFAULT_SYSTEM_CONFIG} if only that exists)")] = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="print the version and exit")] = False,
) -> None:
    state.config_option = config


def keep_examples(text: str) -> str:
    """Help text whose indented paragraphs (examples, sample output) click prints as written:
    click rewraps every paragraph to the terminal's width, except one that starts with ``\\b``,
    so consecutive indented paragraphs become one such block, each line kept whole."""
    out: list[str] = []
    for paragraph in text.split("\n\n"):
        lines = paragraph.strip("\n").splitlines()
        if lines and all(line.startswith("  ") for line in lines):
            if out and out[-1].startswith("\b\n"):
                out[-1] += "\n" + "\n".join(lines)
            else:
                out.append("\b\n" + "\n".join(lines))
        else:
            out.append(paragraph)
    return "\n\n".join(out)


def _keep_all_examples(group: typer.Typer) -> None:
    """``keep_examples`` on the help of ``group``, its commands and its sub-groups."""
    if isinstance(group.info.help, str):
        group.info.help = keep_examples(group.info.help)
    for info in group.registered_commands:
        if isinstance(info.help, str):
            info.help = keep_examples(info.help)
    for sub in group.registered_groups:
        if isinstance(sub.help, str):
            sub.help = keep_examples(sub.help)
        if sub.typer_instance is not None:
            _keep_all_examples(sub.typer_instance)


# One module per command; the command modules import only vhctl.state, never this module.
register_all(app)
_keep_all_examples(app)


class _Interrupts:
    """Remembers whether SIGINT arrived, so that exit 130 is told apart from a command's own codes
    (typer turns a KeyboardInterrupt into Exit(130) or Abort depending on its version)."""

    def __init__(self) -> None:
        self.seen = False

    def handler(self, _signum: int, _frame: Any) -> None:
        self.seen = True
        raise KeyboardInterrupt


def _show_help() -> None:
    command = typer.main.get_command(app)
    with command.make_context("vhctl", [], resilient_parsing=True) as ctx:
        typer.echo(command.get_help(ctx), err=True)


def _run(argv: list[str], interrupts: _Interrupts) -> int:
    """Run one command line; returns the exit code."""
    try:
        if not argv and not os.environ.get(COMPLETE_VAR):
            _show_help()
            return USAGE_EXIT
        result = app(args=argv, prog_name="vhctl", standalone_mode=False)
    except KeyboardInterrupt:
        return INTERRUPTED_EXIT
    except VhctlError as exc:
        typer.echo(f"vhctl: error: {exc}", err=True)
        return exc.exit_code
    except click.exceptions.ClickException as exc:
        exc.show()
        return exc.exit_code
    except ABORTS:
        if not interrupts.seen:
            typer.echo("vhctl: aborted", err=True)
        return INTERRUPTED_EXIT if interrupts.seen else 1
    except typer.Exit as exc:
        return int(exc.exit_code)
    except SystemExit as exc:  # typer's own exit, e.g. after stdout was closed early (`| head`)
        return exc.code if isinstance(exc.code, int) else 1
    return result if isinstance(result, int) else 0


def main(argv: Optional[list] = None) -> None:
    """Console-script entry point."""
    interrupts = _Interrupts()
    signal.signal(signal.SIGINT, interrupts.handler)
    code = _run(list(sys.argv[1:] if argv is None else argv), interrupts)
    if interrupts.seen and code != 0:
        typer.echo("vhctl: interrupted", err=True)
        code = INTERRUPTED_EXIT
    sys.exit(code)
