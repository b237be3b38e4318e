"""``fleet import``: load the supplier's ERP extract (invoices, promotions,
shipments, remittances) from CSV, JSON or X12 820, and retailers' EDI 812
credit/debit adjustments into the deduction store.

Each file gets a report on stderr: what was read (X12: transactions and
interchanges), what it did to the store, and the totals checked, the file's
own figure beside the sum the fleet read. Exit 1 when a file is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress

from records.private import private_dir

if TYPE_CHECKING:
    from store.erp_import import ImportResult, Kind
    from store.x12_import import AdjustmentImport

app = typer.Typer(
    help="Import ERP records (CSV, JSON, X12 820) and retailers' EDI 812 adjustments.",
    no_args_is_help=True,
)
err = Console(stderr=True, highlight=False, soft_wrap=True)
T = TypeVar("T")

FileArg = Annotated[
    Path,
    typer.Argument(
        help="CSV, JSON or (remittances) X12 820 file.", exists=True, dir_okay=False, readable=True
    ),
]
EdiArg = Annotated[
    Path, typer.Argument(help="X12 812 file.", exists=True, dir_okay=False, readable=True)
]
SkipBad = Annotated[bool, typer.Option("--skip-bad", help="Import good rows, write rejects.")]
Rejects = Annotated[Path | None, typer.Option("--rejects", help="Where to write rejects.")]
Retailer = Annotated[
    str | None,
    typer.Option(
        "--retailer",
        help="The portal these 812s belong to (e.g. megamart), when the file's sender "
        "is not in records/data/edi.",
    ),
]


def _factory():
    from fleet.config_loader import load_settings
    from store.db import init_db, session_factory

    settings = load_settings()
    private_dir(settings.data_dir)
    return session_factory(init_db(settings.resolved_database_url))


def _with_progress(label: str, run: Callable[[Any, Callable[[int, int], None]], T]) -> T:
    """``run(factory, report)`` under a progress bar; a refusal exits 1 with its reasons
    (a bad ``--retailer`` name is a refusal too)."""
    from store.erp_import import ImportRefused

    factory = _factory()
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task(label, total=None)
        try:
            return run(
                factory, lambda done, total: progress.update(task, completed=done, total=total)
            )
        except (ImportRefused, ValueError) as exc:
            progress.stop()
            err.print(f"[red]refused:[/] {escape(str(exc))}")
            err.print("Fix the lines above, or pass --skip-bad to import the rest.")
            raise typer.Exit(1) from None


def _money(value: Decimal) -> str:
    return f"{value:,}"


def _run(kind: Kind, path: Path, skip_bad: bool, rejects: Path | None) -> None:
    from store.erp_import import import_file

    result = _with_progress(
        f"importing {kind}",
        lambda factory, report: import_file(
            factory,
            kind,
            path,
            skip_bad=skip_bad,
            rejects_path=rejects,
            progress=report,
        ),
    )
    _report_erp(path, result)


def _report_erp(path: Path, result: ImportResult) -> None:
    read = f"{result.transactions} transactions, " if result.transactions is not None else ""
    err.print(
        f"{escape(path.name)}: {result.kind}: {read}{result.records} records "
        f"({result.created} new, {result.changed} changed, {result.unchanged} unchanged)"
    )
    if result.checks:
        stated = sum((c.stated for c in result.checks), Decimal("0.00"))
        summed = sum((c.read for c in result.checks), Decimal("0.00"))
        bad = [c for c in result.checks if not c.ok]
        verdict = "[green]balanced[/]" if not bad else f"[yellow]{len(bad)} flagged[/]"
        err.print(
            f"  totals checked: file says {_money(stated)} (BPR02) | fleet read "
            f"{_money(summed)} (RMR04 - loop adjustments): {verdict}"
        )
        for c in bad[:50]:
            err.print(
                f"  [yellow]flagged[/] {escape(c.record)}: BPR02 {_money(c.stated)}, "
                f"read {_money(c.read)} ({escape(c.note)})"
            )
    _report_tail(result.notices, len(result.rejected), result.rejects_file, "rows")


def _report_tail(notices: list[str], rejected: int, rejects_file: Path | None, noun: str) -> None:
    for note in notices[:50]:
        err.print(f"  [yellow]warning:[/] {escape(note)}")
    if len(notices) > 50:
        err.print(f"  ... and {len(notices) - 50} more warnings")
    if rejected:
        err.print(f"[yellow]{rejected} {noun} rejected[/], written to {escape(str(rejects_file))}")


@app.command()
def invoices(file: FileArg, skip_bad: SkipBad = False, rejects: Rejects = None) -> None:
    """Invoices: one CSV row per invoice line, or JSON records with nested lines."""
    _run("invoices", file, skip_bad, rejects)


@app.command()
def promotions(file: FileArg, skip_bad: SkipBad = False, rejects: Rejects = None) -> None:
    """Promotions / deal sheets: promo id, customer, skus, dates, rate per unit."""
    _run("promotions", file, skip_bad, rejects)


@app.command()
def shipments(file: FileArg, skip_bad: SkipBad = False, rejects: Rejects = None) -> None:
    """Shipments with carrier, PRO and BOL numbers."""
    _run("shipments", file, skip_bad, rejects)


@app.command()
def remittances(file: FileArg, skip_bad: SkipBad = False, rejects: Rejects = None) -> None:
    """Remittance advice: CSV, JSON or EDI X12 820. A partial dispute win whose
    portal named no amount takes what these repaid against its claim."""
    from dispute_filing.outcomes import read_from_remittances
    from store.db import transaction

    _run("remittances", file, skip_bad, rejects)
    with transaction(_factory()) as s:
        settled = read_from_remittances(s)
    for r in settled:
        err.print(
            f"  dispute of {escape(r.portal)}:{escape(r.deduction_external_id)}: "
            f"{r.recovered_amount} {r.currency} recovered, read from the remittance"
        )


@app.command()
def adjustments(
    file: EdiArg, retailer: Retailer = None, skip_bad: SkipBad = False, rejects: Rejects = None
) -> None:
    """Retailers' deductions as EDI X12 812 (credit/debit adjustments), merged by
    (retailer, claim number) with what the robots fetched from the portals."""
    from store.x12_import import import_adjustments

    result = _with_progress(
        "importing 812 adjustments",
        lambda factory, report: import_adjustments(
            factory,
            file,
            retailer=retailer,
            skip_bad=skip_bad,
            rejects_path=rejects,
            progress=report,
        ),
    )
    _report_812(result)


def _report_812(r: AdjustmentImport) -> None:
    portals = ", ".join(f"{p} {n}" for p, n in sorted(r.portals.items())) or "none"
    err.print(
        f"{escape(r.path.name)}: {r.transactions} transactions in {r.interchanges} "
        f"interchanges; deductions: {r.created} created, {r.merged} merged with the "
        f"portal's, {r.updated} updated, {r.unchanged} unchanged ({escape(portals)})"
    )
    ok = r.stated_total == r.lines_total
    err.print(
        f"  totals checked: file says {_money(r.stated_total)} (BCD04) | fleet read "
        f"{_money(r.lines_total)} (CDD lines"
        + (f"; {r.header_only} without lines count their BCD04" if r.header_only else "")
        + f"): {'[green]equal[/]' if ok else '[red]differ[/]'}"
    )
    for line in r.differences[:50]:
        err.print(f"  [yellow]amount differs:[/] {escape(line)}")
    _report_tail(r.notices, len(r.rejected), r.rejects_file, "transactions")
