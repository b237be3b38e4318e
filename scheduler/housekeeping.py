"""What the active scheduler does between jobs: close runs whose process died,
send approval reminders, start the work people left (a decision approved
since the last match, a dispute released for filing: ``Tidied.work``, from
scheduler/pipeline.py ``pending_work``), and send the new needs-human items,
anomalies and deadline alerts by webhook and e-mail when fleet.toml asks
(scheduler/notify.py; last, so a slow endpoint delays nothing else).

A bot job beats ``bot_runs.heartbeat_at`` every ``heartbeat_seconds`` while
it runs (bots/runtime.py). A run still ``running`` whose heartbeat stopped
``run_stale_minutes`` ago belonged to a process that was killed (SIGKILL,
OOM, a host that lost power): it is marked failed with ``WorkerLost`` and a
``run_reaped`` health event, so ``fleet health`` does not show it running
forever. The job itself is not lost: Celery redelivers its message (acks
late) and the in-process scheduler requeues orphaned on-demand requests at
start; either way it runs again under a new run id.

Only the active scheduler runs this (one per database), every
``housekeeping_seconds``; each step is idempotent, so a takeover that
repeats one does no harm.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy.orm import Session, sessionmaker

from bots.jobs import Job
from scheduler.notify import Notifier
from scheduler.pipeline import pending_work
from store.db import transaction
from store.models import utcnow
from store.repositories import runs as runs_repo

log = structlog.get_logger(__name__)


@dataclass
class Tidied:
    reaped: list[str] = field(default_factory=list)  # run ids
    reminders: int = 0
    work: list[Job] = field(default_factory=list)  # jobs the scheduler should dispatch
    notified: dict[str, int] = field(default_factory=dict)  # events sent per channel


def reap_stale_runs(
    db: sessionmaker[Session], stale_after: timedelta, now: datetime | None = None
) -> list[str]:
    """Fail the runs whose heartbeat stopped more than ``stale_after`` ago."""
    with transaction(db) as s:
        reaped = runs_repo.reap_stale(s, (now or utcnow()) - stale_after)
        for run in reaped:
            log.warning(
                "scheduler.run_reaped",
                run_id=run.run_id,
                portal=run.portal,
                task=run.task,
                error_class="WorkerLost",
            )
        return [r.run_id for r in reaped]


def send_reminders(db: sessionmaker[Session], now: datetime | None = None) -> int:
    """Remind approvers of steps that wait too long (matching/approvals.py)."""
    from matching.approvals import send_reminders as send

    with transaction(db) as s:
        return len(send(s, now or utcnow()))


def tidy(
    db: sessionmaker[Session],
    stale_after: timedelta,
    now: datetime | None = None,
    notifier: Notifier | None = None,
) -> Tidied:
    """One housekeeping pass; a failing step is logged and does not stop the others."""
    out = Tidied()
    try:
        out.reaped = reap_stale_runs(db, stale_after, now)
    except Exception:
        log.exception("scheduler.reap_failed")
    try:
        out.reminders = send_reminders(db, now)
    except Exception:
        log.exception("scheduler.reminders_failed")
    try:
        out.work = pending_work(db)
    except Exception:
        log.exception("scheduler.pending_work_failed")
    if notifier is not None:
        try:
            out.notified = notifier.notify(db, now)
        except Exception:  # the store failed: deliveries themselves never raise
            log.exception("scheduler.notify_failed")
    return out


__all__ = ["Tidied", "reap_stale_runs", "send_reminders", "tidy"]
