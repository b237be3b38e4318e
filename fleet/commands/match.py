"""``fleet match``, ``fleet audit verify``, ``fleet export credits``, ``fleet kpis``.

Wired with ``register(app)`` (top-level ``match`` and ``kpis``, groups ``audit``
and ``export``). Exit codes: 0 done, 1 the store says no (unknown deduction,
audit chain broken), 2 bad input (a REF on several portals: the candidates
are listed).
"""

from __future__ import annotations

import csv
import getpass
import json
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from matching.reports import KpiTable
    from store.models import Deduction

from records.private import private_dir

audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
export_app = typer.Typer(help="Exports for the ERP.", no_args_is_help=True)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def register(app: typer.Typer) -> None:
    app.command("match")(match)
    app.command("kpis")(kpis)
    app.add_typer(audit_app, name="audit")
    app.add_typer(export_app, name="export")


def _db():
    from fleet.settings import get_settings
    from store.db import init_db, session_factory

    settings = get_settings()
    private_dir(settings.data_dir)
    return session_factory(init_db(settings.resolved_database_url))


def _day(text: str | None) -> date:
    """The day given, else the fleet's business day (``FLEET_BUSINESS_DAY`` or
    fleet.toml when pinned, as every other command reads it; else today, UTC)."""
    if not text:
        from fleet.config_loader import load_settings

        return load_settings().today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        err.print(f"[red]error:[/] not a date (YYYY-MM-DD): {escape(text[:40])}")
        raise typer.Exit(2) from None


def match(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    explain: Annotated[
        str | None,
        typer.Option("--explain", help="One deduction: portal:claim, or a claim number if unique."),
    ] = None,
    today: Annotated[
        str | None, typer.Option("--today", help="Judge windows as of this date.")
    ] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Judge every deduction, not only what changed.")
    ] = False,
) -> None:
    """Verdicts for every open deduction, counts by verdict and category; or one
    deduction's verdict, reasons and evidence with --explain.

    Incremental: only deductions whose evidence changed since the last run are
    judged again (everything on the first run or when the rules change), and
    only verdicts that changed are written."""
    from matching.service import run_matching

    db = _db()
    day = _day(today)
    if explain:
        _explain(db, explain, as_json)
        return
    summary = run_matching(db, day, full=full)
    if as_json:
        print(json.dumps(summary.as_dict(), indent=1))
        return
    cols = ("valid", "partial", "invalid", "needs_review")
    t = Table(title=f"Verdicts ({summary.total} deductions, as of {day.isoformat()})")
    t.add_column("category")
    for c in cols:
        t.add_column(c, justify="right")
    for cat, counts in sorted(summary.by_category.items()):
        t.add_row(cat, *(str(counts.get(c, 0)) for c in cols))
    t.add_row("[b]all[/]", *(f"[b]{summary.by_validity.get(c, 0)}[/]" for c in cols))
    out.print(t)
    how = {
        "up_to_date": "nothing changed since the last run",
        "incremental": f"judged {summary.judged} whose evidence changed",
        "full": f"judged all {summary.judged} ({summary.full_reason})",
    }[summary.mode]
    out.print(
        f"{how}; written: {summary.created} new, {summary.changed} changed, "
        f"{summary.unchanged} unchanged; retrievals queued: {summary.retrievals}"
    )


def deduction_or_exit(session: Session, ref: str) -> Deduction:
    """The deduction ``ref`` names ("portal:external_id", or the external id alone
    when only one portal has it, see ``store.queries.refs``); exit 1 when none,
    2 listing the candidates when it is on several portals. Shared by every
    command that takes a deduction REF."""
    from store.queries.refs import resolve_ref

    found = resolve_ref(session, ref)
    if found.deduction is not None:
        return found.deduction
    if found.candidates:
        err.print(
            f"[red]error:[/] {escape(ref[:80])} is on several portals; name one:", soft_wrap=True
        )
        for candidate in found.candidates:
            err.print(f"  {escape(candidate)}", soft_wrap=True)
        raise typer.Exit(2)
    err.print(f"[red]error:[/] no single deduction {escape(ref[:80])} (try portal:id)")
    raise typer.Exit(1)


def _explain(db: sessionmaker[Session], ref: str, as_json: bool) -> None:
    from store.repositories import matching as matching_repo

    with db() as s:
        ded = deduction_or_exit(s, ref)
        verdict = matching_repo.get_verdict(s, ded.id)
    if verdict is None:
        err.print(f"[red]error:[/] {escape(ref[:80])} has no verdict yet: run fleet match")
        raise typer.Exit(1)
    data: dict[str, Any] = {
        "ref": f"{ded.portal}:{ded.external_id}",
        "validity": verdict.validity,
        "category": verdict.category,
        "category_source": verdict.category_source,
        "claimed_amount": str(verdict.claimed_amount),
        "current_amount": str(verdict.current_amount),
        "valid_amount": None if verdict.valid_amount is None else str(verdict.valid_amount),
        "disputable_amount": (
            None if verdict.disputable_amount is None else str(verdict.disputable_amount)
        ),
        "window_closes": verdict.window_closes.isoformat() if verdict.window_closes else None,
        "reasons": verdict.reasons,
        "evidence": verdict.evidence,
        "missing": verdict.missing,
    }
    if as_json:
        print(json.dumps(data, indent=1))
        return
    out.print(
        f"[b]{escape(data['ref'])}[/]: {verdict.validity} ({verdict.category}, from "
        f"{verdict.category_source})"
    )
    out.print(
        f"claimed {data['claimed_amount']}, now {data['current_amount']}; valid "
        f"{data['valid_amount'] or '-'}, disputable {data['disputable_amount'] or '-'}"
    )
    if data["window_closes"]:
        out.print(f"dispute window closes {data['window_closes']}")
    out.print("[b]Reasons[/]")
    for r in verdict.reasons:
        out.print(f"  - {escape(str(r))}")
    out.print("[b]Evidence[/]")
    for e in verdict.evidence:
        note = f" ({e['note']})" if e.get("note") else ""
        out.print(f"  - {escape(str(e.get('kind')))} {escape(str(e.get('ref')))}{escape(note)}")
    if verdict.missing:
        out.print("[b]Missing[/]")
        for m in verdict.missing:
            out.print(f"  - {escape(str(m.get('why')))}")


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the whole audit chain; exit 1 at the first edited or deleted entry."""
    from sqlalchemy import func, select

    from store.models import AuditLog
    from store.repositories import audit

    db = _db()
    with db() as s:
        bad = audit.check(s)
        n = s.scalar(select(func.count()).select_from(AuditLog))
        head = audit.head(s)
        anchor = f"{head.count}:{head.head_hash}" if head is not None else ""
    if bad is not None:
        err.print(f"[red]audit log broken[/] at entry {bad.seq}: {escape(bad.why)}")
        raise typer.Exit(1)
    out.print(f"audit log intact: {n} entries; head {anchor}")


@export_app.command("credits")
def export_credits(
    since: Annotated[str, typer.Option("--since", help="Decisions taken on/after (YYYY-MM-DD).")],
    fmt: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="File (default stdout).")
    ] = None,
) -> None:
    """Accepted credits and write-offs not exported before, as CSV or JSON (each once)."""
    from matching.reports import export_credits as do_export
    from store.db import transaction

    if fmt not in ("csv", "json"):
        err.print("[red]error:[/] --format is csv or json")
        raise typer.Exit(2)
    day = _day(since)
    db = _db()
    with transaction(db) as s:
        rows = do_export(s, day, f"user:{getpass.getuser()}")
        text = _render(rows, fmt)
        if output is not None:
            output.write_text(text, encoding="utf-8")
    if output is None:
        sys.stdout.write(text)
    err.print(f"{len(rows)} credit(s) exported" + (f" in batch {rows[0]['batch']}" if rows else ""))


def _render(rows: list[dict[str, Any]], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(rows, indent=1) + "\n"
    from io import StringIO

    from records.spreadsheet import spreadsheet_safe

    buf = StringIO()
    fields = [
        "batch",
        "decision",
        "portal",
        "deduction",
        "invoice_number",
        "kind",
        "amount",
        "currency",
        "reason_code",
        "decided_at",
    ]
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: spreadsheet_safe(v) for k, v in r.items()})
    return buf.getvalue()


def kpis(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    today: Annotated[str | None, typer.Option("--today", help="As of this date.")] = None,
    history: Annotated[
        bool,
        typer.Option("--history", help="Each kept business day's headline (DDO, recovered...)."),
    ] = False,
) -> None:
    """DDO, open deductions by aging, category, portal, reason and deadline; win rate; recovered.

    The same figures and tables as the web app's KPI page. With --history, the
    headline of every business day the match step kept, up to the day (the
    page's trend charts and its history CSV)."""
    from rich.console import Console

    from matching.reports import KPI_HEADLINE, kpi_tables
    from matching.reports import kpis as compute

    db = _db()
    console = out if out.is_terminal else Console(width=160)
    if history:
        from matching.kpi_history import history as kept
        from matching.kpi_history import history_tables

        with db() as s:
            days = kept(s, _day(today))
        if as_json:
            print(json.dumps({"history": [d.as_dict() for d in days]}, indent=1))
            return
        _print_table(console, history_tables(days)[0])
        return
    with db() as s:
        figures = compute(s, _day(today))
    if as_json:
        print(json.dumps(figures, indent=1))
        return
    head = Table(title="KPIs", show_header=False)
    for key, label in KPI_HEADLINE:
        value = figures.get(key)
        head.add_row(label, "-" if value is None else escape(str(value)))
    console.print(head)
    for table in kpi_tables(figures):
        _print_table(console, table)


def _print_table(console: Console, table: KpiTable) -> None:
    """One KPI table as ``fleet kpis`` prints it (a missing figure is "-")."""
    console.print(f"\n[bold]{escape(table.title)}[/]")
    t = Table()
    for i, column in enumerate(table.columns):
        t.add_column(column, justify="left" if i == 0 else "right")
    for row in table.rows:
        t.add_row(*("-" if v is None else escape(str(v)) for v in row))
    if not table.rows:
        t.add_row("nothing yet", *([""] * (len(table.columns) - 1)))
    console.print(t)


__all__ = ["audit_app", "deduction_or_exit", "export_app", "register"]
