"""Each business day's headline KPIs, one row a day (``kpi_days``).

``put`` is an atomic upsert on the business day (``ON CONFLICT DO UPDATE``):
writing a day again replaces its figures, so two writers that race leave one
row, the later figures. What the figures are is matching/kpi_history.py's.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import KpiDay, table_of
from store.repositories._common import insert_for

K = table_of(KpiDay)


def put(
    session: Session,
    business_day: date,
    *,
    deductions: int,
    open_amount: Decimal,
    ddo_days: float | None,
    amount_recovered: Decimal,
    dispute_win_rate: float | None,
    recorded_at: datetime,
) -> None:
    values = {
        "deductions": deductions,
        "open_amount": open_amount,
        "ddo_days": ddo_days,
        "amount_recovered": amount_recovered,
        "dispute_win_rate": dispute_win_rate,
        "recorded_at": recorded_at,
    }
    session.execute(
        insert_for(session, K)
        .values(business_day=business_day, **values)
        .on_conflict_do_update(index_elements=["business_day"], set_=values)
    )


def recorded_at(session: Session, business_day: date) -> datetime | None:
    """When the day's figures were last written (None: not yet)."""
    return session.execute(
        select(KpiDay.recorded_at).where(KpiDay.business_day == business_day)
    ).scalar_one_or_none()


def between(session: Session, first: date | None, last: date | None) -> list[KpiDay]:
    """The days from ``first`` to ``last`` (either open), oldest first."""
    query = select(KpiDay).order_by(KpiDay.business_day)
    if first is not None:
        query = query.where(KpiDay.business_day >= first)
    if last is not None:
        query = query.where(KpiDay.business_day <= last)
    return list(session.scalars(query))


__all__ = ["between", "put", "recorded_at"]
