"""``fleet demo``: the whole loop against the simulated portals, every figure
next to the world's truth.

Retrieve, read, match, approve, file, follow: the demo configures the fleet
as a user would (fleet.toml, keyring, ERP import), runs the pipeline from
each retailer's sync, lets the demo's people decide under a documented
approval policy, files what was approved, moves the world's clock on so the
retailers decide the disputes, runs the scheduled sync again (changes on the
portals, dispute status), exports the credits, and prints one summary.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

DAYS_LATER = 90
"""How far the demo moves the world's clock after the first pass (dispute
outcomes take a median of 30 days)."""
STEP_DAYS = 30
"""The demo's fleet runs its scheduled pass every this many world days."""


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    seed: Annotated[int, typer.Option(help="Scenario seed.")] = 7,
    size: Annotated[str, typer.Option(help="small, medium or large.")] = "small",
    faults: Annotated[str | None, typer.Option(help="Fault spec for the portals.")] = None,
    days_later: Annotated[
        int, typer.Option(help="Days the world's clock moves on after filing.")
    ] = DAYS_LATER,
    data_dir: Annotated[
        Path | None, typer.Option(help="Keep the demo's store here (default: a temp dir).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    serve: Annotated[
        bool,
        typer.Option("--serve", help="Then serve the demo's store in the web app (Ctrl-C stops)."),
    ] = False,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port for --serve.")] = 8000,
) -> None:
    """Run the whole loop against the simulated portals and check it against the truth."""
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
            run_demo(
                seed=seed,
                size=size,
                faults=faults,
                data_dir=root,
                days_later=days_later,
                console=console,
            )
        )
        if as_json:
            print(json.dumps(summary, indent=1, default=str))
        else:
            out = Console()
            print_summary(out if out.is_terminal else Console(width=120), summary)
        if serve:
            serve_demo(root, date.fromisoformat(summary["world_days"]["end"]), port, console)
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    if not summary["bar_met"] and not faults:
        raise typer.Exit(1)


DEMO_WEB_USERS = (("ana", "analyst"), ("leo", "ops"), ("mia", "approver"), ("dora", "approver"))


def serve_demo(data_dir: Path, today: date, port: int, console: Console) -> None:
    """Serve the demo's store on 127.0.0.1: the demo's people get web access and
    one fresh password (printed once, here). The world is stopped by now, so
    "fetch documents now" queues requests nobody serves."""
    import secrets

    import uvicorn

    from credentials.passwords import hash_password
    from matching.approvals import add_user, set_access
    from store.db import init_db, session_factory, transaction
    from store.repositories import approvals as approvals_repo
    from store.vault import DocumentVault
    from web.app import create_app
    from web.config import WebConfig

    db = session_factory(init_db(f"sqlite:///{(data_dir / 'fleet.db').resolve()}"))
    password = secrets.token_urlsafe(12)
    hashed = hash_password(password)
    with transaction(db) as s:
        for user, access in DEMO_WEB_USERS:
            if approvals_repo.get_user(s, user) is None:
                add_user(s, user, "analyst" if access != "approver" else "manager", "system:demo")
            set_access(s, user, "system:demo", access=access)
            approvals_repo.set_password_hash(s, user, hashed)
    app = create_app(
        WebConfig(
            db=db,
            vault=DocumentVault(data_dir / "vault"),
            today=lambda: today,
            artifacts=data_dir / "artifacts",
        )
    )
    console.print(
        f"\n[bold]web app[/]: http://127.0.0.1:{port}/  log in as ana (analyst), leo (ops), "
        f"mia or dora (approvers) with the password [bold]{password}[/] (Ctrl-C stops)"
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


async def run_demo(
    *,
    seed: int,
    size: str,
    faults: str | None,
    data_dir: Path,
    days_later: int = DAYS_LATER,
    console: Console | None = None,
) -> dict[str, Any]:
    """The whole loop; returns the summary (figures next to the truth)."""
    from fleet.demo import local_mail_server

    with local_mail_server() as mail:
        return await _run_demo(
            seed=seed,
            size=size,
            faults=faults,
            data_dir=data_dir,
            days_later=days_later,
            console=console,
            mail=mail,
        )


async def _run_demo(
    *,
    seed: int,
    size: str,
    faults: str | None,
    data_dir: Path,
    days_later: int,
    console: Console | None,
    mail: Any,
) -> dict[str, Any]:
    from fixtures.generator import generate
    from fixtures.truth_report import dispute_report, edi_report, field_report, verdict_report
    from fleet.commands.run import _line
    from fleet.demo import DEMO_APPROVAL_POLICY, fleet_demo

    say = (console or Console(stderr=True)).print
    started = time.monotonic()
    scenario = generate(seed, size)
    if mail is not None:
        say(f"mail: a local SMTP server at {mail.url} takes the e-mailed disputes")
    async with fleet_demo(
        scenario,
        data_dir,
        faults=faults,
        say=say,
        edi=True,
        smtp_url=mail.url if mail is not None else None,
    ) as demo:
        demo.on_result = lambda r: say(_line(r, time.monotonic() - started), highlight=False)
        world = demo.world.world
        posted = world.clock.today()
        say(
            f"\n[bold]1. retrieve, read, match[/] (world day {posted}): the pipeline from each sync"
        )
        await demo.run_pipeline()
        retrieval = demo.audit().as_dict()
        verdicts_at_approval = verdict_report(world, demo.runtime.db).as_dict()
        say(f"\n[bold]2. approve[/]: {DEMO_APPROVAL_POLICY}")
        decided = await asyncio.to_thread(demo.decide_by_policy)
        say(f"   proposed {decided['proposed']}, approved {decided['approved']}")
        say("\n[bold]3. file[/]: hand-over and filing, as the scheduler's housekeeping starts them")
        await demo.file_what_waits()
        released = await asyncio.to_thread(demo.release_waiting)
        if released:
            say(f"   dora releases {released} dispute(s) the policy left for a person")
            await demo.file_what_waits()
        moved = 0
        while moved < days_later:
            step = min(STEP_DAYS, days_later - moved)
            world.clock.advance(days=step)
            moved += step
            say(
                f"\n[bold]4. follow[/]: {step} world days later ({world.clock.today()}): the "
                "scheduled pass (sync, documents, PODs, match, status), then the people "
                "decide what is new and the robot files it"
            )
            await demo.run_pipeline()
            more = await asyncio.to_thread(demo.decide_by_policy)
            say(f"   proposed {more['proposed']}, approved {more['approved']}")
            for key in ("approved",):
                decided[key] += more[key]
            for kind, n in more["proposed"].items():
                decided["proposed"][kind] = decided["proposed"].get(kind, 0) + n
            decided["refused"] += more["refused"]
            await demo.file_what_waits()
            if await asyncio.to_thread(demo.release_waiting):
                await demo.file_what_waits()
        say("\n[bold]5. credits[/]: accepted credits exported for the ERP")
        credits = await asyncio.to_thread(_export_credits, demo, data_dir)
        final = demo.audit()
        verdicts = verdict_report(world, demo.runtime.db)
        disputes = dispute_report(
            world,
            demo.runtime.db,
            automatic=lambda amount: amount <= Decimal(10000),
            started=posted,
        )
        fields = field_report(world, demo.runtime.db)
        edi = edi_report(
            world,
            demo.runtime.db,
            outbox=data_dir / "outbox",
            received=mail.received if mail is not None else None,
        )
        jobs = _jobs(demo.results)
        needs_human = sorted({f"{h.portal}:{h.ref}" for r in demo.results for h in r.needs_human})
        bar = _bar(final.as_dict(), verdicts.as_dict(), disputes, edi)
        return {
            "seed": scenario.seed,
            "size": scenario.size,
            "seconds": round(time.monotonic() - started, 1),
            "world_days": {"first_sync": str(posted), "end": str(world.clock.today())},
            "jobs": jobs,
            "retrieval_first_sync": retrieval,
            "retrieval_end": final.as_dict(),
            "fields": fields,
            "verdicts_at_approval": verdicts_at_approval,
            "verdicts_end": verdicts.as_dict(),
            "decisions": decided,
            "disputes": disputes,
            "no_portal": edi,
            "credits_exported": credits,
            "needs_human": needs_human,
            "requests_served": dict(world.record.requests),
            "bar": bar,
            "bar_met": all(v["met"] for v in bar.values()),
        }


def _export_credits(demo: Any, data_dir: Path) -> dict[str, Any]:
    from datetime import date

    from fleet.commands.match import _render
    from matching.reports import export_credits
    from store.db import transaction

    with transaction(demo.runtime.db) as s:
        rows = export_credits(s, date(2000, 1, 1), "system:demo")
    path = data_dir / "credits.csv"
    path.write_text(_render(rows, "csv"), encoding="utf-8")
    total = sum((Decimal(r["amount"]) for r in rows), Decimal("0.00"))
    return {"rows": len(rows), "total": str(total), "file": path.name}


def _jobs(results: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "job": str(r.job),
            "status": r.status,
            "error_class": r.error_class,
            "counts": dict(sorted(r.counts.items())),
            "needs_human": [h.ref for h in r.needs_human],
        }
        for r in results
    ]


def _bar(
    retrieval: dict[str, Any],
    verdicts: dict[str, Any],
    disputes: dict[str, Any],
    edi: dict[str, Any],
) -> dict:
    """The figures the demo must meet, each with its gap named."""
    d = retrieval["deductions"]
    sent = edi["smtp_received"]
    return {
        "every deduction retrieved, amounts current": {
            "met": d["listed"] == d["stored"] and not d["wrong_amount"] and not d["duplicates"],
            "detail": f"{d['stored']}/{d['listed']}, wrong amount: {len(d['wrong_amount'])}",
        },
        "every document that exists retrieved": {
            "met": retrieval["complete"],
            "detail": f"{retrieval['not_yet_available']} not produced by the world yet",
        },
        "verdicts agree >= 98% where evidence exists": {
            "met": verdicts["agreement"] >= 0.98,
            "detail": f"{verdicts['agree']}/{verdicts['evidence_available']}",
        },
        "no decided verdict wrong": {
            "met": not verdicts["decided_wrong"],
            "detail": f"{len(verdicts['decided_wrong'])} wrong",
        },
        "each claim disputed once, never for more than it owes back": {
            "met": not disputes["world"]["claims_disputed_twice"]
            and not disputes["world"]["disputed_more_than_owed_back"],
            "detail": f"twice: {disputes['world']['claims_disputed_twice']}, more than owed: "
            f"{len(disputes['world']['disputed_more_than_owed_back'])}",
        },
        "no-portal retailer: claims from its 812, disputes e-mailed once": {
            "met": edi["imported"] == edi["claims"]
            and not edi["decided_wrong"]
            and edi["emailed"] == edi["outbox"]
            and sent in (None, edi["emailed"])
            and not edi["sent_twice"]
            and not edi["disputed_more_than_owed_back"],
            "detail": f"{'/'.join(edi['portals'])}: {edi['imported']}/{edi['claims']} claims, "
            f"verdicts {edi['agree']}/{edi['judged']} ({len(edi['decided_wrong'])} wrong), "
            f"{edi['emailed']} e-mailed ({edi['outbox']} .eml, "
            f"{'no SMTP server' if sent is None else f'{sent} through SMTP'}) of "
            f"{edi['owed_back']} owed back",
        },
    }


def print_summary(console: Console, summary: dict[str, Any]) -> None:
    s = summary
    console.print(
        f"\n[bold]Summary[/] seed {s['seed']} ({s['size']}), {s['seconds']} s; world days "
        f"{s['world_days']['first_sync']} -> {s['world_days']['end']}"
    )
    r = s["retrieval_end"]
    t = Table(title="Retrieved, against the world's truth (at the end)")
    for col in ("what", "truth lists", "fleet has", "missing", "why missing"):
        t.add_column(col)
    d = r["deductions"]
    t.add_row(
        "deductions",
        str(d["listed"]),
        str(d["stored"]),
        str(d["listed"] - d["stored"]),
        f"amount not current: {len(d['wrong_amount'])}" if d["wrong_amount"] else "",
    )
    for kind, k in r["documents"].items():
        why = ", ".join(sorted({m["reason"] for m in k["missing_detail"]}))
        t.add_row(kind, str(k["listed"]), str(k["retrieved"]), str(k["missing"]), why)
    console.print(t)
    f = s["fields"]
    t = Table(title="Documents read and fields right (backups: claim, invoice, amount; PODs: PRO)")
    for col in ("what", "read", "right"):
        t.add_column(col)
    for name, v in f["fields"].items():
        t.add_row(name, str(v["read"]), str(v["right"]))
    t.add_row("documents by outcome", ", ".join(f"{k} {n}" for k, n in f["documents"].items()), "")
    console.print(t)
    t = Table(title="Verdicts against the truth (validity and amount owed)")
    for col in ("when", "judged", "evidence on portals", "agree", "needs review", "decided wrong"):
        t.add_column(col)
    for label, v in (("at approval", s["verdicts_at_approval"]), ("end", s["verdicts_end"])):
        t.add_row(
            label,
            str(v["judged"]),
            str(v["evidence_available"]),
            f"{v['agree']} ({v['agreement']:.1%})",
            str(v["needs_review_with_evidence"]),
            str(len(v["decided_wrong"])),
        )
    console.print(t)
    for w in s["verdicts_end"]["decided_wrong"]:
        console.print(
            f"  wrong: {escape(w['claim'])} ({w['category']}): truth {w['truth']}, "
            f"verdict {w['verdict']}",
            highlight=False,
        )
    dp = s["disputes"]
    t = Table(title="Disputes: the fleet's record and the portals'")
    for col in ("what", "fleet", "portals (truth)"):
        t.add_column(col)
    t.add_row(
        "filed",
        f"{dp['fleet']['filed']} ({dp['fleet']['by_email']} of them by e-mail, outside "
        f"the portals); {dp['fleet']['held_for_person']} held for a person",
        str(dp["world"]["filed"]),
    )
    t.add_row(
        "by status",
        ", ".join(f"{k} {n}" for k, n in dp["fleet"]["by_status"].items()),
        ", ".join(f"{k} {n}" for k, n in dp["world"]["by_status"].items()),
    )
    t.add_row(
        "recovered",
        f"{dp['fleet']['recovered']} ({dp['fleet']['partially_approved']} partial, "
        f"{dp['fleet']['partial_amount_unread']} of them without an amount on the portal)",
        dp["world"]["recovered"],
    )
    np = s["no_portal"]
    t.add_row(
        f"{'/'.join(np['portals'])} (no portal: 812 in, e-mail out)",
        f"{np['emailed']} e-mailed for {np['emailed_amount']} ({np['outbox']} in the outbox, "
        f"{'-' if np['smtp_received'] is None else np['smtp_received']} through SMTP); "
        f"{np['held_for_person']} held; recovered {np['recovered']} (replies not read)",
        f"{np['owed_back']} claims owed back ({np['owed_back_amount']})",
    )
    for label, med in (
        ("new claims", dp["days_posted_to_filed"]["new_claims"]),
        ("backlog at start", dp["days_posted_to_filed"]["backlog"]),
    ):
        t.add_row(
            f"world days posted -> filed, auto-filed, {label}",
            f"median {med['median']}, max {med['max']} ({med['count']} disputes)",
            "",
        )
    console.print(t)
    dec = s["decisions"]
    console.print(
        f"Decisions: proposed {dec['proposed']}, approved {dec['approved']}, refused "
        f"{len(dec['refused'])}. Credits exported: {s['credits_exported']['rows']} "
        f"({s['credits_exported']['total']}). Needs a person: {len(s['needs_human'])}.",
        highlight=False,
    )
    for line in dec["refused"][:10]:
        console.print(f"  refused: {escape(line)}", highlight=False)
    t = Table(title="The bar")
    for col in ("figure", "met", "detail"):
        t.add_column(col)
    for name, v in s["bar"].items():
        t.add_row(name, "yes" if v["met"] else "[red]NO[/]", escape(v["detail"]))
    console.print(t)
