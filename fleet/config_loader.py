"""Settings for commands that run the fleet: fleet.toml validated (with the
file and line of any mistake), then FLEET_* variables on top.

One way to read the configuration, so ``fleet run``, ``fleet health`` and the
scheduler see the same portals, URLs and database.
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

from fleet.settings import Settings


def load_settings() -> Settings:
    """The validated configuration as Settings; exits 2 with the problems listed."""
    from scheduler.config import ConfigError, load_config, settings_for

    try:
        return settings_for(load_config())
    except ConfigError as exc:
        Console(stderr=True).print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
