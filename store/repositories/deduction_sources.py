"""Where a deduction was seen: its portal (the deduction row itself) and EDI 812
transactions (``deduction_sources``, one row per distinct content).

Idempotent: recording the same transaction again only moves ``last_seen_at``.
Safe under concurrency (``INSERT ... ON CONFLICT DO NOTHING``); none commits.
Batched: a file of thousands of 812s costs a few statements per 500.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from store.db import json_dumps
from store.models import Deduction, DeductionSource, table_of, utcnow
from store.repositories._common import insert_for

S = table_of(DeductionSource)
D = table_of(Deduction)
BATCH = 500
PORTAL = "portal"
EDI_812 = "edi-812"


@dataclass(frozen=True, slots=True)
class Observation:
    """One EDI transaction that names a deduction."""

    deduction_id: int
    source: str
    reference: str
    digest: str
    amount: Decimal
    raw: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Stored:
    """What the store holds for a (portal, claim number) already."""

    id: int
    amount: Decimal
    made_by_edi: bool


def claims(session: Session, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Stored]:
    """The deductions stored under these (portal, external_id) keys."""
    out: dict[tuple[str, str], Stored] = {}
    by_portal: dict[str, list[str]] = {}
    for portal, ext in keys:
        by_portal.setdefault(portal, []).append(ext)
    for portal, exts in by_portal.items():
        for i in range(0, len(exts), BATCH):
            for row in session.execute(
                select(D.c.id, D.c.external_id, D.c.amount, D.c.raw).where(
                    D.c.portal == portal, D.c.external_id.in_(exts[i : i + BATCH])
                )
            ):
                raw = row.raw if isinstance(row.raw, dict) else {}
                out[(portal, row.external_id)] = Stored(
                    row.id, row.amount, raw.get("source") == EDI_812
                )
    return out


def record_many(
    session: Session, observations: list[Observation]
) -> list[Literal["created", "seen"]]:
    """Remember each observation once per (deduction, source, digest); one
    seen before only moves ``last_seen_at``. Outcomes in input order."""
    now = utcnow()
    known: set[tuple[int, str, str]] = set()
    ids = sorted({o.deduction_id for o in observations})
    for i in range(0, len(ids), BATCH):
        for row in session.execute(
            select(S.c.deduction_id, S.c.source, S.c.digest).where(
                S.c.deduction_id.in_(ids[i : i + BATCH])
            )
        ):
            known.add((row.deduction_id, row.source, row.digest))
    outcomes: list[Literal["created", "seen"]] = []
    new, seen = [], []
    for o in observations:
        key = (o.deduction_id, o.source, o.digest)
        if key in known:
            outcomes.append("seen")
            seen.append(key)
            continue
        known.add(key)
        outcomes.append("created")
        new.append(
            {
                "deduction_id": o.deduction_id,
                "source": o.source,
                "reference": o.reference[:500],
                "digest": o.digest,
                "amount": o.amount,
                "raw": json.loads(json_dumps(o.raw)),
                "first_seen_at": now,
                "last_seen_at": now,
            }
        )
    for i in range(0, len(new), BATCH):
        session.execute(
            insert_for(session, S).on_conflict_do_nothing(
                index_elements=["deduction_id", "source", "digest"]
            ),
            new[i : i + BATCH],
        )
    for deduction_id, source, digest in seen:
        session.execute(
            update(S)
            .where(S.c.deduction_id == deduction_id, S.c.source == source, S.c.digest == digest)
            .values(last_seen_at=now)
        )
    return outcomes


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


__all__ = [
    "EDI_812",
    "PORTAL",
    "Observation",
    "Stored",
    "claims",
    "for_deduction",
    "made_by_edi",
    "record_many",
    "sources",
]
