"""From an approved decision to a queued dispute.

The approval chain (matching/) decides "dispute" or "split"; this step turns
every approved decision with a disputed amount into one queued dispute, which
the file_dispute job then files on the portal. It reads the store only, and
is idempotent: a decision already handed over queues nothing new.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispute_filing.packets import NotDisputable, dispute_key, queue_dispute
from store.models import Decision, Deduction
from store.repositories import disputes as disputes_repo


def queue_approved_disputes(session: Session) -> dict[str, int]:
    """Queue a dispute for each approved dispute/split decision; returns counts."""
    counts = {"queued": 0, "already": 0, "refused": 0}
    rows = session.execute(
        select(Decision, Deduction.portal, Deduction.external_id)
        .join(Deduction, Deduction.id == Decision.deduction_id)
        .where(
            Decision.status == "approved",
            Decision.kind.in_(("dispute", "split")),
            Decision.dispute_amount > 0,
        )
        .order_by(Decision.id)
    ).all()
    for decision, portal, external_id in rows:
        if disputes_repo.by_key(session, dispute_key(portal, external_id)) is not None:
            counts["already"] += 1
            continue
        try:
            queue_dispute(session, portal, external_id, decision.dispute_amount)
        except NotDisputable:
            counts["refused"] += 1
            continue
        counts["queued"] += 1
    return counts
