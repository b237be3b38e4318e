"""From an approved decision to a dispute ready to file (the ``queue_disputes`` step).

The approval chain (matching/) decides "dispute" or "split"; this step turns
every approved decision with a disputed amount into exactly one dispute:

- ``queued`` when the filing policy files it by itself (the next
  ``file_dispute`` job of its account files it);
- ``awaiting_person`` when the policy wants a person to release it
  (:func:`release`, ``fleet disputes file REF``);
- ``window_closed`` when the portal's window closed before it could be
  filed and no approver overrode that: refused with the reason, visible in
  health, never filed.

It reads and writes the store only and is idempotent: a decision already
handed over queues nothing new.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dispute_filing.packets import NotDisputable, dispute_key, queue_dispute
from dispute_filing.policy import FilingPolicy
from matching.approvals import window_refusal
from records.schemas import DisputeStatus
from store.models import Decision, Deduction, Dispute, Verdict
from store.repositories import audit
from store.repositories import disputes as disputes_repo
from store.repositories import runs as runs_repo


@dataclass(frozen=True)
class Handed:
    """What one decision became."""

    portal: str
    account: str | None
    external_id: str
    status: str


def queue_approved_disputes(
    session: Session, policy: FilingPolicy, today: date
) -> tuple[Counter[str], list[Handed]]:
    """Hand every approved dispute/split decision over once; returns counts by
    outcome and what each newly handed decision became."""
    counts: Counter[str] = Counter()
    handed: list[Handed] = []
    rows = session.execute(
        select(Decision, Deduction, Verdict.window_closes, Verdict.category)
        .join(Deduction, Deduction.id == Decision.deduction_id)
        .outerjoin(Verdict, Verdict.deduction_id == Decision.deduction_id)
        .where(
            Decision.status == "approved",
            Decision.kind.in_(("dispute", "split")),
            Decision.dispute_amount > 0,
        )
        .order_by(Decision.id)
    ).all()
    for decision, ded, window_closes, category in rows:
        key = dispute_key(ded.portal, ded.external_id)
        if disputes_repo.by_key(session, key) is not None:
            counts["already"] += 1
            continue
        refusal = None if decision.window_override_by else window_refusal(window_closes, today)
        cat = category or str(getattr(ded.category, "value", ded.category) or "other")
        if refusal:
            status = DisputeStatus.window_closed
        elif policy.files_automatically(ded.portal, cat, decision.dispute_amount):
            status = DisputeStatus.queued
        else:
            status = DisputeStatus.awaiting_person
        try:
            queue_dispute(
                session, ded.portal, ded.external_id, decision.dispute_amount, status=status
            )
        except NotDisputable:
            counts["refused"] += 1
            continue
        if refusal:
            runs_repo.health_event(
                session,
                "dispute_window_closed",
                portal=ded.portal,
                account=ded.account,
                severity="warning",
                error_class="WindowClosed",
                detail={"deduction": ded.external_id, "reason": refusal},
            )
        counts[status.value] += 1
        handed.append(Handed(ded.portal, ded.account, ded.external_id, status.value))
    return counts, handed


class NotReleasable(ValueError):
    """The dispute cannot be released for filing (the message says why)."""


def release(
    session: Session, dispute: Dispute, actor: str, today: date, *, override_window: bool = False
) -> None:
    """A person's "file this one": an ``awaiting_person`` (or ``window_closed``,
    with an explicit override) dispute becomes ``queued``. Audited. A packet
    the robot held (``hold_reason``) is checked again when it is filed: a
    person who fixed the cause (a template, the approval) releases it here."""
    status = str(dispute.status)
    if status == DisputeStatus.queued:
        return
    if status not in (DisputeStatus.awaiting_person, DisputeStatus.window_closed):
        raise NotReleasable(f"the dispute is {status}; only one waiting for a person is released")
    closes = session.execute(
        select(Verdict.window_closes).where(Verdict.deduction_id == dispute.deduction_id)
    ).scalar_one_or_none()
    refusal = window_refusal(closes, today)
    if refusal and not override_window:
        raise NotReleasable(f"{refusal}: release it with an explicit window override")
    ded = session.get(Deduction, dispute.deduction_id)
    assert ded is not None
    if refusal:  # the filing step honours the override, as it does an approver's
        session.execute(
            update(Decision)
            .where(Decision.deduction_id == dispute.deduction_id, Decision.status == "approved")
            .values(window_override_by=actor[:128])
        )
    held = dispute.hold_reason
    record = disputes_repo.as_record(dispute, ded.external_id).model_copy(
        update={"status": DisputeStatus.queued.value, "hold_reason": None}
    )
    disputes_repo.upsert(session, record)
    audit.append(
        session,
        actor,
        "release_dispute",
        f"deduction:{dispute.deduction_id}",
        {"status": status, "held_because": held},
        {"status": "queued", "window_override": bool(refusal)},
    )


__all__ = ["Handed", "NotReleasable", "queue_approved_disputes", "release"]
