"""Bot runs and health events: what the fleet did and how it felt.

``start`` and ``finish`` are keyed by the run id the runner chose, so a runner
that retries its own bookkeeping does not create a second run. Error *classes*
only: exception text can carry portal pages or secrets. A running job moves
its ``heartbeat_at`` (``beat``); ``reap_stale`` closes runs whose process died.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from records.schemas import RunStatus
from store.db import rows_changed
from store.models import BotRun, HealthEvent, table_of, utcnow
from store.repositories._common import UpsertResult, ensure_portal, insert_for

R = table_of(BotRun)


def start(
    session: Session,
    run_id: str,
    portal: str,
    task: str,
    account: str | None = None,
    started_at: datetime | None = None,
) -> UpsertResult:
    """Record that a run began. Idempotent on ``run_id``: ``unchanged`` if known."""
    ensure_portal(session, portal)
    inserted = session.execute(
        insert_for(session, R)
        .values(
            run_id=run_id,
            portal=portal,
            account=account,
            task=task,
            started_at=started_at or utcnow(),
            heartbeat_at=started_at or utcnow(),
            status=RunStatus.running,
            counts={},
        )
        .on_conflict_do_nothing(index_elements=["run_id"])
        .returning(R.c.id)
    ).scalar_one_or_none()
    if inserted is not None:
        return UpsertResult("created", inserted)
    return UpsertResult(
        "unchanged", session.execute(select(R.c.id).where(R.c.run_id == run_id)).scalar_one()
    )


def finish(
    session: Session,
    run_id: str,
    status: RunStatus | str,
    counts: dict[str, Any] | None = None,
    error_class: str | None = None,
    finished_at: datetime | None = None,
) -> None:
    """Record how a run ended. Safe to repeat (the last call wins)."""
    status = RunStatus(status)
    if status is RunStatus.running:
        raise ValueError("finish() needs a final status")
    result = session.execute(
        update(R)
        .where(R.c.run_id == run_id)
        .values(
            status=status,
            counts=counts or {},
            error_class=error_class,
            finished_at=finished_at or utcnow(),
        )
    )
    if rows_changed(result) == 0:
        raise LookupError(f"no bot run {run_id!r}; call start() first")


def beat(session: Session, run_id: str, at: datetime | None = None) -> None:
    """A running job is alive: move its heartbeat (a no-op once it finished)."""
    session.execute(
        update(R)
        .where(R.c.run_id == run_id, R.c.status == RunStatus.running)
        .values(heartbeat_at=at or utcnow())
    )


def reap_stale(session: Session, silent_since: datetime) -> list[BotRun]:
    """Mark failed (``WorkerLost``) every run still ``running`` whose heartbeat
    stopped before ``silent_since``: its process died (SIGKILL, power, OOM) and
    will never finish it. Returns the reaped runs. A job that comes back to life
    later still records how it ended (``finish`` overwrites)."""
    stale = list(
        session.execute(
            select(BotRun)
            .where(
                BotRun.status == RunStatus.running,
                func.coalesce(BotRun.heartbeat_at, BotRun.started_at) < silent_since,
            )
            .with_for_update(skip_locked=True)
        ).scalars()
    )
    now = utcnow()
    for run in stale:
        run.status = RunStatus.failed
        run.error_class = "WorkerLost"
        run.finished_at = now
        health_event(
            session,
            "run_reaped",
            portal=run.portal,
            account=run.account,
            run_id=run.run_id,
            severity="warning",
            error_class="WorkerLost",
            detail={"last_heartbeat": (run.heartbeat_at or run.started_at).isoformat()},
        )
    session.flush()
    return stale


def get(session: Session, run_id: str) -> BotRun | None:
    return session.execute(select(BotRun).where(BotRun.run_id == run_id)).scalar_one_or_none()


def recent(session: Session, portal: str | None = None, limit: int = 50) -> list[BotRun]:
    stmt = select(BotRun).order_by(BotRun.started_at.desc(), BotRun.id.desc()).limit(limit)
    if portal:
        stmt = stmt.where(BotRun.portal == portal)
    return list(session.execute(stmt).scalars())


def health_event(
    session: Session,
    kind: str,
    *,
    portal: str | None = None,
    account: str | None = None,
    run_id: str | None = None,
    severity: str = "info",
    error_class: str | None = None,
    detail: dict[str, Any] | None = None,
) -> int:
    """Append one health event (not idempotent: each is an observation)."""
    event = HealthEvent(
        at=utcnow(),
        kind=kind,
        portal=portal,
        account=account,
        run_id=run_id,
        severity=severity,
        error_class=error_class,
        detail=detail or {},
    )
    session.add(event)
    session.flush()
    return event.id


__all__ = ["finish", "get", "health_event", "recent", "start"]
