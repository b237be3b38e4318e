"""``fleet run``: the pipeline now, for every enabled account (or a chosen one).

Without ``--task`` it starts where the scheduler's runs start, a sync of each
retailer account, and follows the pipeline (scheduler/pipeline.py) to the end:
documents read, PODs from the carriers the claims name, matching, approved
disputes handed over and filed, status read. With ``--task`` it runs that one
step alone. Jobs run in this process, through the same dispatcher the
scheduler uses, so the order and the limits are the same.

Exit status: 0 when every job did its work; 1 when a job failed or a dispute
was refused (rejected by the portal, or its window closed); 2 for bad usage.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

TASK_HELP = (
    "Run one step alone: sync, read_documents, pods, match, queue_disputes, "
    "file_dispute or dispute_status. Default: the whole pipeline, from a sync of "
    "each retailer account."
)


def register(app: typer.Typer) -> None:
    app.command("run")(run)


def run(
    portal: Annotated[str | None, typer.Option(help="Only this portal.")] = None,
    account: Annotated[str | None, typer.Option(help="Only this account.")] = None,
    task: Annotated[str | None, typer.Option(help=TASK_HELP)] = None,
) -> None:
    """Run the pipeline (or one step of it) now, with progress."""
    from bots.jobs import EVERY_ACCOUNT, TASKS, Job, is_core
    from bots.tasks.disputes import mail_only
    from fleet.accounts import follow_fleet_toml
    from fleet.cli import setup_logging
    from fleet.config_loader import load_fleet
    from scheduler.balance import largest_first
    from scheduler.pipeline import (
        accounts_with_disputes_to_file,
        core_job,
        portal_kind,
        start_jobs,
    )
    from store.db import init_db, session_factory
    from store.repositories import accounts as accounts_repo

    setup_logging(log_file=True)
    console = Console(stderr=True)
    config, settings = load_fleet()
    steps = [t for t in TASKS if t != "retrieve"]
    if task is not None and task not in steps:
        console.print(f"[red]error:[/] unknown task {escape(task)!r}; one of {', '.join(steps)}")
        raise typer.Exit(2)
    follow_fleet_toml(settings.resolved_database_url)
    db = session_factory(init_db(settings.resolved_database_url))
    if task is not None and is_core(task):
        jobs = [core_job(task)]
    else:
        with db() as s:
            accounts = [
                (a.portal, a.username)
                for a in accounts_repo.enabled_accounts(s, portal)
                if account in (None, a.username)
            ]
        if task == "file_dispute" and account in (None, EVERY_ACCOUNT):
            # a retailer with no portal (disputes by e-mail) has no login to enable:
            # named, its e-mail job runs; else those with disputes waiting do
            by_mail = {(p, a) for p, a in accounts_with_disputes_to_file(db) if a == EVERY_ACCOUNT}
            if portal is not None and mail_only(portal):
                by_mail.add((portal, EVERY_ACCOUNT))
            accounts += sorted(x for x in by_mail if portal in (None, x[0]))
        if not accounts:
            console.print(
                "[yellow]no enabled accounts match[/] (add one with: fleet accounts add PORTAL "
                "USERNAME; fleet accounts list shows every account and its state)"
            )
            raise typer.Exit(1)
        missing = sorted(
            {p for p, a in accounts if a != EVERY_ACCOUNT and p not in settings.portal_urls}
        )
        if missing:
            console.print(
                f"[red]error:[/] no URL configured for {', '.join(missing)} "
                "(base_url under [portals.NAME] in fleet.toml)"
            )
            raise typer.Exit(2)
        if task is None:
            jobs = start_jobs(accounts)
        else:
            kind = "carrier" if task == "pods" else "retailer"
            jobs = [Job(p, a, task) for p, a in accounts if portal_kind(p) == kind]
            if not jobs:
                console.print(f"[yellow]no {kind} account matches for {task}[/]")
                raise typer.Exit(1)
    jobs = largest_first(db, jobs)  # the longest account first: no worker idles at the end
    results = asyncio.run(_run_all(config, settings, jobs, chain=task is None, console=console))
    _print_results(results)
    refused = sum(
        r.counts.get("disputes.rejected", 0)
        + r.counts.get("disputes.window_closed", 0)
        + r.counts.get("disputes.held", 0)
        for r in results
    )
    if refused:
        console.print(
            f"[yellow]{refused} dispute(s) refused[/] (rejected by the portal, window "
            "closed, or a packet the portal cannot take as approved): fleet health shows why"
        )
    if refused or any(r.status == "failed" for r in results):
        raise typer.Exit(1)


async def _run_all(
    config: Any, settings: Any, jobs: list[Any], *, chain: bool, console: Console
) -> list[Any]:
    """Run ``jobs`` (and, with ``chain``, everything that follows them) to the end."""
    from fleet.running import run_jobs
    from fleet.runtime_factory import runtime_factory_for

    started = time.monotonic()
    async with runtime_factory_for(config, settings)() as rt:
        return await run_jobs(
            rt,
            jobs,
            chain=chain,
            workers=max(2, settings.max_contexts),
            portal_limits={p: c.max_sessions for p, c in config.portals.items()},
            on_result=lambda r: console.print(
                _line(r, time.monotonic() - started), highlight=False
            ),
        )


def _line(result: Any, elapsed: float) -> str:
    """One progress line per finished job, with what it did."""
    c = result.counts
    parts = []
    for label, keys in (
        ("deductions", ("deductions.created", "deductions.updated")),
        ("documents", ("documents.new",)),
        ("read", ("documents.read",)),
        ("PODs", ("pods.fetched",)),
        ("verdicts changed", ("verdicts.created", "verdicts.changed")),
        ("disputes queued", ("disputes.queued",)),
        ("filed", ("disputes.filed",)),
        ("e-mailed", ("disputes.emailed",)),
        ("written to the outbox", ("disputes.outbox",)),
        ("rejected", ("disputes.rejected",)),
        ("window closed", ("disputes.window_closed",)),
        ("held for a person", ("disputes.held",)),
        ("outcomes", ("disputes.outcomes",)),
        ("status changes", ("disputes.status_changed",)),
        ("quarantined", ("quarantined",)),
        ("needs a person", ("needs_human",)),
    ):
        n = sum(c.get(k, 0) for k in keys)
        if n:
            parts.append(f"{n} {label}")
    mark = {"succeeded": "ok", "partial": "partial", "failed": "FAILED"}.get(result.status, "?")
    error = f" ({result.error_class})" if result.error_class else ""
    return f"[{elapsed:6.1f}s] {mark:<7} {escape(str(result.job))}{error}" + (
        f": {', '.join(parts)}" if parts else ""
    )


def _print_results(results: list[Any]) -> None:
    t = Table(title="Bot jobs")
    for col in ("job", "status", "error", "needs a person"):
        t.add_column(col)
    for r in results:
        t.add_row(escape(str(r.job)), r.status, r.error_class or "", str(len(r.needs_human)))
    out = Console()
    (out if out.is_terminal else Console(width=120)).print(t)
