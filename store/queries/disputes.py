"""Disputes as people follow them: ``fleet disputes``, the web app's disputes
page and its API, all from :func:`list_disputes`.

:func:`list_disputes` reads every dispute with its claim, the dispute window's
last day (the verdict's), the amount at risk, the portal's number, why it is
held and what it recovered, soonest deadline first (no deadline last). It
only reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from records.outcomes import DISPUTE_LOST, DISPUTE_WON
from store.models import Deduction, Dispute, Verdict

CLOSED = frozenset({*DISPUTE_WON, *DISPUTE_LOST, "rejected", "window_closed", "withdrawn"})
"""Statuses (lower case) after which a dispute needs nobody: "open" means not one of these."""


@dataclass(frozen=True, slots=True)
class DisputeRow:
    id: int
    deduction_id: int
    portal: str
    external_id: str
    status: str
    dispute_number: str | None
    amount: Decimal
    currency: str
    deadline: date | None
    filed_at: datetime | None
    attempts: int
    filed_on: date | None = None
    """The fleet's business day it was filed on."""
    hold_reason: str | None = None
    recovered_amount: Decimal | None = None
    level: int = 1
    """1: the dispute; 2: the appeal of its denial."""
    decided_on: date | None = None

    @property
    def ref(self) -> str:
        return f"{self.portal}:{self.external_id}"

    @property
    def open(self) -> bool:
        return self.status.lower() not in CLOSED


def list_disputes(
    session: Session, *, status: str | None = None, open_only: bool = False, limit: int = 1000
) -> list[DisputeRow]:
    q = (
        select(Dispute, Deduction.portal, Deduction.external_id, Verdict.window_closes)
        .join(Deduction, Deduction.id == Dispute.deduction_id)
        .outerjoin(Verdict, Verdict.deduction_id == Dispute.deduction_id)
        .order_by(Verdict.window_closes.is_(None), Verdict.window_closes, Dispute.id)
        .limit(limit)
    )
    if status:
        q = q.where(Dispute.status == status)
    rows = [
        DisputeRow(
            id=d.id,
            deduction_id=d.deduction_id,
            portal=portal,
            external_id=external_id,
            status=str(d.status),
            dispute_number=d.dispute_number,
            amount=d.amount,
            currency=d.currency,
            deadline=closes,
            filed_at=d.filed_at,
            attempts=d.attempts,
            filed_on=d.filed_on,
            hold_reason=d.hold_reason,
            recovered_amount=d.recovered_amount,
            level=d.level,
            decided_on=d.decided_on,
        )
        for d, portal, external_id, closes in session.execute(q).all()
    ]
    return [r for r in rows if r.open] if open_only else rows


__all__ = ["CLOSED", "DisputeRow", "list_disputes"]
