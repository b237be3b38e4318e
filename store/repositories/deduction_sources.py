"""Where a deduction was seen: its portal (the deduction row itself) and EDI 812
transactions (``deduction_sources``, one row per distinct content).

Idempotent: recording the same transaction again only moves ``last_seen_at``.
Safe under concurrency (``INSERT ... ON CONFLICT DO NOTHING``); none commits.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from store.db import json_dumps
from store.models import Deduction, DeductionSource, utcnow
from store.repositories._common import insert_for

S = DeductionSource.__table__
PORTAL = "portal"
EDI_812 = "edi-812"


def record(
    session: Session,
    deduction_id: int,
    source: str,
    reference: str,
    digest: str,
    amount: Decimal,
    raw: dict[str, Any],
) -> Literal["created", "seen"]:
    """Remember one observation of ``deduction_id`` from ``source``."""
    now = utcnow()
    inserted = session.execute(
        insert_for(session, S)
        .values(
            deduction_id=deduction_id,
            source=source,
            reference=reference[:500],
            digest=digest,
            amount=amount,
            raw=json.loads(json_dumps(raw)),
            first_seen_at=now,
            last_seen_at=now,
        )
        .on_conflict_do_nothing(index_elements=["deduction_id", "source", "digest"])
        .returning(S.c.id)
    ).scalar_one_or_none()
    if inserted is not None:
        return "created"
    session.execute(
        update(S)
        .where(S.c.deduction_id == deduction_id, S.c.source == source, S.c.digest == digest)
        .values(last_seen_at=now)
    )
    return "seen"


def made_by_edi(deduction: Deduction) -> bool:
    """True while the deduction row is an 812's own (no robot has seen it on
    the portal since: a portal sync replaces the row's raw payload)."""
    return isinstance(deduction.raw, dict) and deduction.raw.get("source") == EDI_812


def for_deduction(session: Session, deduction_id: int) -> list[DeductionSource]:
    """The EDI observations of one deduction, oldest first."""
    return list(
        session.execute(
            select(DeductionSource)
            .where(DeductionSource.deduction_id == deduction_id)
            .order_by(DeductionSource.id)
        ).scalars()
    )


def sources(session: Session, deduction: Deduction) -> list[str]:
    """Every way this deduction was seen: ``portal`` and/or ``edi-812``."""
    seen = [] if made_by_edi(deduction) else [PORTAL]
    for row in for_deduction(session, deduction.id):
        if row.source not in seen:
            seen.append(row.source)
    return seen


__all__ = ["EDI_812", "PORTAL", "for_deduction", "made_by_edi", "record", "sources"]
