"""``fleet import``: load the supplier's ERP extract (invoices, promotions,
shipments, remittances) from CSV, JSON or X12 820 into the store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress

app = typer.Typer(help="Import ERP records (CSV, JSON, X12 820).", no_args_is_help=True)
err = Console(stderr=True)

FileArg = Annotated[
    Path,
    typer.Argument(
        help="CSV, JSON or (remittances) X12 820 file.", exists=True, dir_okay=False, readable=True
    ),
]
SkipBad = Annotated[bool, typer.Option("--skip-bad", help="Import good rows, write rejects.")]
Rejects = Annotated[Path | None, typer.Option("--rejects", help="Where to write rejects.")]


def _run(kind: str, path: Path, skip_bad: bool, rejects: Path | None) -> None:
    from fleet.config_loader import load_settings
    from store.db import init_db, session_factory
    from store.erp_import import ImportRefused, import_file

    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    factory = session_factory(init_db(settings.resolved_database_url))
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task(f"importing {kind}", total=None)
        try:
            result = import_file(
                factory,
                kind,
                path,
                skip_bad=skip_bad,
                rejects_path=rejects,  # type: ignore[arg-type]
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
        except ImportRefused as exc:
            progress.stop()
            err.print(f"[red]refused:[/] {escape(str(exc))}")
            err.print("Fix the lines above, or pass --skip-bad to import the rest.")
            raise typer.Exit(1) from None
    err.print(
        f"{kind}: {result.records} records ({result.created} new, {result.changed} changed, "
        f"{result.unchanged} unchanged)"
    )
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
