"""``fleet scheduler`` (the service, and pause/resume/status) and ``fleet worker``.

Wire with ``register(app)``: it adds the ``scheduler`` group and the
top-level ``worker`` command.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from fleet.settings import Settings
    from scheduler.config import FleetConfig

app = typer.Typer(
    help="Run bots on their schedules (the service), pause and resume accounts.",
    invoke_without_command=True,
)

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", help="fleet.toml (default: $FLEET_CONFIG or ./fleet.toml)."),
]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="scheduler")
    root.command("worker")(worker)


def _load(config_file: Path | None) -> tuple[FleetConfig, Settings]:
    from fleet.config_loader import settings_for
    from scheduler.config import ConfigError, load_config

    try:
        config = load_config(config_file, required=config_file is not None)
        return config, settings_for(config)
    except ConfigError as exc:
        err = Console(stderr=True)
        for problem in exc.problems:
            typer.echo(problem.render(exc.path), err=True)
        err.print("not starting: fix fleet.toml (fleet config check shows every problem)")
        raise typer.Exit(2) from None


@app.callback()
def scheduler(ctx: typer.Context, config_file: ConfigOpt = None) -> None:
    """Run the scheduler service until SIGTERM (a second one waits as a hot standby)."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = config_file
        return
    from fleet.accounts import follow_fleet_toml
    from fleet.cli import setup_logging
    from fleet.runtime_factory import runtime_factory_for
    from scheduler.service import serve

    setup_logging(log_file=True)
    config, settings = _load(config_file)
    follow_fleet_toml(settings.resolved_database_url, config_file)
    if config.scheduler.dispatch == "celery" and not settings.broker_url:
        Console(stderr=True).print("[red]error:[/] dispatch = celery needs broker_url")
        raise typer.Exit(2)
    from credentials.backends import KeyringConfigError
    from fleet.notifications import NotificationSetupError, notifier_for

    try:
        notifier = notifier_for(config, settings)
    except NotificationSetupError as exc:
        Console(stderr=True).print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    try:
        asyncio.run(serve(config, settings, runtime_factory_for(config, settings), notifier))
    except KeyringConfigError as exc:  # the in-process pool reads logins from the keyring
        Console(stderr=True).print(f"[red]error:[/] {exc}", markup=True, highlight=False)
        raise typer.Exit(2) from None


def _engine(config_file: Path | None) -> Engine:
    from store.db import init_db

    _config, settings = _load(config_file)
    return init_db(settings.resolved_database_url)


@app.command("pause")
def pause(
    ctx: typer.Context,
    portal: Annotated[str, typer.Argument(help="Portal name.")],
    account: Annotated[
        str | None, typer.Argument(help="Account (default: all on the portal).")
    ] = None,
) -> None:
    """Skip an account's (or a portal's) scheduled runs from now on; no restart needed."""
    import getpass

    from scheduler import state

    changed = state.pause(
        _engine(ctx.obj), portal, account or state.ALL_ACCOUNTS, by=f"cli:{getpass.getuser()}"
    )
    Console(stderr=True).print(
        f"{portal} {account or '(all accounts)'}: " + ("paused" if changed else "already paused")
    )


@app.command("resume")
def resume(
    ctx: typer.Context,
    portal: Annotated[str, typer.Argument(help="Portal name.")],
    account: Annotated[
        str | None, typer.Argument(help="Account (default: all on the portal).")
    ] = None,
) -> None:
    """Let an account's scheduled runs happen again (from its next scheduled time)."""
    from scheduler import state

    changed = state.resume(_engine(ctx.obj), portal, account or state.ALL_ACCOUNTS)
    Console(stderr=True).print(
        f"{portal} {account or '(all accounts)'}: " + ("resumed" if changed else "was not paused")
    )


@app.command("status")
def status(ctx: typer.Context) -> None:
    """Stored schedules with their next run, and paused accounts."""
    from sqlalchemy import inspect, text

    from scheduler import state
    from scheduler.service import JOB_ID_PREFIX, JOBSTORE_TABLE
    from store.db import plain_rows

    engine = _engine(ctx.obj)
    paused = state.paused(engine)
    table = Table(title="Schedules (in the fleet database)")
    for col in ("account", "next run (UTC)", "paused"):
        table.add_column(col)
    if inspect(engine).has_table(JOBSTORE_TABLE):
        with engine.connect() as conn:
            rows = list(
                plain_rows(
                    conn.execute(
                        text(f"SELECT id, next_run_time FROM {JOBSTORE_TABLE} ORDER BY id")  # noqa: S608
                    )
                )
            )
        for jid, nxt in rows:
            key = jid.removeprefix(JOB_ID_PREFIX)
            portal, _, account = key.partition(":")
            when = datetime.fromtimestamp(nxt, UTC).isoformat(timespec="minutes") if nxt else "-"
            is_paused = (portal, account) in paused or (portal, state.ALL_ACCOUNTS) in paused
            table.add_row(f"{portal}/{account}", when, "yes" if is_paused else "")
    Console().print(table)
    for portal, account in sorted(paused):
        if account == state.ALL_ACCOUNTS:
            Console().print(f"portal paused: {portal}")


def worker(
    queues: Annotated[
        str | None,
        typer.Option(help="Comma-separated portals (or fleet.<portal> queues); default: all."),
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option(help="Jobs at once in this process (default: max_contexts).")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Worker name (default: celery@host).")] = None,
    config_file: ConfigOpt = None,
) -> None:
    """Run a Celery worker: one browser, jobs from the portals' queues (FLEET_BROKER_URL)."""
    from fleet.accounts import follow_fleet_toml
    from fleet.cli import setup_logging
    from fleet.runtime_factory import runtime_factory_for
    from scheduler.worker import run_worker

    setup_logging(log_file=True)
    config, settings = _load(config_file)
    follow_fleet_toml(settings.resolved_database_url, config_file)
    if not settings.broker_url:
        Console(stderr=True).print("[red]error:[/] no broker: set FLEET_BROKER_URL or broker_url")
        raise typer.Exit(2)
    wanted = [q.strip() for q in queues.split(",") if q.strip()] if queues else None
    try:
        run_worker(
            config,
            settings,
            runtime_factory=runtime_factory_for(config, settings),
            queues=wanted,
            concurrency=concurrency,
            name=name,
        )
    except ValueError as exc:
        Console(stderr=True).print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
