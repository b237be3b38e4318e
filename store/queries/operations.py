"""Reads about what the robots did, for the ops face and the anomaly checks:
failed runs by day and error class (the chart on ``/ops``), a portal's run
outcomes over a window, and which document roles arrived while a run held its
account's lock.

Each function only reads; results are plain values (no ORM rows escape), so a
caller may use them after its session closed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import and_, exists, select
from sqlalchemy.orm import Session, aliased

from records.schemas import RunStatus
from store.models import BotRun, Deduction, DocumentLink, FetchedRef, Shipment

UNKNOWN_CLASS = "unknown"
"""The class a failed run without one is counted under (as ``fleet health`` does)."""


@dataclass(frozen=True)
class FailuresByDay:
    """Failed runs per UTC day and error class, every day of the window listed
    (a quiet day is a row of zeros, not a missing one)."""

    days: tuple[date, ...]
    """Oldest first, through the last day asked for."""
    classes: tuple[str, ...]
    """Every class that failed at least once in the window, most failures first."""
    counts: dict[tuple[date, str], int] = field(default_factory=dict)
    """(day, class) -> failed runs; absent means none."""

    def count(self, day: date, error_class: str) -> int:
        return self.counts.get((day, error_class), 0)

    def total(self, day: date) -> int:
        return sum(n for (d, _), n in self.counts.items() if d == day)


def failures_by_day(session: Session, last_day: date, days: int = 7) -> FailuresByDay:
    """Runs that ended ``failed`` and started on one of the ``days`` UTC days
    ending with ``last_day``, counted by day and error class. Grouped here
    rather than in SQL: a timestamp's date is spelled differently by SQLite
    and PostgreSQL, and a week of failures is a few thousand rows at most."""
    first = last_day - timedelta(days=days - 1)
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = start + timedelta(days=days)
    counts: Counter[tuple[date, str]] = Counter()
    for started_at, error_class in session.execute(
        select(BotRun.started_at, BotRun.error_class).where(
            BotRun.status == RunStatus.failed,
            BotRun.started_at >= start,
            BotRun.started_at < end,
        )
    ):
        counts[(started_at.astimezone(UTC).date(), error_class or UNKNOWN_CLASS)] += 1
    by_class: Counter[str] = Counter()
    for (_, cls), n in counts.items():
        by_class[cls] += n
    return FailuresByDay(
        days=tuple(first + timedelta(days=i) for i in range(days)),
        classes=tuple(sorted(by_class, key=lambda c: (-by_class[c], c))),
        counts=dict(counts),
    )


@dataclass(frozen=True)
class RunOutcome:
    """One finished run as the failure-rate check needs it."""

    started_at: datetime
    failed: bool
    error_class: str | None


def finished_runs(
    session: Session, portal: str, since: datetime, *, leave_out: Sequence[str] = ()
) -> list[RunOutcome]:
    """The portal's runs started at or after ``since`` that have ended, oldest
    first; ``failed`` for ``failed`` and ``cancelled`` (neither did its work).
    Runs whose error class is in ``leave_out`` are not returned at all."""
    stmt = (
        select(BotRun.started_at, BotRun.status, BotRun.error_class)
        .where(
            BotRun.portal == portal,
            BotRun.started_at >= since,
            BotRun.status != RunStatus.running,
        )
        .order_by(BotRun.started_at)
    )
    out = []
    for started_at, status, error_class in session.execute(stmt):
        if error_class in leave_out:
            continue
        out.append(
            RunOutcome(
                started_at=started_at,
                failed=RunStatus(status) in (RunStatus.failed, RunStatus.cancelled),
                error_class=error_class,
            )
        )
    return out


def roles_fetched(
    session: Session, portal: str, account: str, start: datetime, end: datetime
) -> list[tuple[datetime, str]]:
    """(fetched at, link role) of every document a robot fetched between
    ``start`` and ``end`` for this account: for a retailer account, documents
    fetched for its claims; for a carrier, documents fetched for its shipments.

    Runs do not stamp the documents they fetch, so a run's documents are the
    ones fetched inside its time window; the account lock (bots/locks.py) keeps
    two jobs of one account from overlapping. Two things could still land in a
    retailer account's window and are left out: a carrier's POD or BOL that a
    ``pods`` run attached to the account's claims (it is also fetched for a
    shipment, under the carrier's lock), and archive members the extraction
    pass links (they carry no fetched ref). Shipments are kept per carrier, not
    per account: two accounts of one carrier share what either fetched."""
    carrier_fetch = aliased(FetchedRef)
    for_claims = (
        select(FetchedRef.fetched_at, DocumentLink.role)
        .join(Deduction, Deduction.id == FetchedRef.deduction_id)
        .join(
            DocumentLink,
            and_(
                DocumentLink.document_id == FetchedRef.document_id,
                DocumentLink.deduction_id == FetchedRef.deduction_id,
            ),
        )
        .where(
            Deduction.portal == portal,
            Deduction.account == account,
            FetchedRef.fetched_at >= start,
            FetchedRef.fetched_at <= end,
            ~exists().where(
                carrier_fetch.document_id == FetchedRef.document_id,
                carrier_fetch.shipment_id.is_not(None),
            ),
        )
    )
    for_shipments = (
        select(FetchedRef.fetched_at, DocumentLink.role)
        .join(Shipment, Shipment.id == FetchedRef.shipment_id)
        .join(
            DocumentLink,
            and_(
                DocumentLink.document_id == FetchedRef.document_id,
                DocumentLink.shipment_id == FetchedRef.shipment_id,
            ),
        )
        .where(
            Shipment.carrier == portal,
            FetchedRef.fetched_at >= start,
            FetchedRef.fetched_at <= end,
        )
    )
    rows = [*session.execute(for_claims), *session.execute(for_shipments)]
    return sorted((at, str(getattr(role, "value", role))) for at, role in rows)


__all__ = [
    "UNKNOWN_CLASS",
    "FailuresByDay",
    "RunOutcome",
    "failures_by_day",
    "finished_runs",
    "roles_fetched",
]
