"""Disputes, keyed by the idempotency key chosen before the first attempt.

``upsert`` is idempotent; a status change appends to ``dispute_status_history``
so the road to won/lost can be replayed. The filing orchestration (exactly once
on the portal) lives in dispute_filing/; this module only records.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from records.schemas import DisputeRecord
from store.models import Deduction, Dispute, DisputeStatusHistory, table_of, utcnow
from store.repositories._common import UpsertResult, ensure_portal
from store.repositories._keyed import keyed_upsert, stored_columns

T = table_of(Dispute)
SH = table_of(DisputeStatusHistory)
FIELDS = [
    "dispute_number",
    "status",
    "amount",
    "currency",
    "filed_at",
    "filed_on",
    "attempts",
    "hold_reason",
    "packet",
    "recovered_amount",
    "decided_on",
]


def upsert(session: Session, record: DisputeRecord, run_id: str | None = None) -> UpsertResult:
    """Create or update the dispute. Raises LookupError if the deduction is unknown."""
    deduction_id = session.execute(
        select(Deduction.id).where(
            Deduction.portal == record.portal,
            Deduction.external_id == record.deduction_external_id,
        )
    ).scalar_one_or_none()
    if deduction_id is None:
        raise LookupError(
            f"no deduction {record.deduction_external_id!r} on {record.portal}; store it first"
        )
    ensure_portal(session, record.portal)
    now = utcnow()
    tracked: dict[str, Any] = {f: getattr(record, f) for f in FIELDS}
    result = keyed_upsert(
        session,
        T,
        {"idempotency_key": record.idempotency_key},
        tracked,
        stored=lambda i: stored_columns(session, T, i, FIELDS),
        extra={"updated_at": now},
        on_create={
            "created_at": now,
            "portal": record.portal,
            "deduction_id": deduction_id,
            "level": record.level,
        },
    )
    status_change = next((c for c in result.changes if c.field == "status"), None)
    if result.created or status_change is not None:
        session.execute(
            SH.insert().values(
                dispute_id=result.id,
                old_status=status_change.old if status_change else None,
                status=record.status,
                observed_at=now,
                run_id=run_id,
            )
        )
    return result


def as_record(d: Dispute, external_id: str) -> DisputeRecord:
    """The stored dispute as a record (to write it back with a few changes)."""
    return DisputeRecord(
        portal=d.portal,
        deduction_external_id=external_id,
        idempotency_key=d.idempotency_key,
        dispute_number=d.dispute_number,
        status=d.status,
        amount=d.amount,
        currency=d.currency,
        filed_at=d.filed_at,
        filed_on=d.filed_on,
        attempts=d.attempts,
        hold_reason=d.hold_reason,
        packet=d.packet,
        recovered_amount=d.recovered_amount,
        decided_on=d.decided_on,
        level=d.level,
    )


def claim_outcomes(session: Session, dispute_ids: list[int], batch_id: int) -> list[int]:
    """Put these decided disputes in export batch ``batch_id``, those not in one
    yet (compare-and-set): an outcome is exported exactly once. Returns the ids
    the batch holds."""
    for i in range(0, len(dispute_ids), 500):
        session.execute(
            update(Dispute)
            .where(Dispute.id.in_(dispute_ids[i : i + 500]), Dispute.outcome_batch_id.is_(None))
            .values(outcome_batch_id=batch_id)
        )
    return list(
        session.execute(select(Dispute.id).where(Dispute.outcome_batch_id == batch_id)).scalars()
    )


def by_key(session: Session, idempotency_key: str) -> Dispute | None:
    return session.execute(
        select(Dispute).where(Dispute.idempotency_key == idempotency_key)
    ).scalar_one_or_none()


def status_history(session: Session, dispute_id: int) -> list[DisputeStatusHistory]:
    return list(
        session.execute(
            select(DisputeStatusHistory)
            .where(DisputeStatusHistory.dispute_id == dispute_id)
            .order_by(DisputeStatusHistory.id)
        ).scalars()
    )


__all__ = ["as_record", "by_key", "claim_outcomes", "status_history", "upsert"]
