"""Largest job first, so the last job to start is a short one.

When a batch of jobs is handed to the dispatcher at once (``fleet run``'s
syncs of every account, the carriers a sync names, the disputes waiting to
be filed), the workers take them in the order given. Given smallest first,
the largest account starts last and runs alone at the end while every other
worker idles; given largest first (the classic longest-processing-time rule),
the short jobs fill in around the long ones and the batch ends close to
together. Both dispatchers keep the order: the in-process pool starts waiting
jobs in submission order, and a Celery worker with prefetch 1 takes its
queue's jobs in publication order.

A job's expected length is the median wall time of the account's last few
finished runs of the same task: yesterday's run is the best guess at today's.
A job with no finished run yet goes first of all: it is usually a first sync,
a whole history to read (a backfill), the longest job there is.
"""

from __future__ import annotations

from collections.abc import Iterable
from statistics import median

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bots.jobs import Job
from records.schemas import RunStatus
from store.models import BotRun

HISTORY_RUNS = 3
"""Runs per (portal, account, task) whose median is the expected length."""
_COUNTED = (RunStatus.succeeded, RunStatus.partial)
"""A failed run stopped early: its length says little about the work."""


def expected_seconds(db: sessionmaker[Session], jobs: Iterable[Job]) -> dict[Job, float]:
    """Each job's expected wall time from its account's history; jobs with no
    finished run of their task are left out. One small indexed query per
    account and task (a batch is tens of accounts, not thousands)."""
    jobs = list(jobs)
    wanted = {(j.portal, j.account, j.task) for j in jobs}
    known: dict[tuple[str, str, str], float] = {}
    with db() as s:
        for portal, account, task in sorted(wanted):
            rows = s.execute(
                select(BotRun.started_at, BotRun.finished_at)
                .where(
                    BotRun.portal == portal,
                    BotRun.account == account,
                    BotRun.task == task,
                    BotRun.status.in_(_COUNTED),
                    BotRun.finished_at.is_not(None),
                )
                .order_by(BotRun.started_at.desc())
                .limit(HISTORY_RUNS)
            ).all()
            seconds = [(r.finished_at - r.started_at).total_seconds() for r in rows]
            if seconds:
                known[(portal, account, task)] = median(seconds)
    return {j: known[k] for j in jobs if (k := (j.portal, j.account, j.task)) in known}


def largest_first(db: sessionmaker[Session], jobs: Iterable[Job]) -> list[Job]:
    """``jobs`` ordered longest expected first; jobs with no history lead, in
    the order given (the sort is stable)."""
    jobs = list(jobs)
    if len(jobs) < 2:
        return jobs
    expected = expected_seconds(db, jobs)
    return sorted(jobs, key=lambda j: -expected.get(j, float("inf")))


__all__ = ["HISTORY_RUNS", "expected_seconds", "largest_first"]
