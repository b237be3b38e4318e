"""``fleet demo``: the fleet against the simulated portals, start to finish.

At this stage of the project the robots are not built yet, so the demo starts
the seed-7 world, proves each portal answers over HTTP, and lists what the
world serves. It grows into the full sync as bots/ lands.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    seed: Annotated[int, typer.Option(help="Scenario seed.")] = 7,
    size: Annotated[str, typer.Option(help="small, medium or large.")] = "small",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Start the simulated portal world and show what the fleet will work on."""
    from fixtures.generator import generate
    from fixtures.scenario import CARRIER_PORTALS, RETAILER_PORTALS
    from fixtures.server import serving

    console = Console(stderr=as_json)
    with console.status("generating the world..."):
        scenario = generate(seed, size)  # type: ignore[arg-type]
    with serving(scenario) as running:
        world = running.world
        rows: list[dict[str, Any]] = []
        with httpx.Client(timeout=10, follow_redirects=True) as client:
            for portal, url in running.urls.items():
                page = client.get(url + "/")
                title = re.search(r"<title>(.*?)</title>", page.text, re.S | re.I)
                row: dict[str, Any] = {
                    "portal": portal,
                    "url": url,
                    "status": page.status_code,
                    "title": title.group(1).strip() if title else "",
                    "accounts": len(scenario.accounts_on(portal)),
                }
                if portal in RETAILER_PORTALS:
                    visible = [
                        d
                        for a in scenario.accounts_on(portal)
                        for d in world.visible_deductions(portal, a.username)
                    ]
                    row["deductions"] = len(visible)
                    row["documents"] = sum(len(world.available_documents(d)) for d in visible)
                if portal in CARRIER_PORTALS:
                    ships = scenario.shipments_on(portal)
                    row["shipments"] = len(ships)
                    row["pods"] = sum(1 for s in ships if world.pod_available(s))
                rows.append(row)
    if as_json:
        print(json.dumps({"seed": seed, "size": size, "portals": rows}, indent=1))
        return
    table = Table(title=f"Simulated portal world, seed {seed} ({size})")
    for col in (
        "portal",
        "url",
        "answers",
        "accounts",
        "deductions",
        "documents",
        "shipments",
        "PODs",
    ):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["portal"],
            r["url"],
            f"{r['status']} {r['title']}",
            str(r["accounts"]),
            str(r.get("deductions", "-")),
            str(r.get("documents", "-")),
            str(r.get("shipments", "-")),
            str(r.get("pods", "-")),
        )
    console.print(table)
    failed = [r["portal"] for r in rows if r["status"] != 200]
    if failed:
        console.print(f"[red]portals that did not answer 200: {', '.join(failed)}[/]")
        raise typer.Exit(1)
