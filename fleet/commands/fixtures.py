"""``fleet fixtures``: make, serve and inspect the simulated portal world.

This is the one place outside tests and bench that imports ``fixtures``: it
is the world's own command line, not product code.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from fixtures.scenario import Scenario

app = typer.Typer(
    help="The simulated portal world: generate, serve, inspect.", no_args_is_help=True
)
err = Console(stderr=True)

Size = Literal["small", "medium", "large"]

ScenarioOpt = Annotated[
    Path | None, typer.Option("--scenario", help="A scenario file (JSON or YAML).")
]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Generate the world from this seed.")]
SizeOpt = Annotated[str, typer.Option("--size", help="small, medium or large (with --seed).")]


def _load(scenario: Path | None, seed: int | None, size: str) -> Scenario:
    """The scenario from a file or a seed; exits with a clear message on bad input."""
    from fixtures.scenario_io import ScenarioError, load_scenario

    if (scenario is None) == (seed is None):
        err.print("[red]error:[/] give exactly one of --scenario FILE or --seed N")
        raise typer.Exit(2)
    if scenario is not None:
        try:
            return load_scenario(scenario)
        except ScenarioError as exc:
            err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
            raise typer.Exit(2) from None
    if size not in ("small", "medium", "large"):
        err.print(f"[red]error:[/] --size must be small, medium or large, not {size!r}")
        raise typer.Exit(2)
    from fixtures.generator import generate

    return generate(seed or 0, size)  # seed is given: exactly one of the two is


@app.command("generate")
def generate_cmd(
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same world, byte for byte.")],
    size: SizeOpt = "small",
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the JSON.")] = Path(
        "scenario.json"
    ),
) -> None:
    """Generate a deterministic scenario file."""
    from fixtures.scenario_io import dump_scenario

    sc = _load(None, seed, size)
    dump_scenario(sc, output)
    err.print(
        f"wrote {output}: {len(sc.deductions)} deductions, {len(sc.shipments)} shipments, "
        f"{len(sc.accounts)} accounts, {len(sc.erp.invoices)} ERP invoices"
    )


@app.command("serve")
def serve_cmd(
    scenario: ScenarioOpt = None,
    seed: SeedOpt = None,
    size: SizeOpt = "small",
    faults: Annotated[str | None, typer.Option("--faults", help="Fault spec, see docs.")] = None,
    single_host: Annotated[
        bool, typer.Option("--single-host", help="All portals on 127.0.0.1 (ports still differ).")
    ] = False,
    port_base: Annotated[
        int, typer.Option("--port-base", help="Fixed ports from here (0: the OS picks).")
    ] = 0,
) -> None:
    """Serve the five portals (and the /_world control API) until interrupted."""
    from fixtures.faults import FaultPlan, FaultSpecError
    from fixtures.scenario import ALL_PORTALS
    from fixtures.server import CONTROL_HOST, serve_forever

    sc = _load(scenario, seed, size)
    try:
        plan = FaultPlan.parse(faults)
    except FaultSpecError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    hosts = dict.fromkeys(ALL_PORTALS, CONTROL_HOST) if single_host else None
    ports = {p: port_base + i for i, p in enumerate(ALL_PORTALS)} if port_base else None
    control_port = port_base + len(ALL_PORTALS) if port_base else 0

    def ready(urls: dict[str, str], control_url: str) -> None:
        for portal, url in urls.items():
            print(f"{portal:<10} {url}", flush=True)
        print(f"{'control':<10} {control_url}/_world/state", flush=True)
        err.print("serving; Ctrl-C stops")

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            serve_forever(
                sc, plan, hosts=hosts, ports=ports, control_port=control_port, on_ready=ready
            )
        )


@app.command("truth")
def truth_cmd(
    scenario: ScenarioOpt = None,
    seed: SeedOpt = None,
    size: SizeOpt = "small",
    as_json: Annotated[bool, typer.Option("--json", help="The full truth as JSON.")] = False,
) -> None:
    """Show what the world holds: for tests and people checking the fleet's results."""
    sc = _load(scenario, seed, size)
    if as_json:
        json.dump(json.loads(sc.truth.model_dump_json()), sys.stdout, indent=1)
        print()
        return
    table = Table(title=f"Scenario truth (seed {sc.seed}, {sc.size})")
    for col in ("portal", "deductions", "documents", "invalid", "partial", "amount"):
        table.add_column(col, justify="right" if col != "portal" else "left")
    for portal in ("megamart", "shopright", "freshco"):
        ds = sc.deductions_on(portal)
        truths = [sc.truth.deductions.get(d.key) for d in ds]
        table.add_row(
            portal,
            str(len(ds)),
            str(sum(len(d.documents) for d in ds)),
            str(sum(1 for t in truths if t and t.validity == "invalid")),
            str(sum(1 for t in truths if t and t.validity == "partial")),
            f"{sum(d.amount for d in ds):,.2f}",
        )
    for carrier in ("haulstar", "parcelnet"):
        ss = sc.shipments_on(carrier)
        table.add_row(carrier, "-", f"{len(ss)} shipments", "-", "-", "-")
    Console().print(table)


@app.command("export-erp")
def export_erp_cmd(
    out_dir: Annotated[Path, typer.Argument(help="Folder for the CSV and X12 files.")],
    scenario: ScenarioOpt = None,
    seed: SeedOpt = None,
    size: SizeOpt = "small",
) -> None:
    """Write the scenario's ERP extract in the formats `fleet import` reads."""
    from fixtures.erp_export import export_erp

    sc = _load(scenario, seed, size)
    for kind, path in export_erp(sc.erp, out_dir).items():
        print(f"{kind:<16} {path}")
