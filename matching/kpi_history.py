"""The KPI trend: each business day's headline figures, kept.

``matching.reports.kpis`` computes the figures as of one day from the store
as it is now; it cannot tell what DDO was last month. :func:`record_day`
keeps the business day's headline (deductions, open amount, DDO, recovered,
win rate) in ``kpi_days``, one row a day. The ``match`` step calls it after
every matching run (bots/tasks/core.py, beside the deadline alert), and it
recomputes at most once every :data:`REFRESH` (``kpis`` reads every
deduction), so a day's row ends up as that day's last refreshed figures.

:func:`history_tables` turns the days into the :class:`KpiTable` shapes
both faces already show (``fleet kpis --history``, the KPI page's charts
and CSV), so the trend needs no drawing or printing code of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from matching.reports import KpiTable, kpis
from store.models import utcnow
from store.repositories import kpi_days

REFRESH = timedelta(hours=1)
"""A day's figures are recomputed at most this often (``kpis`` reads every deduction)."""
HISTORY_COLUMNS = (
    "business day",
    "deductions",
    "open amount",
    "DDO days",
    "amount recovered",
    "dispute win rate",
)


@dataclass(frozen=True)
class KpiDayFigures:
    """One business day's headline, as kept."""

    business_day: date
    deductions: int
    open_amount: Decimal
    ddo_days: float | None
    amount_recovered: Decimal
    dispute_win_rate: float | None

    def row(self) -> tuple[Any, ...]:
        """The values in :data:`HISTORY_COLUMNS` order (None where no figure)."""
        return (
            self.business_day.isoformat(),
            self.deductions,
            self.open_amount,
            self.ddo_days,
            self.amount_recovered,
            self.dispute_win_rate,
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, money as exact strings (as ``fleet kpis --json`` prints money)."""
        return {
            "business_day": self.business_day.isoformat(),
            "deductions": self.deductions,
            "open_amount": str(self.open_amount),
            "ddo_days": self.ddo_days,
            "amount_recovered": str(self.amount_recovered),
            "dispute_win_rate": self.dispute_win_rate,
        }


def record_day(
    session: Session, today: date, now: datetime | None = None, *, refresh: timedelta = REFRESH
) -> bool:
    """Keep ``today``'s headline figures (upsert); True when written. Skipped while
    the day's row is younger than ``refresh``. Idempotent: a second call the same
    hour writes nothing, a later one replaces the day's figures."""
    now = now or utcnow()
    last = kpi_days.recorded_at(session, today)
    if last is not None and now - last < refresh:
        return False
    figures = kpis(session, today)
    kpi_days.put(
        session,
        today,
        deductions=int(figures["deductions"]),
        open_amount=Decimal(figures["open_amount"]),
        ddo_days=figures["ddo_days"],
        amount_recovered=Decimal(figures["amount_recovered"]),
        dispute_win_rate=figures["dispute_win_rate"],
        recorded_at=now,
    )
    return True


def history(
    session: Session, until: date | None = None, days: int | None = None
) -> list[KpiDayFigures]:
    """The kept days, oldest first: all of them, or the ``days`` up to ``until``."""
    first = until - timedelta(days=days - 1) if until is not None and days else None
    return [
        KpiDayFigures(
            r.business_day,
            r.deductions,
            r.open_amount,
            r.ddo_days,
            r.amount_recovered,
            r.dispute_win_rate,
        )
        for r in kpi_days.between(session, first, until)
    ]


def history_tables(days: list[KpiDayFigures]) -> list[KpiTable]:
    """``history`` (every kept figure, the CSV), ``ddo_history``,
    ``recovered_history`` and ``win_rate_history`` (one figure a day, charted;
    a day with no decided dispute has no win rate and no bar), oldest day first."""
    return [
        KpiTable("history", "KPI history", HISTORY_COLUMNS, tuple(d.row() for d in days)),
        KpiTable(
            "ddo_history",
            "DDO over time",
            ("business day", "DDO days"),
            tuple((d.business_day.isoformat(), d.ddo_days) for d in days),
        ),
        KpiTable(
            "recovered_history",
            "Recovered over time",
            ("business day", "amount recovered"),
            tuple((d.business_day.isoformat(), d.amount_recovered) for d in days),
        ),
        KpiTable(
            "win_rate_history",
            "Dispute win rate over time",
            ("business day", "win rate %"),
            tuple(
                (d.business_day.isoformat(), Decimal(str(round(d.dispute_win_rate * 100, 1))))
                for d in days
                if d.dispute_win_rate is not None
            ),
        ),
    ]


__all__ = [
    "HISTORY_COLUMNS",
    "REFRESH",
    "KpiDayFigures",
    "history",
    "history_tables",
    "record_day",
]
