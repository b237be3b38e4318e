"""Dispute deadlines: which open deductions close soon, and how much money rides on them.

Every deduction's window (per portal and reason code, as data: ``window_days``
and ``window_anchor`` in ``records/data/portals/*.json``) is computed by the
matcher into ``Verdict.window_closes``. A deduction is *at risk* while it is
open on the portal, its window has not closed, the matcher did not find it
valid (or a person queued a dispute anyway), and no dispute has reached the
portal yet (none, or one still queued, waiting for a person or held). The
amount at risk is what the matcher found disputable (the whole claim when it
could not say), minus nothing: a partial approval still loses all of it if
the window closes unfiled.

:func:`closing` lists them by amount at risk, largest first;
:func:`alert` records one ``dispute_deadlines`` health event a business day
(the ``match`` step calls it after every matching run), so ops sees
the money about to be lost where it looks for trouble.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from records.normalize import NormalizationError, portal_rules
from store.models import Deduction, Dispute, HealthEvent, Verdict
from store.repositories import runs as runs_repo

DEFAULT_DAYS = 14
ALERT_KIND = "dispute_deadlines"
NOT_YET_FILED = ("queued", "awaiting_person", "filing", "draft")


@dataclass(frozen=True)
class Deadline:
    claim: str  # portal:external id
    portal: str
    account: str | None
    closes: date
    days_left: int
    amount_at_risk: Decimal
    currency: str
    category: str
    validity: str
    dispute_status: str | None  # None: no dispute yet

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["closes"] = self.closes.isoformat()
        out["amount_at_risk"] = str(self.amount_at_risk)
        return out


def closing(session: Session, today: date, days: int = DEFAULT_DAYS) -> list[Deadline]:
    """Open deductions whose window closes within ``days`` (today included) and
    that no dispute has reached the portal for, largest amount at risk first."""
    until = today + timedelta(days=max(0, days))
    rows = session.execute(
        select(Deduction, Verdict, Dispute.status, Dispute.dispute_number)
        .join(Verdict, Verdict.deduction_id == Deduction.id)
        .outerjoin(Dispute, Dispute.deduction_id == Deduction.id)
        .where(
            Verdict.window_closes.is_not(None),
            Verdict.window_closes >= today,
            Verdict.window_closes <= until,
            or_(Verdict.validity != "valid", Dispute.id.is_not(None)),
        )
    ).all()
    out: list[Deadline] = []
    for d, v, dispute_status, dispute_number in rows:
        if dispute_number or (dispute_status and dispute_status not in NOT_YET_FILED):
            continue
        try:
            if not portal_rules(d.portal).is_open(d.status):
                continue
        except NormalizationError:
            pass
        at_risk = v.disputable_amount if v.disputable_amount is not None else d.amount
        if at_risk <= 0:
            continue
        assert v.window_closes is not None
        out.append(
            Deadline(
                claim=f"{d.portal}:{d.external_id}",
                portal=d.portal,
                account=d.account,
                closes=v.window_closes,
                days_left=(v.window_closes - today).days,
                amount_at_risk=Decimal(at_risk),
                currency=d.currency,
                category=v.category,
                validity=v.validity,
                dispute_status=dispute_status,
            )
        )
    out.sort(key=lambda x: (-x.amount_at_risk, x.closes, x.claim))
    return out


def alert(session: Session, today: date, days: int = DEFAULT_DAYS) -> int | None:
    """Record today's ``dispute_deadlines`` health event once (None: already
    recorded today, or nothing closes). Returns the event's id."""
    found = closing(session, today, days)
    if not found:
        return None
    for e in session.scalars(
        select(HealthEvent)
        .where(HealthEvent.kind == ALERT_KIND)
        .order_by(HealthEvent.id.desc())
        .limit(20)
    ):
        if (e.detail or {}).get("business_day") == today.isoformat():
            return None
    total = sum((x.amount_at_risk for x in found), Decimal(0))
    return runs_repo.health_event(
        session,
        ALERT_KIND,
        severity="warning",
        detail={
            "business_day": today.isoformat(),
            "days": days,
            "count": len(found),
            "amount_at_risk": str(total),
            "top": [x.as_dict() for x in found[:10]],
        },
    )


__all__ = ["ALERT_KIND", "DEFAULT_DAYS", "Deadline", "alert", "closing"]
