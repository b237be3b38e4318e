"""``fleet deductions`` (the analyst's worklist) and ``fleet show REF`` (one
deduction in full), over ``store.queries``: the same queries the web app shows.

Output: rich tables on a terminal, fixed-width tables when piped, ``--json``
for scripts (money as strings, exact; dates ISO). Everything that came from a
portal or a person is shown as text, never as markup: cells are ``Text``
objects, and control, bidi and invisible characters are shown as ``\\u202e``
escapes, so a memo can neither style the output nor move the cursor.

Exit codes: 0 done (an empty list too), 1 no such deduction, 2 bad input (a
filter value, or a REF that is on several portals: the candidates are listed).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from fleet.commands.match import _day, _db, deduction_or_exit

if TYPE_CHECKING:
    from store.queries.detail import DeductionDetail, TimelineEvent
    from store.queries.worklist import Page

err = Console(stderr=True, highlight=False)

_MONEY = re.compile(r"-?\d{1,12}(?:\.\d{1,2})?")
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]"
)
"""C0/C1 controls (tab and newline kept), and the bidi and invisible characters
that would reorder or hide what a terminal shows."""
SHORT = 120
"""Longest value shown in a table cell or a change line (``--json`` has them whole)."""


def register(app: typer.Typer) -> None:
    app.command("deductions")(deductions)
    app.command("show")(show)


# --------------------------------------------------------------------------- helpers


def _fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[red]error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


def _console() -> Console:
    """The terminal's own width and colours; fixed width and no colours when piped."""
    out = Console(highlight=False)
    return out if out.is_terminal else Console(highlight=False, width=200, color_system=None)


def shown(value: object, limit: int | None = None) -> str:
    """Untrusted text made safe to print on a terminal (and cut at ``limit``)."""
    text = "" if value is None else str(value)
    text = _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    if limit is not None and len(text) > limit:
        return text[: limit - 1] + "…"
    return text


def _t(value: object, limit: int | None = SHORT, style: str = "") -> Text:
    return Text(shown(value, limit), style=style)


def _plain(value: object) -> str:
    """A payload value as text: strings as they are, structures as JSON."""
    if isinstance(value, str):
        return value
    from store.db import json_default

    return json.dumps(value, ensure_ascii=False, default=json_default)


def _money(text: str, option: str) -> Decimal:
    t = text.strip()
    if not _MONEY.fullmatch(t):
        _fail(
            f"{option}: not an amount: {t[:40]!r} (digits with up to 2 decimals and an "
            "optional minus, e.g. 1250.00 or -50; no currency sign or thousands separator)"
        )
    return Decimal(t)


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M")


def _json(data: Any) -> None:
    from store.db import json_default

    print(json.dumps(data, indent=1, default=json_default))


# --------------------------------------------------------------------------- deductions


def deductions(
    portal: Annotated[
        list[str] | None,
        typer.Option("--portal", metavar="PORTAL", help="Portal slug (repeat for several)."),
    ] = None,
    account: Annotated[
        list[str] | None,
        typer.Option("--account", metavar="LOGIN", help="Portal login (repeat for several)."),
    ] = None,
    customer: Annotated[
        str | None,
        typer.Option(
            "--customer",
            metavar="TEXT",
            help="Part of the customer's name (ERP invoice customer or portal).",
        ),
    ] = None,
    category: Annotated[
        list[str] | None,
        typer.Option(
            "--category",
            metavar="CATEGORY",
            help="shortage, pricing, promotion ... (repeat for several).",
        ),
    ] = None,
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status", metavar="STATUS", help="The portal's status, any case (repeat for several)."
        ),
    ] = None,
    verdict: Annotated[
        list[str] | None,
        typer.Option(
            "--verdict",
            metavar="valid|partial|invalid|needs_review|none",
            help="The verdict's validity; none = not judged yet (repeat for several).",
        ),
    ] = None,
    min_age: Annotated[
        int | None,
        typer.Option("--min-age", metavar="DAYS", min=0, help="At least this many days old."),
    ] = None,
    max_age: Annotated[
        int | None,
        typer.Option("--max-age", metavar="DAYS", min=0, help="At most this many days old."),
    ] = None,
    min_amount: Annotated[
        str | None,
        typer.Option("--min-amount", metavar="AMOUNT", help="Claimed amount at least (e.g. 500)."),
    ] = None,
    max_amount: Annotated[
        str | None, typer.Option("--max-amount", metavar="AMOUNT", help="Claimed amount at most.")
    ] = None,
    closes_by: Annotated[
        str | None,
        typer.Option(
            "--closes-by", metavar="DATE", help="Dispute window closes on or before (YYYY-MM-DD)."
        ),
    ] = None,
    closes_within: Annotated[
        int | None,
        typer.Option(
            "--closes-within",
            metavar="DAYS",
            min=0,
            help="Dispute window still open, closing within N days.",
        ),
    ] = None,
    search: Annotated[
        str | None,
        typer.Option(
            "--search",
            "-q",
            metavar="NUMBER",
            help="Claim, invoice, PO, PRO or BOL number (exact or prefix).",
        ),
    ] = None,
    sort: Annotated[
        str,
        typer.Option(
            "--sort",
            metavar="[-]deadline|amount|age|portal|claim",
            help="Order; a leading - reverses it (--sort=-amount: largest first).",
        ),
    ] = "deadline",
    page: Annotated[int, typer.Option("--page", metavar="N", min=1, help="Page number.")] = 1,
    page_size: Annotated[
        int, typer.Option("--page-size", metavar="N", min=1, max=500, help="Rows per page.")
    ] = 50,
    today: Annotated[
        str | None,
        typer.Option("--today", metavar="DATE", help="Count ages and deadlines to this day."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The worklist: deductions filtered, sorted and paginated.

    Filters combine (all must hold); a repeated option means any of its values.
    Ages count from the deduction date; deadlines are the verdict's dispute
    window (run fleet match first). Unknown deadlines and dates sort last."""
    from matching.model import VALIDITIES
    from store.queries.worklist import NO_VERDICT, FilterError, Filters, Sort, list_deductions

    day = _day(today)
    verdicts = [v.strip().lower() for v in verdict or []]
    for v in verdicts:
        if v not in (*VALIDITIES, NO_VERDICT):
            _fail(f"--verdict: {v[:40]!r} is not one of {', '.join((*VALIDITIES, NO_VERDICT))}")
    closes_from = None
    latest = _day(closes_by) if closes_by else None
    if closes_within is not None:
        closes_from = day
        within = day + timedelta(days=closes_within)
        latest = within if latest is None else min(latest, within)
    try:
        filters = Filters(
            portals=tuple(portal or ()),
            accounts=tuple(account or ()),
            customer=customer,
            categories=tuple(c.strip().lower() for c in category or ()),
            statuses=tuple(status or ()),
            validities=tuple(verdicts),
            min_age_days=min_age,
            max_age_days=max_age,
            min_amount=None if min_amount is None else _money(min_amount, "--min-amount"),
            max_amount=None if max_amount is None else _money(max_amount, "--max-amount"),
            closes_from=closes_from,
            closes_by=latest,
            text=search,
            today=day,
        )
        order = Sort.parse(sort)
        with _db()() as s:
            result = list_deductions(s, filters, order, page, page_size)
    except FilterError as exc:
        _fail(str(exc))
    if as_json:
        _json(_page_dict(result))
        return
    _print_page(_console(), result)


def _page_dict(page: Page) -> dict[str, Any]:
    from store.queries.worklist import page_dict

    return page_dict(page)


def _print_page(out: Console, page: Page) -> None:
    if not page.total:
        out.print("No deductions match.")
        return
    first = (page.page - 1) * page.page_size + 1
    order = ("-" if page.sort.descending else "") + page.sort.key
    title = (
        f"Deductions {first:,}-{first + len(page.items) - 1:,} of {page.total:,} "
        f"(page {page.page} of {page.pages}, by {order})"
        if page.items
        else f"{page.total:,} deductions; page {page.page} is past the last ({page.pages})"
    )
    t = Table(title=title, box=box.SIMPLE_HEAD if out.is_terminal else box.ASCII)
    t.add_column("deduction", no_wrap=True)
    t.add_column("customer", overflow="fold", max_width=24)
    t.add_column("invoice", overflow="fold")
    t.add_column("amount", justify="right", no_wrap=True)
    t.add_column("category", overflow="fold")
    t.add_column("status", overflow="fold", max_width=16)
    t.add_column("age", justify="right", no_wrap=True)
    t.add_column("verdict", no_wrap=True)
    t.add_column("closes", no_wrap=True)
    t.add_column("docs", justify="right")
    t.add_column("decision", overflow="fold")
    t.add_column("dispute", overflow="fold", max_width=16)
    for r in page.items:
        closes = "-"
        if r.window_closes is not None:
            closes = r.window_closes.isoformat()
            if r.days_left is not None:
                closes += f" ({r.days_left}d)" if r.days_left >= 0 else " (closed)"
        t.add_row(
            _t(r.ref),
            _t(r.customer or "-", 60),
            _t(r.invoice_number or "-"),
            _t(f"{r.amount:,} {r.currency}"),
            _t(r.category or "-"),
            _t(r.status or "-", 40),
            _t("-" if r.age_days is None else f"{r.age_days}d"),
            _t(r.validity or "-"),
            _t(closes),
            _t(r.documents),
            _t(r.decision or "-"),
            _t(r.dispute_status or "-", 40),
        )
    out.print(t)
    if page.page < page.pages:
        out.print(Text(f"more: --page {page.page + 1} (of {page.pages})", style="dim"))


# --------------------------------------------------------------------------- show


def show(
    ref: Annotated[
        str,
        typer.Argument(
            metavar="REF", help="portal:claim, or a claim number that only one portal has."
        ),
    ],
    today: Annotated[
        str | None, typer.Option("--today", metavar="DATE", help="Count days left to this day.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """One deduction in full: fields, timeline, documents, verdict, approvals, dispute.

    The timeline lists what happened to it: first seen, each change on the
    portal, documents retrieved, verdicts, proposals and approvals, comments,
    the dispute and its status changes, recovery."""
    from store.queries.detail import deduction_detail

    day = _day(today)
    with _db()() as s:
        ded = deduction_or_exit(s, ref)
        detail = deduction_detail(s, ded.id)
    if as_json:
        _json(_detail_dict(detail, day))
        return
    _print_detail(_console(), detail, day)


def _detail_dict(d: DeductionDetail, today: date) -> dict[str, Any]:
    data = asdict(d)
    data["deduction"] = {"ref": d.deduction.ref, **data["deduction"]}
    if d.verdict is not None and d.verdict.window_closes is not None:
        data["verdict"]["days_left"] = (d.verdict.window_closes - today).days
    for dec, view in zip(data["decisions"], d.decisions, strict=True):
        waiting = view.waiting_for
        dec["waiting_for"] = (
            None if waiting is None else {"level": waiting.level, "role": waiting.role}
        )
    for disp, dispute in zip(data["disputes"], d.disputes, strict=True):
        disp["won"] = dispute.won
    data["as_of"] = today
    return data


def _section(out: Console, title: str) -> None:
    out.print()
    out.print(Text(title, style="bold"))


def _field_table(out: Console, rows: list[tuple[str, object]]) -> None:
    t = Table(box=None, show_header=False, padding=(0, 2, 0, 0))
    t.add_column(style="dim", no_wrap=True)
    t.add_column(overflow="fold")
    for name, value in rows:
        t.add_row(name, _t("-" if value in (None, "") else value, None))
    out.print(t)


def _print_detail(out: Console, detail: DeductionDetail, today: date) -> None:
    d = detail.deduction
    out.print(Text.assemble(Text(shown(d.ref), style="bold"), f"  (id {d.id})"))
    _field_table(
        out,
        [
            ("customer", d.customer),
            ("account", d.account),
            ("amount", f"{d.amount:,} {d.currency}"),
            ("reason", " ".join(x for x in (d.reason_code, d.reason_text) if x)),
            ("category", d.category),
            ("status", d.status),
            ("invoice", d.invoice_number),
            ("PO", d.po_number),
            ("location", d.location),
            ("promotion", d.promo_id),
            (
                "carrier / PRO / BOL",
                " / ".join(x or "-" for x in (d.carrier, d.pro_number, d.bol_number)),
            ),
            (
                "dates",
                f"deduction {d.deduction_date or '-'}, invoice {d.invoice_date or '-'}, "
                f"posted {d.posted_date or '-'}",
            ),
            ("seen", f"first {_when(d.first_seen_at)}, last {_when(d.last_seen_at)} UTC"),
            ("memo", d.memo),
        ],
    )
    if d.lines:
        t = Table(title="Lines", box=box.SIMPLE_HEAD if out.is_terminal else box.ASCII)
        for col in ("#", "sku", "description", "qty", "unit cost", "amount"):
            t.add_column(
                col, justify="right" if col in ("#", "qty", "unit cost", "amount") else "left"
            )
        for ln in d.lines:
            t.add_row(
                _t(ln.line_no),
                _t(ln.sku),
                _t(ln.description),
                _t(ln.quantity),
                _t("-" if ln.unit_cost is None else ln.unit_cost),
                _t(ln.amount),
            )
        out.print(t)
    if d.raw:
        _section(out, "As the portal showed it")
        _field_table(out, [(shown(k, 40), shown(_plain(v), 300)) for k, v in d.raw.items()])
    _print_verdict(out, detail, today)
    _print_documents(out, detail)
    _print_approvals(out, detail)
    if detail.comments:
        _section(out, "Comments")
        for c in detail.comments:
            head = f"{_when(c.created_at)} {shown(c.author, 60)}"
            if c.mentions:
                head += " (mentions " + ", ".join("@" + shown(m, 60) for m in c.mentions) + ")"
            out.print(Text(head, style="dim"))
            out.print(_t(c.body, None))
    _print_disputes(out, detail)
    _section(out, "Timeline (UTC)")
    t = Table(box=box.SIMPLE_HEAD if out.is_terminal else box.ASCII)
    t.add_column("when", no_wrap=True)
    t.add_column("what", no_wrap=True)
    t.add_column("who", overflow="fold", max_width=24)
    t.add_column("detail", overflow="fold")
    for e in detail.timeline:
        t.add_row(_when(e.at), e.kind.replace("_", " "), _t(e.actor or "", 60), _event_text(e))
    out.print(t)


def _print_verdict(out: Console, detail: DeductionDetail, today: date) -> None:
    v = detail.verdict
    _section(out, "Verdict")
    if v is None:
        out.print("not judged yet: run fleet match")
        return
    out.print(
        _t(
            f"{v.validity} ({v.category}, from {v.category_source or '-'}; rule {v.rule or '-'})",
            None,
        )
    )
    out.print(
        f"claimed {v.claimed_amount:,}, now {v.current_amount:,}; valid "
        f"{'-' if v.valid_amount is None else f'{v.valid_amount:,}'}, disputable "
        f"{'-' if v.disputable_amount is None else f'{v.disputable_amount:,}'}"
    )
    if v.window_closes is not None:
        left = (v.window_closes - today).days
        state = f"{left} days left" if left >= 0 else f"closed {-left} days ago"
        out.print(f"dispute window closes {v.window_closes.isoformat()} ({state})")
    for title, items in (("reasons", v.reasons), ("evidence", v.evidence), ("missing", v.missing)):
        if not items:
            continue
        out.print(Text(title, style="dim"))
        for item in items:
            if isinstance(item, dict):
                parts = [str(item.get(k)) for k in ("kind", "ref") if item.get(k) is not None]
                note = item.get("note") or item.get("why")
                line = " ".join(parts) + (f" ({note})" if note else "")
            else:
                line = str(item)
            out.print(Text("  - " + shown(line, None)))


def _print_documents(out: Console, detail: DeductionDetail) -> None:
    _section(out, f"Documents ({len(detail.documents)})")
    if detail.documents:
        t = Table(box=box.SIMPLE_HEAD if out.is_terminal else box.ASCII)
        for col in ("role", "file", "type", "size", "sha256", "read", "retrieved", "of"):
            t.add_column(col, overflow="fold", justify="right" if col == "size" else "left")
        for doc in detail.documents:
            read = doc.extraction_status + (
                f": {doc.extraction_reason}" if doc.extraction_reason else ""
            )
            t.add_row(
                doc.role,
                _t(doc.filename or "-", 60),
                _t(doc.media_type),
                f"{doc.size_bytes:,}",
                doc.sha256[:12],
                _t(read, 60),
                _when(doc.fetched_at or doc.attached_at),
                _t(doc.via or "claim"),
            )
        out.print(t)
    for s in detail.shipments:
        got = "?" if s.pieces_delivered is None else s.pieces_delivered
        sent = "?" if s.pieces_shipped is None else s.pieces_shipped
        pieces = f"{got} of {sent} pieces"
        out.print(
            _t(
                f"shipment {s.carrier}:{s.pro_number} (BOL {s.bol_number or '-'}): POD "
                f"{s.pod_status}, delivered {s.delivery_date or '-'}, {pieces}"
                + (f", exceptions: {'; '.join(map(str, s.exceptions))}" if s.exceptions else ""),
                None,
            )
        )


def _print_approvals(out: Console, detail: DeductionDetail) -> None:
    if not detail.decisions:
        return
    _section(out, "Approvals")
    for dec in detail.decisions:
        waiting = dec.waiting_for
        state = dec.status + (
            f", waits for {waiting.role} (step {waiting.level} of {len(dec.steps)})"
            if waiting
            else ""
        )
        out.print(
            _t(
                f"decision {dec.id}: {dec.kind}, accept {dec.accept_amount:,}, dispute "
                f"{dec.dispute_amount:,}; proposed by {dec.proposed_by} "
                f"{_when(dec.created_at)}; {state}",
                None,
            )
        )
        if dec.note:
            out.print(Text("  note: " + shown(dec.note)))
        for st in dec.steps:
            who = (
                ""
                if st.actor is None
                else f" by {st.actor}" + (f" for {st.on_behalf_of}" if st.on_behalf_of else "")
            )
            when = "" if st.decided_at is None else f" {_when(st.decided_at)}"
            note = f": {st.note}" if st.note else ""
            out.print(Text("  " + shown(f"{st.level}. {st.role} {st.status}{who}{when}{note}")))


def _print_disputes(out: Console, detail: DeductionDetail) -> None:
    if not detail.disputes:
        return
    _section(out, "Dispute")
    for disp in detail.disputes:
        out.print(
            _t(
                f"{disp.portal} dispute {disp.dispute_number or '(not filed yet)'}: {disp.status}, "
                f"{disp.amount:,} {disp.currency}; filed {_when(disp.filed_at)}, "
                f"attempts {disp.attempts}",
                None,
            )
        )
        for h in disp.history:
            out.print(Text("  " + shown(f"{_when(h.at)} {h.old_status or 'new'} -> {h.status}")))


def _event_text(e: TimelineEvent) -> Text:
    ref, note = shown(e.ref), shown(e.note, SHORT)
    if e.kind == "first_seen":
        text = "first seen on the portal"
    elif e.kind == "changed":
        text = f"{shown(e.field)}: {shown(e.before, SHORT)} -> {shown(e.after, SHORT)}"
    elif e.kind == "document":
        text = f"{shown(e.field)} {ref}" + (f" ({note})" if e.note else "")
    elif e.kind == "verdict":
        text = f"{shown(e.before) or 'none'} -> {shown(e.after)}" + (
            f" (valid {note})" if e.note else ""
        )
    elif e.kind == "proposed":
        text = f"proposed {shown(e.after)} (decision {ref})" + (f": {note}" if e.note else "")
    elif e.kind == "approval":
        text = f"{shown(e.field)} step {shown(e.after)} (decision {ref})" + (
            f": {note}" if e.note else ""
        )
    elif e.kind == "decision":
        text = f"decision {ref} {shown(e.after)}"
    elif e.kind == "credit_exported":
        text = f"{shown(e.after)} exported to the ERP as {note or 'credit'} (decision {ref})"
    elif e.kind == "comment":
        text = shown(e.note)
    elif e.kind == "dispute":
        text = f"dispute queued for {shown(e.after)}"
    elif e.kind == "dispute_filed":
        text = f"dispute filed as {ref or '-'}"
    elif e.kind == "dispute_status":
        text = f"dispute {shown(e.before)} -> {shown(e.after)}"
    elif e.kind == "recovered":
        text = f"recovered: dispute {ref or '-'} {shown(e.after)}"
    else:
        text = " ".join(shown(x) for x in (e.field, e.before, e.after, e.ref, e.note) if x)
    return Text(text)


__all__ = ["deductions", "register", "show", "shown"]
