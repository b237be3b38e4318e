"""Retrieval requests: "fetch backup for D-123 now", queued for the bots.

At most one *active* (queued or running) request per target: enqueueing the
same target twice returns the first request (a partial unique index decides, so
this holds under concurrency). Claiming is a compare-and-set on the status, so
two workers never run the same request.
"""

from __future__ import annotations

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from records.schemas import ACTIVE_RETRIEVAL_STATUSES, RetrievalStatus
from store.db import rows_changed
from store.models import RetrievalRequest, table_of, utcnow
from store.repositories._common import UpsertResult, insert_for

Q = table_of(RetrievalRequest)
_ACTIVE_WHERE = text("status IN ('queued', 'running')")
_CLAIM_TRIES = 20


def enqueue(
    session: Session,
    requester: str,
    target_kind: str,
    target_value: str,
    *,
    portal: str | None = None,
    priority: int = 0,
) -> UpsertResult:
    """Queue a request, or return the active one for the same target
    (``unchanged``). The target is kind, value and portal: the same claim
    number on two portals is two requests. Idempotent; does not commit."""
    now = utcnow()
    portal = portal or ""
    inserted = session.execute(
        insert_for(session, Q)
        .values(
            requester=requester,
            target_kind=target_kind,
            target_value=target_value,
            portal=portal,
            priority=priority,
            status=RetrievalStatus.queued,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(
            index_elements=["target_kind", "target_value", "portal"], index_where=_ACTIVE_WHERE
        )
        .returning(Q.c.id)
    ).scalar_one_or_none()
    if inserted is not None:
        return UpsertResult("created", inserted)
    existing: int = session.execute(
        select(Q.c.id).where(
            Q.c.target_kind == target_kind,
            Q.c.target_value == target_value,
            Q.c.portal == portal,
            Q.c.status.in_(ACTIVE_RETRIEVAL_STATUSES),
        )
    ).scalar_one()
    return UpsertResult("unchanged", existing)


def claim_next(
    session: Session, portal: str | None = None, run_id: str | None = None
) -> RetrievalRequest | None:
    """Take the most urgent queued request (highest priority, then oldest) and
    mark it running. None when the queue is empty."""
    for _ in range(_CLAIM_TRIES):
        stmt = (
            select(Q.c.id)
            .where(Q.c.status == RetrievalStatus.queued)
            .order_by(Q.c.priority.desc(), Q.c.created_at, Q.c.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if portal is not None:
            stmt = stmt.where(Q.c.portal == portal)
        request_id = session.execute(stmt).scalar_one_or_none()
        if request_id is None:
            return None
        now = utcnow()
        claimed = session.execute(
            update(Q)
            .where(Q.c.id == request_id, Q.c.status == RetrievalStatus.queued)
            .values(
                status=RetrievalStatus.running,
                started_at=now,
                updated_at=now,
                attempts=Q.c.attempts + 1,
                run_id=run_id,
            )
        )
        if claimed.rowcount == 1:
            return session.get(RetrievalRequest, request_id, populate_existing=True)
    return None


def finish(
    session: Session,
    request_id: int,
    status: RetrievalStatus | str,
    error_class: str | None = None,
) -> None:
    """Close a request as done, failed or needs_human. Safe to repeat."""
    status = RetrievalStatus(status)
    if status in ACTIVE_RETRIEVAL_STATUSES:
        raise ValueError("finish() needs done, failed or needs_human")
    now = utcnow()
    session.execute(
        update(Q)
        .where(Q.c.id == request_id)
        .values(status=status, error_class=error_class, finished_at=now, updated_at=now)
    )


def needs_human_for(session: Session, portal: str, ref: str) -> bool:
    """Whether a needs-human item for ``ref`` on ``portal`` is already listed."""
    row = session.execute(
        select(Q.c.id)
        .where(
            Q.c.portal == portal,
            Q.c.target_value == ref,
            Q.c.status == RetrievalStatus.needs_human,
        )
        .limit(1)
    ).first()
    return row is not None


def supersede_needs_human(session: Session, portal: str, ref: str, newest: int) -> int:
    """The check for ``ref`` is listed by request ``newest`` now: earlier
    needs-human requests for it end (``Superseded``), so a person sees one item
    however often it was asked for."""
    return _end_needs_human(session, portal, ref, RetrievalStatus.failed, "Superseded", keep=newest)


def resolve_needs_human(session: Session, portal: str, ref: str) -> int:
    """A person's answer got the robot past the check for ``ref``: its
    needs-human items close as done. Returns how many."""
    return _end_needs_human(session, portal, ref, RetrievalStatus.done, None)


def _end_needs_human(
    session: Session,
    portal: str,
    ref: str,
    status: RetrievalStatus,
    error_class: str | None,
    *,
    keep: int | None = None,
) -> int:
    now = utcnow()
    where = [
        Q.c.portal == portal,
        Q.c.target_value == ref,
        Q.c.status == RetrievalStatus.needs_human,
    ]
    if keep is not None:
        where.append(Q.c.id != keep)
    res = session.execute(
        update(Q)
        .where(*where)
        .values(status=status, error_class=error_class, finished_at=now, updated_at=now)
    )
    return rows_changed(res)


__all__ = [
    "claim_next",
    "enqueue",
    "finish",
    "needs_human_for",
    "resolve_needs_human",
    "supersede_needs_human",
]
