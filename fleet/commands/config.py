"""``fleet config check [FILE]``: validate fleet.toml without starting anything."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="fleet.toml: validate the configuration.", no_args_is_help=True)


@app.command("check")
def check(
    file: Annotated[
        Path | None,
        typer.Argument(help="The file to check (default: $FLEET_CONFIG, else ./fleet.toml)."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print errors only.")] = False,
) -> None:
    """Validate every key, cron line and time zone; exit 1 with file:line errors if any."""
    from scheduler.config import ConfigError, config_path, load_config, trigger_for

    Console(stderr=True)
    path = config_path(file)
    try:
        config = load_config(path, required=True)
    except ConfigError as exc:
        for problem in exc.problems:
            typer.echo(problem.render(exc.path), err=True)  # one line each, never wrapped
        raise typer.Exit(1) from None
    if quiet:
        return
    now = datetime.now(UTC)
    table = Table(title=f"{path}: valid")
    for col in ("account", "schedule", "time zone", "next run"):
        table.add_column(col)
    for acct in config.accounts:
        if acct.schedule is None:
            table.add_row(acct.key, "on demand only", "", "")
            continue
        nxt = trigger_for(acct.schedule).get_next_fire_time(None, now)
        paused = not acct.enabled or not config.portals[acct.portal].enabled
        table.add_row(
            acct.key,
            acct.schedule.cron,
            acct.schedule.timezone,
            "disabled" if paused else (nxt.isoformat(timespec="minutes") if nxt else "never"),
        )
    Console().print(table)
    Console().print(
        f"{len(config.portals)} portals, {len(config.accounts)} accounts, "
        f"dispatch {config.scheduler.dispatch}"
    )


@app.callback()
def _group() -> None:
    """fleet.toml: validate the configuration."""
