"""Credits for the ERP (exported once) and the team's figures (KPIs).

``export_credits`` takes approved decisions that accept money (credit memo or
write-off, including the accepted part of a split) and not exported yet, puts
them in a new export batch (recorded, audited) and returns the rows; a second
call never returns them again, even when two exports race. Decided disputes
ride along, once each: what the portal paid back (``recovered``) and the rest
of the disputed amount (``dispute_write_off``), from ``recovered_amount``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from records.outcomes import DISPUTE_LOST, DISPUTE_WON
from store.models import Decision, Deduction, Dispute, Verdict
from store.repositories import approvals as repo
from store.repositories import audit
from store.repositories import disputes as disputes_repo

ZERO = Decimal("0.00")
AGING = ((30, "0-30"), (60, "31-60"), (90, "61-90"), (180, "91-180"))
WON = DISPUTE_WON
LOST = DISPUTE_LOST
CLOSED_STATUSES = ("reversed", "closed", "paid", "cancelled")


def export_credits(session: Session, since: date, actor: str) -> list[dict[str, Any]]:
    """Rows of a new export batch; empty (and no batch) when nothing is new."""
    start = datetime.combine(since, time.min, tzinfo=UTC)
    rows = session.execute(
        select(Decision, Deduction)
        .join(Deduction, Deduction.id == Decision.deduction_id)
        .where(
            Decision.status == "approved",
            Decision.accept_amount > 0,
            Decision.export_batch_id.is_(None),
            Decision.decided_at >= start,
        )
        .order_by(Decision.id)
    ).all()
    outcomes = session.execute(
        select(Dispute, Deduction)
        .join(Deduction, Deduction.id == Dispute.deduction_id)
        .where(
            Dispute.recovered_amount.is_not(None),
            Dispute.outcome_batch_id.is_(None),
            Dispute.status.in_(WON + LOST),
            Dispute.updated_at >= start,
        )
        .order_by(Dispute.id)
    ).all()
    if not rows and not outcomes:
        return []
    batch, claimed = repo.claim_for_export(
        session, [d.id for d, _ in rows], "credits", since, actor
    )
    settled = set(disputes_repo.claim_outcomes(session, [d.id for d, _ in outcomes], batch.id))
    mine = set(claimed)
    out = []
    for decision, ded in rows:
        if decision.id not in mine:
            continue
        out.append(
            {
                "batch": batch.id,
                "decision": decision.id,
                "portal": ded.portal,
                "deduction": ded.external_id,
                "invoice_number": ded.invoice_number,
                "kind": decision.credit_kind or "credit_memo",
                "amount": str(decision.accept_amount),
                "currency": ded.currency,
                "reason_code": ded.reason_code,
                "decided_at": decision.decided_at.isoformat() if decision.decided_at else "",
            }
        )
    for dispute, ded in outcomes:
        if dispute.id not in settled:
            continue
        back = dispute.recovered_amount or ZERO
        for kind, amount in (("recovered", back), ("dispute_write_off", dispute.amount - back)):
            if amount <= 0:
                continue
            out.append(
                {
                    "batch": batch.id,
                    "decision": "",
                    "portal": ded.portal,
                    "deduction": ded.external_id,
                    "invoice_number": ded.invoice_number,
                    "kind": kind,
                    "amount": str(amount),
                    "currency": dispute.currency,
                    "reason_code": ded.reason_code,
                    "decided_at": dispute.updated_at.isoformat() if dispute.updated_at else "",
                }
            )
    batch.count = len(out)
    batch.total = sum((Decimal(str(r["amount"])) for r in out), ZERO)
    session.flush()
    audit.append(
        session,
        actor,
        "export",
        f"export_batch:{batch.id}",
        None,
        {
            "count": batch.count,
            "total": str(batch.total),
            "decisions": sorted(mine),
            "disputes": sorted(settled),
        },
    )
    return out


def _bucket(days: int) -> str:
    for limit, name in AGING:
        if days <= limit:
            return name
    return "180+"


def kpis(session: Session, today: date, period_days: int = 90) -> dict[str, Any]:
    """DDO, open deductions by aging bucket, category, customer (portal);
    dispute win rate, amount recovered, share with complete evidence."""
    verdicts = dict(session.execute(select(Verdict.deduction_id, Verdict.validity)).all())
    categories = dict(session.execute(select(Verdict.deduction_id, Verdict.category)).all())
    closes = dict(
        session.execute(
            select(Verdict.deduction_id, Verdict.window_closes).where(
                Verdict.window_closes.is_not(None)
            )
        ).all()
    )
    by_reason: dict[str, Decimal] = defaultdict(lambda: ZERO)
    at_risk: dict[str, Decimal] = defaultdict(lambda: ZERO)
    decided = set(
        session.execute(
            select(Decision.deduction_id).where(Decision.status == "approved")
        ).scalars()
    )
    open_count: Counter[str] = Counter()
    by_age: dict[str, Decimal] = defaultdict(lambda: ZERO)
    by_cat: dict[str, Decimal] = defaultdict(lambda: ZERO)
    by_portal: dict[str, Decimal] = defaultdict(lambda: ZERO)
    open_total, period_total, total, complete = ZERO, ZERO, 0, 0
    for d_id, portal, amount, status, ded_date, category, code, reason in session.execute(
        select(
            Deduction.id,
            Deduction.portal,
            Deduction.amount,
            Deduction.status,
            Deduction.deduction_date,
            Deduction.category,
            Deduction.reason_code,
            Deduction.reason_text,
        )
    ):
        total += 1
        complete += verdicts.get(d_id) not in (None, "needs_review")
        if ded_date and (today - ded_date).days <= period_days:
            period_total += amount
        if amount <= 0 or d_id in decided or (status or "").lower() in CLOSED_STATUSES:
            continue
        cat = categories.get(d_id) or str(getattr(category, "value", category) or "other")
        age = _bucket((today - ded_date).days if ded_date else 0)
        open_count[age] += 1
        by_age[age] += amount
        by_cat[cat] += amount
        by_portal[portal] += amount
        by_reason[_reason_label(portal, code, reason)] += amount
        if verdicts.get(d_id) != "valid":  # what a dispute could still win back
            at_risk[_deadline_bucket(closes.get(d_id), today)] += amount
        open_total += amount
    daily = period_total / period_days if period_total else ZERO
    # a claim's outcome is its last decided level's: a denial won on appeal is a win
    outcome: dict[int, str] = {}
    for d_id, status in session.execute(
        select(Dispute.deduction_id, Dispute.status)
        .where(Dispute.status.in_(WON + LOST))
        .order_by(Dispute.level)
    ):
        outcome[d_id] = (status or "").lower()
    statuses = Counter(outcome.values())
    won = sum(statuses[s] for s in WON)
    lost = sum(statuses[s] for s in LOST)
    recovered = ZERO
    recovered_by_portal: dict[str, Decimal] = defaultdict(lambda: ZERO)
    recovered_by_category: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for portal, d_id, amount, back, status in session.execute(
        select(
            Dispute.portal,
            Dispute.deduction_id,
            Dispute.amount,
            Dispute.recovered_amount,
            Dispute.status,
        ).where(Dispute.status.in_(WON))
    ):
        # a full approval that named no amount paid the disputed amount back
        got = back if back is not None else (amount if status == "approved" else ZERO)
        recovered += got
        recovered_by_portal[portal] += got
        recovered_by_category[categories.get(d_id) or "other"] += got
    return {
        "as_of": today.isoformat(),
        "deductions": total,
        "open_amount": str(open_total),
        "ddo_days": None if not daily else round(float(open_total / daily), 1),
        "open_by_aging": {k: {"count": open_count[k], "amount": str(v)} for k, v in by_age.items()},
        "open_by_category": {k: str(v) for k, v in sorted(by_cat.items())},
        "open_by_portal": {k: str(v) for k, v in sorted(by_portal.items())},
        "open_by_reason": {k: str(v) for k, v in sorted(by_reason.items())},
        "open_at_risk_by_deadline": {k: str(at_risk[k]) for k in DEADLINE_BUCKETS if k in at_risk},
        "dispute_win_rate": None if not won + lost else round(won / (won + lost), 3),
        "amount_recovered": str(recovered),
        "recovered_by_portal": {k: str(v) for k, v in sorted(recovered_by_portal.items())},
        "recovered_by_category": {k: str(v) for k, v in sorted(recovered_by_category.items())},
        "complete_evidence_share": None if not total else round(complete / total, 3),
    }


DEADLINE_BUCKETS = ("window closed", "0-7 days", "8-30 days", "31-90 days", "91+ days",
                    "no window known")  # fmt: skip
"""Open amount not judged owed, by how soon its dispute window closes."""


def _deadline_bucket(closes: date | None, today: date) -> str:
    if closes is None:
        return DEADLINE_BUCKETS[-1]
    left = (closes - today).days
    if left < 0:
        return DEADLINE_BUCKETS[0]
    for limit, name in ((7, 1), (30, 2), (90, 3)):
        if left <= limit:
            return DEADLINE_BUCKETS[name]
    return DEADLINE_BUCKETS[4]


def _reason_label(portal: str, code: str | None, text: str | None) -> str:
    """A reason code as people read it: the portal's code and its words."""
    words = " ".join((text or "").split())[:40]
    return f"{portal} {code or '-'}" + (f" {words}" if words else "")


@dataclass(frozen=True)
class KpiTable:
    """One table of the KPIs as both faces show it (``fleet kpis``, the web
    app's KPI page and its CSV download): a label column and figures, the
    last of which is charted. Figures are exact (Decimal, int)."""

    name: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...] = ()

    def charted(self) -> list[tuple[str, Decimal]]:
        """(label, value) of the charted column, for a bar chart; a row without a
        figure there (None: a day with no DDO yet) draws nothing."""
        return [(str(r[0]), Decimal(str(r[-1]))) for r in self.rows if r[-1] is not None]


KPI_HEADLINE = (
    ("as_of", "as of"),
    ("deductions", "deductions"),
    ("open_amount", "open amount"),
    ("ddo_days", "days deductions outstanding"),
    ("dispute_win_rate", "dispute win rate"),
    ("amount_recovered", "amount recovered"),
    ("complete_evidence_share", "share with complete evidence"),
)
"""The single figures of :func:`kpis`, in the order people read them."""


def kpi_tables(figures: dict[str, Any]) -> list[KpiTable]:
    """The tables in :func:`kpis`' figures, largest first (aging in age order)."""

    def money_rows(key: str) -> tuple[tuple[str, Decimal], ...]:
        items = [(k, Decimal(v)) for k, v in figures.get(key, {}).items()]
        return tuple(sorted(items, key=lambda kv: (-kv[1], kv[0])))

    order = [name for _, name in AGING] + ["180+"]
    aging = figures.get("open_by_aging", {})
    return [
        KpiTable(
            "aging",
            "Open deductions by age (days)",
            ("age", "deductions", "amount"),
            tuple(
                (b, int(aging[b]["count"]), Decimal(aging[b]["amount"]))
                for b in order
                if b in aging
            ),
        ),
        KpiTable("category", "Open amount by category", ("category", "amount"),
                 money_rows("open_by_category")),
        KpiTable("portal", "Open amount by customer portal", ("portal", "amount"),
                 money_rows("open_by_portal")),
        KpiTable("reason", "Open amount by reason code", ("reason", "amount"),
                 money_rows("open_by_reason")),
        KpiTable(
            "deadline",
            "Open amount at risk by dispute deadline (not judged owed)",
            ("window closes", "amount"),
            tuple(
                (b, Decimal(figures["open_at_risk_by_deadline"][b]))
                for b in DEADLINE_BUCKETS
                if b in figures.get("open_at_risk_by_deadline", {})
            ),
        ),
        KpiTable("recovered_portal", "Recovered by portal", ("portal", "recovered"),
                 money_rows("recovered_by_portal")),
        KpiTable("recovered_category", "Recovered by category", ("category", "recovered"),
                 money_rows("recovered_by_category")),
    ]  # fmt: skip


__all__ = ["KPI_HEADLINE", "KpiTable", "export_credits", "kpi_tables", "kpis"]
