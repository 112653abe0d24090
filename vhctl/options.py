"""Options several commands share, declared once so that they read and behave the same everywhere."""

from __future__ import annotations

from typing import Annotated

import typer

#: ``--json``: the command's result as one JSON document.
JsonOption = Annotated[bool, typer.Option("--json", help="print the result as JSON")]
#: ``--timeout``: the longest wait for each network check, so a hung hub cannot hang a cron job.
TimeoutOption = Annotated[float, typer.Option("--timeout", min=0.1, max=30.0, metavar="SECONDS",
                                              help="longest wait for each network check")]
