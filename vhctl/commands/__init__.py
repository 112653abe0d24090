"""One module per command; each exposes ``register(app)`` adding its typer command."""

from __future__ import annotations

import importlib

import typer

#: Command modules in the order `vhctl --help` lists them.
COMMANDS = ("install", "configure", "render", "token", "matterbridge_toml", "status", "doctor", "demo")


def register_all(app: typer.Typer) -> None:
    """Register every command module on ``app``."""
    for name in COMMANDS:
        importlib.import_module(f"vhctl.commands.{name}").register(app)
