"""``fleet demo``: the fleet against the simulated portals, start to finish.

It generates the seed's world and serves it, puts the world's logins into an
encrypted demo keyring (a fresh key file in the demo's data dir), imports the
supplier's ERP extract the way a user would, syncs every retailer account
concurrently into a fresh SQLite store, reads the backup documents, fetches
PODs from the carriers, and prints what it retrieved, checked against the
world's truth.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    seed: Annotated[int, typer.Option(help="Scenario seed.")] = 7,
    size: Annotated[str, typer.Option(help="small, medium or large.")] = "small",
    faults: Annotated[str | None, typer.Option(help="Fault spec for the portals.")] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Keep the demo's store here (default: a temp dir).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Run the fleet against the simulated portals and check it against the truth."""
    from fleet.cli import setup_logging

    console = Console(stderr=True)
    keep = data_dir is not None
    root = data_dir or Path(tempfile.mkdtemp(prefix="fleet-demo-"))
    if keep and root.exists() and any(root.iterdir()):
        console.print(f"[red]error:[/] {root} is not empty; the demo needs a fresh data dir")
        raise typer.Exit(2)
    setup_logging()
    try:
        summary = asyncio.run(
            run_demo(seed=seed, size=size, faults=faults, data_dir=root, console=console)
        )
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    if as_json:
        print(json.dumps(summary, indent=1, default=str))
    else:
        out = Console()
        _print_summary(out if out.is_terminal else Console(width=120), summary)
    if not summary["audit"]["complete"] and not faults:
        raise typer.Exit(1)


async def run_demo(
    *, seed: int, size: str, faults: str | None, data_dir: Path, console: Console | None = None
) -> dict[str, Any]:
    """The whole demo; returns the summary."""
    from fixtures.generator import generate
    from fleet.demo import fleet_demo, summary

    say = (console or Console(stderr=True)).print
    started = time.monotonic()
    scenario = generate(seed, size)  # type: ignore[arg-type]
    async with fleet_demo(scenario, data_dir, faults=faults, say=say) as demo:
        say(
            f"sync: {len(demo.retail_jobs)} retailer accounts, then "
            f"{len(demo.carrier_jobs)} carrier accounts for PODs"
        )
        await demo.sync_everything()
        return summary(demo, demo.audit(), started)


def _print_summary(console: Console, summary: dict[str, Any]) -> None:
    jobs = Table(
        title=f"Bot jobs (seed {summary['seed']}, {summary['size']}, {summary['seconds']} s)"
    )
    for col in (
        "portal",
        "task",
        "status",
        "deductions",
        "documents",
        "PODs",
        "retries",
        "needs human",
        "error",
    ):
        jobs.add_column(col)
    for j in summary["jobs"]:
        c = j["counts"]
        retries = sum(v for k, v in c.items() if k.startswith("retry."))
        jobs.add_row(
            j["portal"],
            j["task"],
            j["status"],
            str(sum(v for k, v in c.items() if k.startswith("deductions."))),
            str(c.get("documents.new", 0) + c.get("documents.known", 0)),
            str(c.get("pods.fetched", 0)),
            str(retries),
            str(len(j["needs_human"])),
            j["error_class"] or "",
        )
    console.print(jobs)
    audit = summary["audit"]
    docs = Table(title="Against the world's truth")
    for col in ("what", "truth lists", "retrieved", "missing", "why missing"):
        docs.add_column(col)
    d = audit["deductions"]
    docs.add_row(
        "deductions", str(d["listed"]), str(d["stored"]), str(d["listed"] - d["stored"]), ""
    )
    for kind, k in audit["documents"].items():
        why = sorted({m["reason"] for m in k["missing_detail"]})
        docs.add_row(kind, str(k["listed"]), str(k["retrieved"]), str(k["missing"]), ", ".join(why))
    console.print(docs)
    waiting = audit["not_yet_available"]
    verdict = (
        f"[green]complete[/] (everything that exists; {waiting} not produced by the world yet)"
        if audit["complete"]
        else "[yellow]incomplete[/]"
    )
    console.print(f"Result: {verdict}. Requests served per portal: {summary['requests_served']}")
