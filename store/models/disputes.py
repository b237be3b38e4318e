"""Disputes filed on the portals and the road of their status."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Date,
    ForeignKey,
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
    portal_fk,
)


class Dispute(Base):
    """A dispute filed (or being filed) on a portal. ``idempotency_key`` makes
    filing exactly-once; ``attempts`` counts submissions (some portals allow two)."""

    __tablename__ = "disputes"
    __table_args__ = (UniqueConstraint("portal", "dispute_number"),)

    id: Mapped[int] = id_column()
    portal: Mapped[str] = portal_fk()
    deduction_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("deductions.id", ondelete="RESTRICT"), index=True
    )
    dispute_number: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(500), default="draft")
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    filed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    filed_on: Mapped[date | None] = mapped_column(Date)  # the fleet's business day
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    hold_reason: Mapped[str | None] = mapped_column(String(500))
    """Why the robot left this dispute to a person (None: it may file it)."""
    packet: Mapped[dict[str, Any] | None] = mapped_column(Json)
    """What was sent: reason, text digest, attachments (name, size, sha256)."""
    recovered_amount: Mapped[Decimal | None] = mapped_column(Money)
    """What came back, as the portal says once it decided (None: not decided)."""
    decided_on: Mapped[date | None] = mapped_column(Date)
    """The fleet's business day it first saw the portal's decision (won or lost):
    an appeal's window counts from it, and recoveries are charted by it."""
    level: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    """1: the dispute; 2: the second-level appeal of its denial (a row of its
    own, with its own packet, number and outcome; a claim has at most one of each)."""
    outcome_batch_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("export_batches.id", ondelete="SET NULL"), index=True
    )
    """The ``fleet export credits`` batch that carried the outcome (once)."""
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = created_column()


class DisputeStatusHistory(Base):
    __tablename__ = "dispute_status_history"

    id: Mapped[int] = id_column()
    dispute_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("disputes.id", ondelete="CASCADE"), index=True
    )
    old_status: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(500))
    observed_at: Mapped[datetime] = created_column()
    run_id: Mapped[str | None] = mapped_column(String(64))
