"""The fleet's numbers for monitoring (the web app's ``/metrics``), read from
the store at the moment they are asked for.

Every process of the fleet (``fleet run``, the scheduler, Celery workers on
other hosts) writes its runs, documents and requests to the store, so the
store is the one place that sees the whole fleet; reading it at scrape time
needs no metrics state in any process and survives restarts. Each figure is
one grouped query over indexed columns. It only reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from records.schemas import RetrievalStatus, RunStatus
from store.models import Account, BotRun, Document, DocumentLink, RetrievalRequest, utcnow

OK = (RunStatus.succeeded, RunStatus.partial)
"""A run that did its work (partial: some records quarantined, the rest done)."""
FAILED = (RunStatus.failed, RunStatus.cancelled)
LATENCY_WINDOW = timedelta(days=7)
"""On-demand requests finished this recently make the latency histogram."""
LATENCY_BUCKETS = (1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 900.0)
"""Seconds from an analyst's request to its end (the on-demand aims are 10 s
warm and 20 s cold)."""


@dataclass
class FleetMetrics:
    """Plain numbers; labels are the store's own values (untrusted portal text
    never reaches a label: portals and tasks are the fleet's names)."""

    runs: dict[tuple[str, str, str], int] = field(default_factory=dict)
    """(portal, task, outcome) -> runs stored."""
    failures: dict[tuple[str, str], int] = field(default_factory=dict)
    """(portal, error class) -> failed runs."""
    running: dict[str, int] = field(default_factory=dict)
    """portal -> runs in progress."""
    documents: dict[str, int] = field(default_factory=dict)
    """role (backup, pod, ...) -> documents linked in that role."""
    documents_total: int = 0
    queue: dict[str, int] = field(default_factory=dict)
    """on-demand request status (queued, running) -> requests."""
    needs_human: int = 0
    last_success: dict[tuple[str, str], float] = field(default_factory=dict)
    """(portal, account) -> Unix time of its last successful run (accounts with one)."""
    accounts_enabled: dict[tuple[str, str], bool] = field(default_factory=dict)
    latency_buckets: list[tuple[float, int]] = field(default_factory=list)
    """(upper bound s, requests at or under it), cumulative, then +Inf."""
    latency_count: int = 0
    latency_sum: float = 0.0


def fleet_metrics(session: Session, now: datetime | None = None) -> FleetMetrics:
    """Everything ``/metrics`` shows, as of now."""
    now = now or utcnow()
    m = FleetMetrics()
    for portal, task, status, n in session.execute(
        select(BotRun.portal, BotRun.task, BotRun.status, func.count()).group_by(
            BotRun.portal, BotRun.task, BotRun.status
        )
    ):
        m.runs[(portal, task, RunStatus(status).value)] = int(n)
        if status == RunStatus.running:
            m.running[portal] = m.running.get(portal, 0) + int(n)
    for portal, error_class, n in session.execute(
        select(BotRun.portal, BotRun.error_class, func.count())
        .where(BotRun.status.in_(FAILED))
        .group_by(BotRun.portal, BotRun.error_class)
    ):
        m.failures[(portal, error_class or "unknown")] = int(n)
    for role, n in session.execute(
        select(DocumentLink.role, func.count()).group_by(DocumentLink.role)
    ):
        m.documents[str(getattr(role, "value", role))] = int(n)
    m.documents_total = int(session.scalar(select(func.count()).select_from(Document)) or 0)
    for wanted, n in session.execute(
        select(RetrievalRequest.status, func.count())
        .where(
            RetrievalRequest.status.in_(
                (RetrievalStatus.queued, RetrievalStatus.running, RetrievalStatus.needs_human)
            )
        )
        .group_by(RetrievalRequest.status)
    ):
        if wanted == RetrievalStatus.needs_human:
            m.needs_human = int(n)
        else:
            m.queue[RetrievalStatus(wanted).value] = int(n)
    for active in (RetrievalStatus.queued.value, RetrievalStatus.running.value):
        m.queue.setdefault(active, 0)
    for portal, account, last in session.execute(
        select(BotRun.portal, BotRun.account, func.max(BotRun.finished_at))
        .where(BotRun.status.in_(OK), BotRun.account.is_not(None))
        .group_by(BotRun.portal, BotRun.account)
    ):
        if last is not None and account is not None:
            m.last_success[(portal, account)] = last.timestamp()
    for a in session.scalars(select(Account)):
        m.accounts_enabled[(a.portal, a.username)] = bool(a.enabled)
    _latency(session, now, m)
    return m


def _latency(session: Session, now: datetime, m: FleetMetrics) -> None:
    waits = sorted(
        (finished - created).total_seconds()
        for created, finished in session.execute(
            select(RetrievalRequest.created_at, RetrievalRequest.finished_at).where(
                RetrievalRequest.finished_at.is_not(None),
                RetrievalRequest.finished_at >= now - LATENCY_WINDOW,
            )
        )
        if finished is not None
    )
    i = 0
    for bound in LATENCY_BUCKETS:
        while i < len(waits) and waits[i] <= bound:
            i += 1
        m.latency_buckets.append((bound, i))
    m.latency_buckets.append((float("inf"), len(waits)))
    m.latency_count = len(waits)
    m.latency_sum = sum(waits)


__all__ = ["LATENCY_BUCKETS", "FleetMetrics", "fleet_metrics"]
