"""What is addressed to one person: the comments that @mention them, and the
approvals escalated to their role as a claim's dispute window nears (the web
app's inbox, beside the approvals that wait for them). Only reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import AuditLog, Decision, Deduction, DeductionComment, User, utcnow

SCAN = 5_000
"""Newest comments looked through for mentions (mentions are a JSON list, not
indexed: part 1 reads the recent ones)."""


@dataclass(frozen=True, slots=True)
class Mention:
    comment_id: int
    deduction_id: int
    ref: str
    author: str
    body: str
    created_at: datetime


def mentions_of(session: Session, username: str, limit: int = 50) -> list[Mention]:
    """The newest comments mentioning ``username``, newest first."""
    rows = session.execute(
        select(DeductionComment, Deduction.portal, Deduction.external_id)
        .join(Deduction, Deduction.id == DeductionComment.deduction_id)
        .order_by(DeductionComment.id.desc())
        .limit(SCAN)
    )
    out: list[Mention] = []
    for c, portal, external_id in rows:
        if username in (c.mentions or []):
            out.append(
                Mention(
                    c.id, c.deduction_id, f"{portal}:{external_id}", c.author, c.body, c.created_at
                )
            )
            if len(out) >= limit:
                break
    return out


@dataclass(frozen=True, slots=True)
class Escalation:
    """A step waiting on someone below, escalated to this person's role."""

    decision_id: int
    deduction_id: int
    ref: str
    amount: Decimal
    currency: str
    waiting_on: str
    """The role the step waits for."""
    days_left: int | None
    reminded_at: datetime


ESCALATION_DAYS = 7
"""How far back reminders are read: an escalation is repeated at least daily."""


def escalations_to(session: Session, username: str, limit: int = 50) -> list[Escalation]:
    """Pending decisions whose latest reminder was escalated to ``username``'s
    role (``matching.approvals.escalation``), soonest deadline first. The
    reminders are the audit log's ``remind`` entries (what the reminder sender
    wrote); a decision no longer pending is left out."""
    role = session.scalar(select(User.role).where(User.username == username))
    if not role:
        return []
    since = utcnow() - timedelta(days=ESCALATION_DAYS)
    latest: dict[int, tuple[AuditLog, dict]] = {}
    for entry in session.scalars(
        select(AuditLog)
        .where(AuditLog.action == "remind", AuditLog.at >= since)
        .order_by(AuditLog.seq)
    ):
        after = entry.after or {}
        if isinstance(after.get("decision"), int):
            latest[after["decision"]] = (entry, after)
    wanted = {d: (e, a) for d, (e, a) in latest.items() if role in (a.get("escalated_to") or [])}
    if not wanted:
        return []
    rows = session.execute(
        select(
            Decision.id,
            Deduction.id,
            Deduction.portal,
            Deduction.external_id,
            Deduction.amount,
            Deduction.currency,
        )
        .join(Deduction, Deduction.id == Decision.deduction_id)
        .where(Decision.id.in_(sorted(wanted)), Decision.status == "pending")
    ).all()
    out = [
        Escalation(
            decision_id,
            deduction_id,
            f"{portal}:{external_id}",
            amount,
            currency,
            str(wanted[decision_id][1].get("role", "")),
            wanted[decision_id][1].get("days_left"),
            wanted[decision_id][0].at,
        )
        for decision_id, deduction_id, portal, external_id, amount, currency in rows
    ]
    out.sort(key=lambda e: (e.days_left is None, e.days_left, e.decision_id))
    return out[:limit]


__all__ = ["ESCALATION_DAYS", "Escalation", "Mention", "escalations_to", "mentions_of"]
