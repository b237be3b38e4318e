"""``fleet import``: load the supplier's ERP extract (invoices, promotions,
shipments, remittances) from CSV, JSON or X12 820, and retailers' EDI 812
credit/debit adjustments into the deduction store.

Each file gets a report on stderr: what was read (X12: transactions and
interchanges), what it did to the store, and the totals checked, the file's
own figure beside the sum the fleet read. Exit 1 when a file is refused.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress

if TYPE_CHECKING:
    from store.erp_import import ImportResult
    from store.x12_import import AdjustmentImport

app = typer.Typer(
    help="Import ERP records (CSV, JSON, X12 820) and retailers' EDI 812 adjustments.",
    no_args_is_help=True,
)
err = Console(stderr=True, highlight=False, soft_wrap=True)

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


def _factory():  # type: ignore[no-untyped-def]
    from fleet.config_loader import load_settings
    from store.db import init_db, session_factory

    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return session_factory(init_db(settings.resolved_database_url))


def _refused(progress: Progress, exc: Exception) -> typer.Exit:
    progress.stop()
    err.print(f"[red]refused:[/] {escape(str(exc))}")
    err.print("Fix the lines above, or pass --skip-bad to import the rest.")
    return typer.Exit(1)


def _money(value: Decimal) -> str:
    return f"{value:,}"


def _run(kind: str, path: Path, skip_bad: bool, rejects: Path | None) -> None:
    from store.erp_import import ImportRefused, import_file

    factory = _factory()
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task(f"importing {kind}", total=None)
        try:
            result = import_file(
                factory,
                kind,  # type: ignore[arg-type]
                path,
                skip_bad=skip_bad,
                rejects_path=rejects,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
        except ImportRefused as exc:
            raise _refused(progress, exc) from None
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
    for note in result.notices[:50]:
        err.print(f"  [yellow]warning:[/] {escape(note)}")
    if result.rejected:
        err.print(
            f"[yellow]{len(result.rejected)} rows rejected[/], written to "
            f"{escape(str(result.rejects_file))}"
        )


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
    """Remittance advice: CSV, JSON or EDI X12 820."""
    _run("remittances", file, skip_bad, rejects)


@app.command()
def adjustments(
    file: EdiArg, retailer: Retailer = None, skip_bad: SkipBad = False, rejects: Rejects = None
) -> None:
    """Retailers' deductions as EDI X12 812 (credit/debit adjustments), merged by
    (retailer, claim number) with what the robots fetched from the portals."""
    from store.erp_import import ImportRefused
    from store.x12_import import import_adjustments

    factory = _factory()
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("importing 812 adjustments", total=None)
        try:
            result = import_adjustments(
                factory,
                file,
                retailer=retailer,
                skip_bad=skip_bad,
                rejects_path=rejects,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
        except (ImportRefused, ValueError) as exc:
            raise _refused(progress, exc) from None
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
    for note in r.notices[:50]:
        err.print(f"  [yellow]warning:[/] {escape(note)}")
    if r.rejected:
        err.print(
            f"[yellow]{len(r.rejected)} transactions rejected[/], written to "
            f"{escape(str(r.rejects_file))}"
        )
