"""``fleet health``: how every bot is doing, for ops (tables or ``--json``)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table


def register(app: typer.Typer) -> None:
    app.command("health")(health)


def health(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Last success, success rates, failures by class, documents and the needs-human queue."""
    from bots.health import health_report
    from fleet.config_loader import load_settings
    from store.db import init_db, session_factory

    settings = load_settings()
    db = session_factory(init_db(settings.resolved_database_url))
    with db() as s:
        report = health_report(s)
    if as_json:
        print(json.dumps(report, indent=1))
        return
    console = Console()
    if not console.is_terminal:  # piped or in a log: all columns, not rich's 80
        console = Console(width=200)
    for a in report.get("anomalies", []):
        console.print(f"[bold yellow]anomaly[/] {escape(a.get('message', ''))} ({a['at'][:19]})")
    t = Table(title="Bot health (last 7 days)")
    for col in (
        "portal",
        "account",
        "state",
        "last success",
        "24 h",
        "7 d",
        "documents",
        "retries",
        "failures",
    ):
        t.add_column(col)
    for a in report["accounts"]:
        state = "[red]disabled[/]" if not a["enabled"] else (a["last_status"] or "never run")
        t.add_row(
            a["portal"],
            a["account"],
            state,
            (a["last_success"] or "-")[:19],
            _pct(a["success_rate_24h"]),
            _pct(a["success_rate_7d"]),
            str(a["documents_7d"]),
            str(a["retries_7d"]),
            ", ".join(f"{k} x{v}" for k, v in a["failures_by_class"].items()) or "-",
        )
    console.print(t)
    if report["needs_human"]:
        h = Table(title="Needs a person")
        for col in ("portal", "what", "ref", "why", "since"):
            h.add_column(col)
        for item in report["needs_human"]:
            h.add_row(
                item["portal"] or "",
                item["kind"],
                item["ref"],
                item["error_class"] or "",
                (item["since"] or "")[:19],
            )
        console.print(h)
    else:
        console.print("Nothing waits for a person.")
    if report["disputes_refused"]:
        d = Table(title="Disputes refused (money that will not come back unless a person acts)")
        for col in ("portal", "claim", "amount", "status", "why", "since"):
            d.add_column(col)
        for item in report["disputes_refused"]:
            d.add_row(
                item["portal"],
                escape(item["deduction"]),
                item["amount"],
                item["status"],
                escape(item["why"]),
                (item["since"] or "")[:19],
            )
        console.print(d)
    soon = report.get("dispute_deadlines")
    if soon:
        w = Table(
            title=f"Dispute windows closing within {soon['days']} days of {soon['business_day']}: "
            f"{soon['count']} claims, {soon['amount_at_risk']} at risk"
        )
        for col in ("claim", "at risk", "closes", "dispute"):
            w.add_column(col)
        for item in soon.get("top", []):
            w.add_row(
                escape(item["claim"]),
                f"{item['amount_at_risk']} {item['currency']}",
                item["closes"],
                item["dispute_status"] or "none",
            )
        console.print(w)


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{100 * rate:.0f}%"
