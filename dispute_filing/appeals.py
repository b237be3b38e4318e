"""A lost dispute's second-level appeal: once, only after a denial, only on a
portal that takes appeals, and only within its appeal window.

An appeal is a person's decision (``fleet disputes appeal REF``): the
retailer already said no once, and asking again costs goodwill. It becomes a
dispute row of its own (``level`` 2, key ``<portal>:<claim>:appeal``) in
``queued``; the next ``file_dispute`` job of the account builds its own
packet (the appeal template, the same evidence, a cover letter naming the
denied dispute) and files it on the denied dispute's page, exactly once as
any dispute is; ``dispute_status`` follows it to its own outcome. The rules
live here so the CLI and the web app say the same thing.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispute_filing.habits import habits
from records.schemas import DisputeRecord, DisputeStatus
from store.models import Deduction, Dispute
from store.repositories import audit
from store.repositories import disputes as disputes_repo

APPEAL_LEVEL = 2


class AppealRefused(ValueError):
    """The dispute cannot be appealed (the message says why)."""


def appeal_key(portal: str, external_id: str) -> str:
    return f"{portal}:{external_id}:appeal"


def appealed_dispute(session: Session, appeal: Dispute) -> Dispute | None:
    """The first-level dispute an appeal row appeals (None for a first-level row)."""
    if appeal.level != APPEAL_LEVEL:
        return None
    return session.scalar(
        select(Dispute).where(Dispute.deduction_id == appeal.deduction_id, Dispute.level == 1)
    )


def appeal_closes(dispute: Dispute) -> date | None:
    """The last day the portal takes an appeal of this denial (None: no appeal,
    or the decision's day is not known yet)."""
    window = habits(dispute.portal).appeal_window_days
    if window is None or dispute.decided_on is None:
        return None
    return dispute.decided_on + timedelta(days=window)


def refusal(session: Session, dispute: Dispute, today: date) -> str | None:
    """Why ``dispute`` cannot be appealed on ``today`` (None: it can)."""
    if habits(dispute.portal).appeal_window_days is None:
        return f"{dispute.portal} offers no second-level appeal"
    if dispute.level != 1:
        return "an appeal cannot itself be appealed"
    if str(dispute.status) != DisputeStatus.denied:
        return f"the dispute is {dispute.status}; only a denied (lost) dispute can be appealed"
    d = session.get(Deduction, dispute.deduction_id)
    assert d is not None
    existing = disputes_repo.by_key(session, appeal_key(d.portal, d.external_id))
    if existing is not None:
        return f"the dispute was appealed already (the appeal is {existing.status}); only once"
    closes = appeal_closes(dispute)
    if closes is None:
        return "the day of the denial is not known; run dispute_status first"
    if today > closes:
        return f"the appeal window closed on {closes.isoformat()}"
    return None


def open_appeal(session: Session, dispute: Dispute, actor: str, today: date) -> Dispute:
    """A person's "appeal this denial": a queued appeal row, audited. Raises
    AppealRefused with the reason when the rules say no."""
    why = refusal(session, dispute, today)
    if why:
        raise AppealRefused(why)
    d = session.get(Deduction, dispute.deduction_id)
    assert d is not None
    key = appeal_key(d.portal, d.external_id)
    amount = Decimal(dispute.amount) - Decimal(dispute.recovered_amount or 0)
    disputes_repo.upsert(
        session,
        DisputeRecord(
            portal=d.portal,
            deduction_external_id=d.external_id,
            idempotency_key=key,
            status=DisputeStatus.queued.value,
            amount=amount,
            currency=dispute.currency,
            level=APPEAL_LEVEL,
        ),
    )
    audit.append(
        session,
        actor,
        "appeal_dispute",
        f"deduction:{d.id}",
        {"dispute": dispute.dispute_number, "status": str(dispute.status)},
        {"appeal": key, "amount": str(amount), "status": "queued"},
    )
    found = disputes_repo.by_key(session, key)
    assert found is not None
    return found


__all__ = [
    "APPEAL_LEVEL",
    "AppealRefused",
    "appeal_closes",
    "appeal_key",
    "appealed_dispute",
    "open_appeal",
    "refusal",
]
