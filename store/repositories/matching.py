"""Verdicts, category corrections, and bulk audit entries for matching runs.

* ``save_verdicts`` writes only verdicts whose fingerprint changed (a re-run on
  unchanged data writes nothing) and returns what it wrote; idempotent, safe
  to retry; does not commit.
* ``append_audit_many`` chains many entries onto the audit log in one
  statement, with the same hash recipe as ``audit.append`` (so
  ``audit.verify`` checks them); a racing writer makes it retry from the new tip.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.db import json_dumps, plain_rows
from store.models import (
    AuditLog,
    CategoryOverride,
    Deduction,
    MatchingRun,
    Verdict,
    table_of,
    utcnow,
)
from store.queries.refs import resolve_ref
from store.repositories._common import UpsertResult, insert_for
from store.repositories.audit import GENESIS, _digest, move_head

V = table_of(Verdict)
BATCH = 500
_TRIES = 10


@dataclass(frozen=True, slots=True)
class VerdictRow:
    deduction_id: int
    validity: str
    category: str
    category_source: str
    rule: str
    claimed_amount: Decimal
    current_amount: Decimal
    valid_amount: Decimal | None
    disputable_amount: Decimal | None
    window_closes: date | None
    reasons: list[str]
    evidence: list[dict[str, Any]]
    missing: list[dict[str, Any]]
    fingerprint: str


def fingerprints(session: Session) -> dict[int, tuple[str, str, str | None]]:
    """deduction id -> (fingerprint, validity, valid amount) of the stored verdicts."""
    return {
        r.deduction_id: (
            r.fingerprint,
            r.validity,
            None if r.valid_amount is None else str(r.valid_amount),
        )
        for r in session.execute(
            select(V.c.deduction_id, V.c.fingerprint, V.c.validity, V.c.valid_amount)
        )
    }


def save_verdicts(session: Session, rows: Sequence[VerdictRow]) -> tuple[int, int]:
    """Insert new verdicts and update changed ones; (created, changed)."""
    stored = {r[0]: r[1] for r in session.execute(select(V.c.deduction_id, V.c.fingerprint))}
    now = utcnow()
    new, changed = [], []
    for row in rows:
        values = {
            "deduction_id": row.deduction_id,
            "validity": row.validity,
            "category": row.category,
            "category_source": row.category_source,
            "rule": row.rule,
            "claimed_amount": row.claimed_amount,
            "current_amount": row.current_amount,
            "valid_amount": row.valid_amount,
            "disputable_amount": row.disputable_amount,
            "window_closes": row.window_closes,
            "reasons": row.reasons,
            "evidence": json.loads(json_dumps(row.evidence)),
            "missing": json.loads(json_dumps(row.missing)),
            "fingerprint": row.fingerprint,
            "updated_at": now,
        }
        old = stored.get(row.deduction_id)
        if old is None:
            new.append({**values, "computed_at": now})
        elif old != row.fingerprint:
            changed.append({**{f"b_{k}": v for k, v in values.items()}, "b_computed_at": now})
    for i in range(0, len(new), BATCH):
        session.execute(
            insert_for(session, V).on_conflict_do_nothing(index_elements=["deduction_id"]),
            new[i : i + BATCH],
        )
    if changed:
        cols = [k[2:] for k in changed[0] if k != "b_deduction_id"]
        stmt = (
            update(V)
            .where(V.c.deduction_id == bindparam("b_deduction_id"))
            .values({c: bindparam(f"b_{c}") for c in cols})
        )
        session.connection().execute(stmt, changed)
    return len(new), len(changed)


def verdict_counts(session: Session) -> list[tuple[str, str, int]]:
    """(category, validity, count) over every stored verdict."""
    return list(
        plain_rows(
            session.execute(
                select(V.c.category, V.c.validity, func.count()).group_by(
                    V.c.category, V.c.validity
                )
            )
        )
    )


def last_run(session: Session) -> MatchingRun | None:
    """The newest finished matching run (where an incremental run starts from)."""
    return session.execute(
        select(MatchingRun)
        .where(MatchingRun.finished_at.is_not(None))
        .order_by(MatchingRun.started_at.desc(), MatchingRun.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def record_run(session: Session, run: MatchingRun) -> None:
    """Keep one finished run: the next incremental run starts from its start."""
    session.add(run)
    session.flush()


def get_verdict(session: Session, deduction_id: int) -> Verdict | None:
    return session.execute(
        select(Verdict).where(Verdict.deduction_id == deduction_id)
    ).scalar_one_or_none()


def find_deduction(session: Session, ref: str) -> Deduction | None:
    """A deduction by "portal:external_id" or by its external id alone (when
    unique); None when the REF names none or several (``store.queries.refs``
    tells which)."""
    return resolve_ref(session, ref).deduction


def set_category_override(
    session: Session,
    portal: str,
    reason_code: str,
    category: str,
    set_by: str,
    external_id: str = "",
) -> UpsertResult:
    """An analyst's correction; replaces an earlier one for the same key. Idempotent."""
    now = utcnow()
    stmt = insert_for(session, table_of(CategoryOverride)).values(
        portal=portal,
        reason_code=reason_code,
        external_id=external_id,
        category=category,
        set_by=set_by,
        set_at=now,
    )
    row_id: int = session.execute(
        stmt.on_conflict_do_update(
            index_elements=["portal", "reason_code", "external_id"],
            set_={"category": category, "set_by": set_by, "set_at": now},
        ).returning(table_of(CategoryOverride).c.id)
    ).scalar_one()
    return UpsertResult("changed", row_id)


def append_audit_many(
    session: Session, entries: Sequence[tuple[str, str, str, dict | None, dict | None]]
) -> int:
    """Chain (actor, action, entity, before, after) entries onto the audit log."""
    if not entries:
        return 0
    prepared = [
        (
            actor,
            action,
            entity,
            None if before is None else json.loads(json_dumps(before)),
            None if after is None else json.loads(json_dumps(after)),
        )
        for actor, action, entity, before, after in entries
    ]
    for _ in range(_TRIES):
        prev = session.execute(
            select(AuditLog.hash).order_by(AuditLog.seq.desc()).limit(1)
        ).scalar_one_or_none()
        prev_hash = prev or GENESIS
        rows = []
        for actor, action, entity, before, after in prepared:
            at = utcnow()
            digest = _digest(prev_hash, at, actor, action, entity, before, after)
            rows.append(
                {
                    "at": at,
                    "actor": actor,
                    "action": action,
                    "entity": entity,
                    "before": before,
                    "after": after,
                    "prev_hash": prev_hash,
                    "hash": digest,
                }
            )
            prev_hash = digest
        try:
            with session.begin_nested():
                for i in range(0, len(rows), BATCH):
                    session.execute(table_of(AuditLog).insert(), rows[i : i + BATCH])
                last = session.execute(
                    select(AuditLog.seq).where(AuditLog.hash == prev_hash)
                ).scalar_one()
                move_head(session, last, prev_hash, len(rows))
        except IntegrityError:
            continue
        return len(rows)
    raise RuntimeError("audit log: could not append after repeated races")


__all__ = [
    "VerdictRow",
    "append_audit_many",
    "find_deduction",
    "fingerprints",
    "get_verdict",
    "last_run",
    "record_run",
    "save_verdicts",
    "set_category_override",
    "verdict_counts",
]
