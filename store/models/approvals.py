"""People, their decisions on deductions, the approval chain, delegations,
comments and credit exports."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
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


class User(Base):
    """An analyst or approver. Authentication is not stored here."""

    __tablename__ = "users"

    id: Mapped[int] = id_column()
    username: Mapped[str] = mapped_column(String(128), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(32), default="analyst")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = created_column()


class Decision(Base):
    """A proposal on a deduction (accept, dispute, split) and where its approval
    chain stands. At most one pending proposal per deduction."""

    __tablename__ = "decisions"
    __table_args__ = (
        Index(
            "uq_decisions_pending",
            "deduction_id",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = id_column()
    deduction_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("deductions.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # accept | dispute | split
    accept_amount: Mapped[Decimal] = mapped_column(Money)
    dispute_amount: Mapped[Decimal] = mapped_column(Money)
    credit_kind: Mapped[str] = mapped_column(String(16), default="")  # credit_memo | write_off
    status: Mapped[str] = mapped_column(String(16), default="pending")
    proposed_by: Mapped[str] = mapped_column(String(128))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = created_column()
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    export_batch_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("export_batches.id", ondelete="RESTRICT"), index=True
    )
    window_override_by: Mapped[str | None] = mapped_column(String(128))
    """Who approved disputing although the portal's window had closed (audited)."""


class DecisionStep(Base):
    """One level of a decision's approval chain (the role it needs, who acted)."""

    __tablename__ = "decision_steps"
    __table_args__ = (UniqueConstraint("decision_id", "level"),)

    id: Mapped[int] = id_column()
    decision_id: Mapped[int] = mapped_column(BigId, ForeignKey("decisions.id", ondelete="CASCADE"))
    level: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    actor: Mapped[str | None] = mapped_column(String(128))
    on_behalf_of: Mapped[str | None] = mapped_column(String(128))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = created_column()
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Delegation(Base):
    """While ``delegator`` is away, ``delegate`` may approve in their place."""

    __tablename__ = "delegations"

    id: Mapped[int] = id_column()
    delegator: Mapped[str] = mapped_column(String(128), index=True)
    delegate: Mapped[str] = mapped_column(String(128))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = created_column()


class DeductionComment(Base):
    """An internal comment on a deduction; ``mentions`` are the @usernames in it."""

    __tablename__ = "deduction_comments"

    id: Mapped[int] = id_column()
    deduction_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("deductions.id", ondelete="CASCADE"), index=True
    )
    author: Mapped[str] = mapped_column(String(128))
    body: Mapped[str] = mapped_column(Text)
    mentions: Mapped[list[Any]] = mapped_column(Json, default=list)
    created_at: Mapped[datetime] = created_column()


class ExportBatch(Base):
    """One ``fleet export credits`` run: which decisions it carried, once."""

    __tablename__ = "export_batches"

    id: Mapped[int] = id_column()
    kind: Mapped[str] = mapped_column(String(32))
    since: Mapped[date | None] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = created_column()
    count: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[Decimal] = mapped_column(Money)
