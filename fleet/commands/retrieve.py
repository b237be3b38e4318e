"""``fleet retrieve REF [--wait]``: fetch one deduction's backup or one PRO's POD now.

The request is queued in the fleet database (ahead of every scheduled sync);
the running ``fleet scheduler`` picks it up within a second or so and runs it
on its own pool or hands it to the Celery workers. Asking twice while the
first request is still queued or running joins the first one.
"""

from __future__ import annotations

import getpass
from typing import Annotated

import typer
from rich.console import Console


def register(app: typer.Typer) -> None:
    app.command("retrieve")(retrieve)


def retrieve(
    ref: Annotated[str, typer.Argument(help="A deduction number, invoice number or PRO number.")],
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait until the request is done and show its outcome.")
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds --wait waits at most.")] = 600,
) -> None:
    """Queue an on-demand retrieval (documents for a deduction or invoice, POD for a PRO)."""
    from fleet.config_loader import settings_for
    from scheduler.config import ConfigError, load_config
    from scheduler.ondemand import UnknownReference, submit, wait_for
    from store.db import init_db, session_factory

    err = Console(stderr=True)
    try:
        settings = settings_for(load_config())
    except ConfigError as exc:
        err.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(2) from None
    db = session_factory(init_db(settings.resolved_database_url))
    try:
        requests = submit(db, ref, requester=f"cli:{_user()}")
    except ValueError as exc:  # a malformed reference
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    except UnknownReference as exc:
        err.print(f"[red]not found:[/] {exc}")
        raise typer.Exit(1) from None
    for r in requests:
        t = r.target
        what = "documents for deduction" if t.kind == "deduction" else "POD for PRO"
        how = "joined the request already queued" if r.merged else "queued"
        acct = t.account or "[yellow]no enabled account[/]"
        err.print(f"request {r.request_id}: {what} {t.value} on {t.portal} ({acct}): {how}")
    if not wait:
        return
    rows = wait_for(
        db,
        [r.request_id for r in requests],
        timeout=timeout,
        on_change=lambda rid, status: err.print(f"request {rid}: {status}"),
    )
    failed = False
    for rid, row in sorted(rows.items()):
        status = getattr(row.status, "value", row.status)
        if status in ("queued", "running"):
            err.print(f"request {rid}: still {status} after {timeout:.0f} s (is the scheduler up?)")
            failed = True
        elif status != "done":
            err.print(f"request {rid}: {status} ({row.error_class or 'no error class'})")
            failed = True
    if failed:
        raise typer.Exit(1)


def _user() -> str:
    try:
        return getpass.getuser()[:64]
    except Exception:
        return "unknown"
