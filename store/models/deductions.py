"""Deductions as the portals show them, their lines, sources and history."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from records.schemas import (
    Category,
)
from store.models.base import (
    BYTEWISE_PG,
    Base,
    BigId,
    Json,
    Money,
    UnitPrice,
    created_column,
    enum_type,
    id_column,
    portal_fk,
)


class Deduction(Base):
    """A deduction as last seen on its portal. Changes go to ``deduction_history``."""

    __tablename__ = "deductions"
    __table_args__ = (
        UniqueConstraint("portal", "external_id"),
        ForeignKeyConstraint(
            ["portal", "account"],
            ["accounts.portal", "accounts.username"],
            name="fk_deductions_account_accounts",
        ),
        # status first: a (portal, ...) index would compete with the unique key in
        # plans made before ANALYZE (a first bulk sync) and scan a whole portal.
        Index("ix_deductions_status_portal", "status", "portal"),
        # The worklist (store/queries) searches claim, invoice, PO, PRO and BOL
        # numbers by prefix, bytewise (see Bytewise): on PostgreSQL through indexes
        # on ``column COLLATE "C"`` (written as postgresql_ops, which CREATE INDEX
        # takes in the same place). On SQLite the plain indexes on invoice, PO and
        # PRO numbers already are bytewise: there those three stay empty (WHERE 0),
        # so every backend has the same index names and no write pays twice.
        *(
            Index(
                f"ix_deductions_{c}_bytewise",
                c,
                postgresql_ops={c: BYTEWISE_PG},
                sqlite_where=None if c in ("external_id", "bol_number") else text("0"),
            )
            for c in ("external_id", "bol_number", "invoice_number", "po_number", "pro_number")
        ),
        Index("ix_deductions_amount_id", "amount", "id"),  # the worklist's sort by amount
    )

    id: Mapped[int] = id_column()
    portal: Mapped[str] = portal_fk()
    external_id: Mapped[str] = mapped_column(String(128))
    account: Mapped[str | None] = mapped_column(String(320))
    invoice_number: Mapped[str] = mapped_column(String(500), default="", index=True)
    po_number: Mapped[str] = mapped_column(String(500), default="", index=True)
    location: Mapped[str] = mapped_column(String(500), default="")
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    reason_code: Mapped[str] = mapped_column(String(500), default="")
    reason_text: Mapped[str] = mapped_column(String(500), default="")
    category: Mapped[Category | None] = mapped_column(enum_type(Category, "category"))
    deduction_date: Mapped[date | None] = mapped_column(Date, index=True)
    invoice_date: Mapped[date | None] = mapped_column(Date)
    posted_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(500), default="")
    promo_id: Mapped[str | None] = mapped_column(String(500), index=True)
    carrier: Mapped[str | None] = mapped_column(String(500))
    pro_number: Mapped[str | None] = mapped_column(String(500), index=True)
    bol_number: Mapped[str | None] = mapped_column(String(500))
    memo: Mapped[str] = mapped_column(Text, default="")
    raw: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))
    last_run_id: Mapped[str | None] = mapped_column(String(64))
    first_seen_at: Mapped[datetime] = created_column()
    last_seen_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = created_column()
    documents_checked_on: Mapped[date | None] = mapped_column(Date)
    """The business day a sync last listed the claim's documents (an open
    claim's are listed again on a later day: documents arrive late)."""

    lines: Mapped[list[DeductionLine]] = relationship(
        back_populates="deduction",
        order_by="DeductionLine.line_no",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class DeductionLine(Base):
    __tablename__ = "deduction_lines"
    __table_args__ = (UniqueConstraint("deduction_id", "line_no"),)

    id: Mapped[int] = id_column()
    deduction_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("deductions.id", ondelete="CASCADE")
    )
    line_no: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(String(500), default="")
    description: Mapped[str] = mapped_column(String(500), default="")
    quantity: Mapped[int] = mapped_column(Integer, default=0)
    unit_cost: Mapped[Decimal | None] = mapped_column(UnitPrice)
    amount: Mapped[Decimal] = mapped_column(Money)

    deduction: Mapped[Deduction] = relationship(back_populates="lines")


class DeductionSource(Base):
    """A deduction seen outside its portal: one EDI 812 transaction (one row per
    distinct content), kept with its raw segments. A claim the robots fetched
    and an 812 named is one deduction with both: its portal row and this."""

    __tablename__ = "deduction_sources"
    __table_args__ = (UniqueConstraint("deduction_id", "source", "digest"),)

    id: Mapped[int] = id_column()
    deduction_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("deductions.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(String(32))  # "edi-812"
    reference: Mapped[str] = mapped_column(String(500))  # file, interchange, transaction
    digest: Mapped[str] = mapped_column(String(64))  # sha256 of the transaction's segments
    amount: Mapped[Decimal] = mapped_column(Money)
    raw: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    first_seen_at: Mapped[datetime] = created_column()
    last_seen_at: Mapped[datetime] = created_column()


class DeductionHistory(Base):
    """One field of a deduction changing between two observations. Append-only."""

    __tablename__ = "deduction_history"

    id: Mapped[int] = id_column()
    deduction_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("deductions.id", ondelete="CASCADE"), index=True
    )
    field: Mapped[str] = mapped_column(String(64))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    observed_at: Mapped[datetime] = created_column()
    run_id: Mapped[str | None] = mapped_column(String(64), index=True)
