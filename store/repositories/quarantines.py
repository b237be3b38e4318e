"""Quarantine: records that failed validation, kept whole for a human to look at.

A bot that meets one bad record quarantines it and keeps going
(``RecordInvalid``); the raw payload is stored as received, so a parser fix can
replay it later. Not idempotent by design: each failed observation is a fact.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import Quarantine, utcnow

MAX_REASON = 5000


def quarantine(
    session: Session,
    portal: str,
    kind: str,
    raw_payload: Any,
    reason: str,
    external_id: str | None = None,
    run_id: str | None = None,
) -> int:
    """Keep ``raw_payload`` (any JSON-able value; bytes become base64) with the
    reason it was refused. Returns the quarantine row id. Does not commit."""
    row = Quarantine(
        portal=portal[:64],
        record_kind=kind[:32],
        external_id=None if external_id is None else external_id[:500],
        raw_payload=raw_payload,
        reason=reason.replace("\x00", "")[:MAX_REASON],
        run_id=run_id,
        at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row.id


def for_portal(session: Session, portal: str, limit: int = 100) -> list[Quarantine]:
    """The newest quarantined records of one portal."""
    return list(
        session.execute(
            select(Quarantine)
            .where(Quarantine.portal == portal)
            .order_by(Quarantine.id.desc())
            .limit(limit)
        ).scalars()
    )


__all__ = ["for_portal", "quarantine"]
