"""The audit log: append-only and hash-chained.

Each entry's ``hash`` covers its content and the previous entry's hash, so
editing or deleting a row (which the database triggers already refuse) breaks
the chain and :func:`verify` finds where. ``prev_hash`` is unique: two writers
racing to append after the same entry cannot both succeed; the loser retries.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.db import json_dumps
from store.models import AuditLog, utcnow

GENESIS = "0" * 64
_APPEND_TRIES = 10


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    hash: str


def _digest(
    prev_hash: str,
    at: datetime,
    actor: str,
    action: str,
    entity: str,
    before: Any,
    after: Any,
) -> str:
    body = json_dumps(
        {
            "prev": prev_hash,
            "at": at.isoformat(),
            "actor": actor,
            "action": action,
            "entity": entity,
            "before": before,
            "after": after,
        }
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def append(
    session: Session,
    actor: str,
    action: str,
    entity: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry ("analyst:ana", "approve", "deduction:42", ...). Not
    idempotent (each call is a new fact). Uses a savepoint per attempt."""
    before = None if before is None else json.loads(json_dumps(before))
    after = None if after is None else json.loads(json_dumps(after))
    for _ in range(_APPEND_TRIES):
        prev = session.execute(
            select(AuditLog.hash).order_by(AuditLog.seq.desc()).limit(1)
        ).scalar_one_or_none()
        prev_hash = prev or GENESIS
        at = utcnow()
        entry = AuditLog(
            at=at,
            actor=actor,
            action=action,
            entity=entity,
            before=before,
            after=after,
            prev_hash=prev_hash,
            hash=_digest(prev_hash, at, actor, action, entity, before, after),
        )
        try:
            with session.begin_nested():
                session.add(entry)
        except IntegrityError:
            continue  # another writer appended after the same entry; chain onto it
        return AuditEntry(entry.seq, entry.hash)
    raise RuntimeError("audit log: could not append after repeated races")


def verify(session: Session) -> int | None:
    """The seq of the first entry whose chain or content does not check out, or
    None when the whole log is intact."""
    prev_hash = GENESIS
    for row in session.execute(select(AuditLog).order_by(AuditLog.seq)).scalars():
        expected = _digest(
            prev_hash, row.at, row.actor, row.action, row.entity, row.before, row.after
        )
        if row.prev_hash != prev_hash or row.hash != expected:
            return row.seq
        prev_hash = row.hash
    return None


__all__ = ["GENESIS", "AuditEntry", "append", "verify"]
