"""The audit log: append-only and hash-chained.

Each entry's ``hash`` covers its content and the previous entry's hash, so
editing or deleting a row (which the database triggers already refuse) breaks
the chain and :func:`verify` finds where. Deleting the newest entries leaves
a shorter chain that still checks out, so the head is anchored apart from the
log (``audit_head``: count and head hash, moved forward with each append in
the same transaction, any other move refused by triggers). ``prev_hash`` is unique: two writers
racing to append after the same entry cannot both succeed; the loser retries.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.db import json_dumps, rows_changed
from store.models import AuditHead, AuditLog, utcnow

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
                session.flush()
                move_head(session, entry.seq, entry.hash)
        except IntegrityError:
            continue  # another writer appended after the same entry; chain onto it
        return AuditEntry(entry.seq, entry.hash)
    raise RuntimeError("audit log: could not append after repeated races")


def move_head(session: Session, seq: int, digest: str, entries: int = 1) -> None:
    """Move the anchor forward over ``entries`` just appended, the last being
    ``seq`` with ``digest``; in the appending transaction (the database refuses
    a move that is not forward)."""
    moved = session.execute(
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(count=AuditHead.count + entries, head_seq=seq, head_hash=digest)
    )
    if rows_changed(moved) != 1:
        raise RuntimeError("audit log: its head anchor (audit_head) is missing")


@dataclass(frozen=True, slots=True)
class Break:
    """Where the log stops checking out: ``seq`` and why."""

    seq: int
    why: str


def check(session: Session) -> Break | None:
    """The first place the log does not check out, or None when it is intact:
    an entry edited, deleted or reordered (the chain), or entries deleted from
    its end, which the chain cannot show (the anchor in ``audit_head``)."""
    prev_hash, count, last_seq = GENESIS, 0, 0
    for row in session.execute(select(AuditLog).order_by(AuditLog.seq)).scalars():
        expected = _digest(
            prev_hash, row.at, row.actor, row.action, row.entity, row.before, row.after
        )
        if row.prev_hash != prev_hash or row.hash != expected:
            return Break(row.seq, "edited, deleted or reordered")
        prev_hash, count, last_seq = row.hash, count + 1, row.seq
    head = session.get(AuditHead, 1)
    if head is None:
        return Break(last_seq + 1, "its head anchor (audit_head) is gone")
    if (head.count, head.head_hash) != (count, prev_hash):
        if head.count > count:
            why = (
                f"the anchor holds {head.count} entries up to entry {head.head_seq}, the log "
                f"{count}: entries were deleted from its end"
            )
        else:
            why = f"the log holds {count} entries, its anchor {head.count}: appended around it"
        return Break(last_seq + 1, why)
    return None


def verify(session: Session) -> int | None:
    """The seq of the first entry that does not check out (for a cut tail, the
    first missing one), or None when the whole log is intact (see :func:`check`)."""
    found = check(session)
    return None if found is None else found.seq


def head(session: Session) -> AuditHead | None:
    """The anchor: count and hash of the newest entry (for an operator to note
    down elsewhere; ``fleet audit verify`` prints it)."""
    return session.get(AuditHead, 1)


__all__ = ["GENESIS", "AuditEntry", "Break", "append", "check", "head", "move_head", "verify"]
