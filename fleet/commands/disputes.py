"""``fleet disputes``: what is disputed, and a person's "file this one".

``fleet disputes [--status S] [--json]`` lists every dispute with its
deadline, amount and status. ``fleet disputes file REF`` releases a dispute
the filing policy left for a person (fleet.toml ``[disputes]``): it becomes
``queued`` and the next ``file_dispute`` job of its account files it (the
scheduler starts one within ``housekeeping_seconds``; ``fleet run --task
file_dispute`` does it now). ``fleet disputes preview REF`` shows exactly what
would be sent (reason, text, attachments with sizes) or why it cannot be;
``fleet disputes deadlines [--days N]`` lists the open deductions whose window
closes in the next N days, largest amount at risk first. ``fleet disputes
appeal REF`` appeals a denied dispute once, on a portal that takes appeals,
within its window; ``preview --appeal`` shows the appeal's packet. The rules
live in dispute_filing/; this module only reads options and prints.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

app = typer.Typer(
    help="Disputes: list them, release one the filing policy left for a person.",
    invoke_without_command=True,
)
err = Console(stderr=True)


@app.callback()
def disputes(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option(help="Only this status (queued, awaiting_person, ...).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every dispute: claim, amount, status, portal number, deadline."""
    if ctx.invoked_subcommand is not None:
        return
    from dispute_filing.outcomes import outcome
    from store.queries.disputes import list_disputes

    with _db()() as s:
        found = list_disputes(s, status=status, limit=100_000)
    rows: list[dict[str, Any]] = [
        {
            "claim": r.ref,
            "level": "appeal" if r.level > 1 else "dispute",
            "amount": str(r.amount),
            "currency": r.currency,
            "status": r.status,
            "dispute_number": r.dispute_number,
            "deadline": r.deadline.isoformat() if r.deadline else None,
            "filed_on": r.filed_on.isoformat() if r.filed_on else None,
            "attempts": r.attempts,
            "held_because": r.hold_reason,
            "outcome": outcome(r.status),
            "recovered": None if r.recovered_amount is None else str(r.recovered_amount),
        }
        for r in found
    ]
    if as_json:
        print(json.dumps(rows, indent=1))
        return
    t = Table(title=f"Disputes ({len(rows)})")
    for col in (
        "claim",
        "amount",
        "status",
        "portal number",
        "deadline",
        "filed on",
        "recovered",
        "held because",
    ):
        t.add_column(col)
    for r in rows:
        t.add_row(
            escape(r["claim"]) + (" (appeal)" if r["level"] == "appeal" else ""),
            f"{r['amount']} {r['currency']}",
            r["status"],
            escape(r["dispute_number"] or ""),
            r["deadline"] or "",
            r["filed_on"] or "",
            f"{r['recovered']} ({r['outcome']})" if r["recovered"] is not None else "",
            escape(r["held_because"] or ""),
        )
    out = Console()
    (out if out.is_terminal else Console(width=120)).print(t)


@app.command("file")
def file(
    ref: Annotated[str, typer.Argument(help="The claim: portal:claim, or a unique claim number.")],
    override_window: Annotated[
        bool,
        typer.Option(
            "--override-window", help="File although the portal's window closed (audited)."
        ),
    ] = False,
    as_user: Annotated[
        str | None, typer.Option("--as", envvar="FLEET_USER", help="Who releases it.")
    ] = None,
) -> None:
    """Release a dispute the filing policy left for a person: the robot files it next."""
    from dispute_filing.handoff import NotReleasable, release
    from fleet.commands.approvals import _fail, _known, _who
    from fleet.config_loader import load_settings
    from store.db import transaction

    actor = _who(as_user)
    with transaction(_db()) as s:
        _known(s, actor)
        ded, dispute = _dispute_of(s, ref)
        held = dispute.hold_reason
        try:
            release(s, dispute, actor, load_settings().today(), override_window=override_window)
        except NotReleasable as exc:
            _fail(str(exc))
    if held:
        err.print(
            f"[yellow]note:[/] the robot held it because {escape(held)}; it checks the packet "
            "again before filing (fleet disputes preview REF shows the result now)",
            soft_wrap=True,
        )
    Console().print(
        f"{escape(ded.portal)}:{escape(ded.external_id)} queued for filing; the next "
        "file_dispute job of its account files it (fleet run --task file_dispute: now)",
        soft_wrap=True,
    )


@app.command("appeal")
def appeal(
    ref: Annotated[str, typer.Argument(help="The claim: portal:claim, or a unique claim number.")],
    as_user: Annotated[
        str | None, typer.Option("--as", envvar="FLEET_USER", help="Who decides to appeal.")
    ] = None,
) -> None:
    """Appeal a denied dispute (once, within the portal's appeal window): the
    robot builds a new packet and files it with the next file_dispute job."""
    from dispute_filing.appeals import AppealRefused, open_appeal
    from fleet.commands.approvals import _fail, _known, _who
    from fleet.config_loader import load_settings
    from store.db import transaction

    actor = _who(as_user)
    with transaction(_db()) as s:
        _known(s, actor)
        ded, dispute = _dispute_of(s, ref)
        try:
            made = open_appeal(s, dispute, actor, load_settings().today())
        except AppealRefused as exc:
            _fail(f"{ref} cannot be appealed: {exc}")
        amount, currency = made.amount, made.currency
    Console().print(
        f"{escape(ded.portal)}:{escape(ded.external_id)}: appeal of dispute "
        f"{escape(dispute.dispute_number or '')} queued for {amount} {currency}; the next "
        "file_dispute job of its account files it (fleet run --task file_dispute: now)",
        soft_wrap=True,
    )


@app.command("preview")
def preview(
    ref: Annotated[str, typer.Argument(help="The claim: portal:claim, or a unique claim number.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    of_appeal: Annotated[
        bool, typer.Option("--appeal", help="The claim's appeal, not its dispute.")
    ] = False,
) -> None:
    """Exactly what the robot would send for this claim's dispute: the portal's
    reason, the amount, the text and every attachment with its size."""
    from dispute_filing.appeals import appeal_key
    from dispute_filing.packets import dispute_key, prepare
    from fleet.commands.approvals import _fail
    from fleet.commands.match import deduction_or_exit
    from fleet.config_loader import load_settings
    from store.repositories import disputes as disputes_repo
    from store.vault import DocumentVault

    settings = load_settings()
    with _db()() as s:
        ded = deduction_or_exit(s, ref)
        key = (appeal_key if of_appeal else dispute_key)(ded.portal, ded.external_id)
        dispute = disputes_repo.by_key(s, key)
        if dispute is None and of_appeal:
            _fail(f"{ref} has no appeal: fleet disputes appeal REF makes one")
        if dispute is None:
            _fail(f"{ref} has no dispute: propose one (fleet propose) and approve it first")
        prepared = prepare(
            s,
            DocumentVault(settings.data_dir / "vault"),
            dispute,
            data_dir=settings.data_dir,
            today=settings.today(),
        )
        claim = f"{ded.portal}:{ded.external_id}"
    summary = prepared.summary() | {
        "claim": claim,
        "status": dispute.status,
        "currency": dispute.currency,
        "text": prepared.packet.explanation,
    }
    if as_json:
        print(json.dumps(summary, indent=1))
        return
    out = Console()
    what = "Appeal" if of_appeal else "Dispute"
    out.print(f"[bold]{what} of {escape(claim)}[/] ({escape(dispute.status)})", soft_wrap=True)
    out.print(f"reason:   {escape(summary['portal_reason'])}", soft_wrap=True)
    out.print(f"amount:   {summary['amount']} {dispute.currency}")
    out.print(f"template: {escape(summary['template'])}")
    out.print(f"text ({summary['text_chars']} characters):", soft_wrap=True)
    out.print(escape(summary["text"]), soft_wrap=True, highlight=False)
    out.print(f"attachments ({len(summary['attachments'])}):")
    for i, a in enumerate(summary["attachments"], start=1):
        merged = f"  [{', '.join(a['sources'])}]" if a.get("sources") else ""
        out.print(
            f"  {i}. {escape(a['name'])}  {a['size']:,} bytes  {a['kind']}{escape(merged)}",
            soft_wrap=True,
            highlight=False,
        )
    for left in summary["left_out"]:
        out.print(f"  left out: {escape(left)}", soft_wrap=True)
    if summary["refusal"]:
        out.print(
            f"[red]cannot be filed by the robot:[/] {escape(summary['refusal'])}", soft_wrap=True
        )


@app.command("deadlines")
def deadlines(
    days: Annotated[int, typer.Option(min=0, max=3650, help="Closing within this many days.")] = 14,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Open deductions whose dispute window closes within DAYS, not yet disputed on
    the portal, largest amount at risk first."""
    from dispute_filing.deadlines import closing
    from fleet.config_loader import load_settings

    with _db()() as s:
        found = closing(s, load_settings().today(), days)
    if as_json:
        print(json.dumps([d.as_dict() for d in found], indent=1))
        return
    total = sum((d.amount_at_risk for d in found), start=0)
    t = Table(title=f"Closing in the next {days} days: {len(found)} claims, {total} at risk")
    for col in ("claim", "at risk", "closes", "days left", "category", "dispute"):
        t.add_column(col)
    for d in found:
        t.add_row(
            escape(d.claim),
            f"{d.amount_at_risk} {d.currency}",
            d.closes.isoformat(),
            str(d.days_left),
            d.category,
            d.dispute_status or "none",
        )
    out = Console()
    (out if out.is_terminal else Console(width=120)).print(t)


def _dispute_of(s: Any, ref: str) -> tuple[Any, Any]:
    """The claim ``ref`` names and its (first-level) dispute, or exit saying why."""
    from dispute_filing.packets import dispute_key
    from fleet.commands.approvals import _fail
    from fleet.commands.match import deduction_or_exit
    from store.repositories import disputes as disputes_repo

    ded = deduction_or_exit(s, ref)
    dispute = disputes_repo.by_key(s, dispute_key(ded.portal, ded.external_id))
    if dispute is None:
        _fail(f"{ref} has no dispute: propose one (fleet propose) and approve it first")
    return ded, dispute


def _db() -> Any:
    from fleet.config_loader import load_settings
    from store.db import init_db, session_factory

    return session_factory(init_db(load_settings().resolved_database_url))
