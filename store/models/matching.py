"""Verdicts, analysts' category corrections, the matching runs, and each
business day's headline KPIs (the trend the KPI page draws)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import (
    Base,
    BigId,
    Json,
    Money,
    UTCDateTime,
    created_column,
    id_column,
)


class Verdict(Base):
    """The matcher's current word on one deduction: validity, amounts, reasons and
    the evidence used. Rewritten only when its content changes (``fingerprint``)."""

    __tablename__ = "verdicts"
    # The worklist's deadline order walks this index (store/queries/worklist.py).
    __table_args__ = (Index("ix_verdicts_window_closes", "window_closes", "deduction_id"),)

    id: Mapped[int] = id_column()
    deduction_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("deductions.id", ondelete="CASCADE"), unique=True
    )
    validity: Mapped[str] = mapped_column(String(16), index=True)
    category: Mapped[str] = mapped_column(String(32))
    category_source: Mapped[str] = mapped_column(String(32), default="")
    rule: Mapped[str] = mapped_column(String(64), default="")
    claimed_amount: Mapped[Decimal] = mapped_column(Money)
    current_amount: Mapped[Decimal] = mapped_column(Money)
    valid_amount: Mapped[Decimal | None] = mapped_column(Money)
    disputable_amount: Mapped[Decimal | None] = mapped_column(Money)
    window_closes: Mapped[date | None] = mapped_column(Date)
    reasons: Mapped[list[Any]] = mapped_column(Json, default=list)
    evidence: Mapped[list[Any]] = mapped_column(Json, default=list)
    missing: Mapped[list[Any]] = mapped_column(Json, default=list)
    fingerprint: Mapped[str] = mapped_column(String(64))
    computed_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = created_column()


class CategoryOverride(Base):
    """An analyst's category correction: for one deduction (``external_id``) or,
    with ``external_id`` empty, for every deduction of that portal and code."""

    __tablename__ = "category_overrides"
    __table_args__ = (UniqueConstraint("portal", "reason_code", "external_id"),)

    id: Mapped[int] = id_column()
    portal: Mapped[str] = mapped_column(String(64))
    reason_code: Mapped[str] = mapped_column(String(500), default="")
    external_id: Mapped[str] = mapped_column(String(128), default="")
    category: Mapped[str] = mapped_column(String(32))
    set_by: Mapped[str] = mapped_column(String(128))
    set_at: Mapped[datetime] = created_column()


class MatchingRun(Base):
    """One ``fleet match`` run: when it started (the next incremental run judges
    what changed after that), the day it judged for, and the rules it used."""

    __tablename__ = "matching_runs"

    id: Mapped[int] = id_column()
    started_at: Mapped[datetime] = created_column()
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    today: Mapped[date] = mapped_column(Date)
    config_hash: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(16))  # full or incremental
    judged: Mapped[int] = mapped_column(Integer, default=0)
    written: Mapped[int] = mapped_column(Integer, default=0)
    actor: Mapped[str] = mapped_column(String(128))


class KpiDay(Base):
    """One business day's headline figures (``matching.reports.kpis``), kept so the
    KPI page can draw a trend: ``kpis`` itself only knows today. One row per
    business day, rewritten while the day lasts (matching/kpi_history.py);
    ``ddo_days`` and ``dispute_win_rate`` are as ``kpis`` rounds them (None: no
    basis yet)."""

    __tablename__ = "kpi_days"

    business_day: Mapped[date] = mapped_column(Date, primary_key=True)
    deductions: Mapped[int] = mapped_column(Integer, default=0)
    open_amount: Mapped[Decimal] = mapped_column(Money)
    ddo_days: Mapped[float | None] = mapped_column(Float)
    amount_recovered: Mapped[Decimal] = mapped_column(Money)
    dispute_win_rate: Mapped[float | None] = mapped_column(Float)
    recorded_at: Mapped[datetime] = created_column()
