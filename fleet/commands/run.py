"""``fleet run``: run bot jobs now, for every enabled account (or a chosen one)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table


def register(app: typer.Typer) -> None:
    app.command("run")(run)


def run(
    portal: Annotated[str | None, typer.Option(help="Only this portal.")] = None,
    account: Annotated[str | None, typer.Option(help="Only this account.")] = None,
    task: Annotated[
        str | None,
        typer.Option(
            help="sync (retailers) or pods (carriers); default: the right one per portal."
        ),
    ] = None,
) -> None:
    """Sync retailer accounts and fetch PODs from carrier accounts, with progress."""
    from bots.jobs import TASKS, Job
    from fleet.cli import setup_logging
    from fleet.commands.accounts import follow_fleet_toml
    from fleet.config_loader import load_settings
    from portal_adapters.registry import adapter_class
    from store.db import init_db, session_factory
    from store.repositories import accounts as accounts_repo

    setup_logging(log_file=True)
    console = Console(stderr=True)
    settings = load_settings()
    if task is not None and task not in TASKS:
        console.print(f"[red]error:[/] unknown task {task!r}; one of {', '.join(TASKS)}")
        raise typer.Exit(2)
    follow_fleet_toml(settings.resolved_database_url)
    db = session_factory(init_db(settings.resolved_database_url))
    with db() as s:
        accounts = [
            (a.portal, a.username)
            for a in accounts_repo.enabled_accounts(s, portal)
            if account in (None, a.username)
        ]
    if not accounts:
        console.print(
            "[yellow]no enabled accounts match[/] (add one with: fleet accounts add PORTAL "
            "USERNAME; fleet accounts list shows every account and its state)"
        )
        raise typer.Exit(1)
    missing = sorted({p for p, _ in accounts if p not in settings.portal_urls})
    if missing:
        console.print(
            f"[red]error:[/] no URL configured for {', '.join(missing)} "
            "(FLEET_PORTAL_URLS or [portal_urls] in fleet.toml)"
        )
        raise typer.Exit(2)
    jobs = [
        Job(p, a, task or ("sync" if adapter_class(p).kind == "retailer" else "pods"))
        for p, a in accounts
    ]
    results = asyncio.run(_run_all(settings, jobs, console))
    t = Table(title="Bot jobs")
    for col in ("portal", "account", "task", "status", "error", "needs human"):
        t.add_column(col)
    for r in results:
        t.add_row(
            r.job.portal,
            r.job.account,
            r.job.task,
            r.status,
            r.error_class or "",
            str(len(r.needs_human)),
        )
    Console().print(t)
    if any(r.status == "failed" for r in results):
        raise typer.Exit(1)


async def _run_all(settings, jobs, console):  # type: ignore[no-untyped-def]
    from fleet.runtime_factory import open_runtime

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        bar = progress.add_task("bot jobs", total=len(jobs))
        async with open_runtime(settings) as rt:

            async def one(job):  # type: ignore[no-untyped-def]
                result = await rt.run(job)
                progress.advance(bar)
                return result

            return list(await asyncio.gather(*(one(j) for j in jobs)))
