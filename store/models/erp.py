"""The supplier's ERP extract: invoices, promotions, shipments, remittances."""

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
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.models.base import (
    Base,
    BigId,
    Json,
    Money,
    UnitPrice,
    created_column,
    id_column,
)


class ErpInvoice(Base):
    __tablename__ = "erp_invoices"
    __table_args__ = (UniqueConstraint("customer", "invoice_number"),)

    id: Mapped[int] = id_column()
    customer: Mapped[str] = mapped_column(String(128))
    invoice_number: Mapped[str] = mapped_column(String(128), index=True)
    po_number: Mapped[str] = mapped_column(String(500), default="", index=True)
    invoice_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date)
    ship_to: Mapped[str] = mapped_column(String(500), default="")
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    total: Mapped[Decimal] = mapped_column(Money)
    raw: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = created_column()

    lines: Mapped[list[ErpInvoiceLine]] = relationship(
        order_by="ErpInvoiceLine.line_no", cascade="all, delete-orphan", passive_deletes=True
    )


class ErpInvoiceLine(Base):
    __tablename__ = "erp_invoice_lines"
    __table_args__ = (UniqueConstraint("invoice_id", "line_no"),)

    id: Mapped[int] = id_column()
    invoice_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("erp_invoices.id", ondelete="CASCADE")
    )
    line_no: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(String(500), default="")
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(UnitPrice)
    amount: Mapped[Decimal] = mapped_column(Money)


class ErpPromotion(Base):
    __tablename__ = "erp_promotions"

    id: Mapped[int] = id_column()
    promo_id: Mapped[str] = mapped_column(String(128), unique=True)
    customer: Mapped[str] = mapped_column(String(128), index=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    skus: Mapped[list[Any]] = mapped_column(Json, default=list)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    rate_per_unit: Mapped[Decimal] = mapped_column(UnitPrice)
    max_amount: Mapped[Decimal | None] = mapped_column(Money)
    raw: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = created_column()


class ErpShipment(Base):
    __tablename__ = "erp_shipments"

    id: Mapped[int] = id_column()
    shipment_id: Mapped[str] = mapped_column(String(128), unique=True)
    invoice_number: Mapped[str] = mapped_column(String(500), default="", index=True)
    po_number: Mapped[str] = mapped_column(String(500), default="", index=True)
    customer: Mapped[str] = mapped_column(String(500), default="")
    carrier: Mapped[str] = mapped_column(String(500), default="")
    pro_number: Mapped[str] = mapped_column(String(500), default="", index=True)
    bol_number: Mapped[str] = mapped_column(String(500), default="", index=True)
    ship_date: Mapped[date | None] = mapped_column(Date)
    cases_shipped: Mapped[int] = mapped_column(Integer, default=0)
    freight_terms: Mapped[str | None] = mapped_column(String(16))
    raw: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = created_column()


class Remittance(Base):
    __tablename__ = "remittances"

    id: Mapped[int] = id_column()
    remittance_id: Mapped[str] = mapped_column(String(128), unique=True)
    customer: Mapped[str] = mapped_column(String(500), index=True)
    payment_date: Mapped[date] = mapped_column(Date)
    total_paid: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    raw: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = created_column()

    lines: Mapped[list[RemittanceLine]] = relationship(
        order_by="RemittanceLine.line_no", cascade="all, delete-orphan", passive_deletes=True
    )


class RemittanceLine(Base):
    __tablename__ = "remittance_lines"
    __table_args__ = (UniqueConstraint("remittance_id", "line_no"),)

    id: Mapped[int] = id_column()
    remittance_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("remittances.id", ondelete="CASCADE")
    )
    line_no: Mapped[int] = mapped_column(Integer)
    invoice_number: Mapped[str] = mapped_column(String(500), index=True)
    invoice_amount: Mapped[Decimal] = mapped_column(Money)
    paid_amount: Mapped[Decimal] = mapped_column(Money)
    # X12 RMR01 and RMR02: an item that is not an invoice (RMR*IK) has no
    # invoice_number, only these. Empty for a loop-level adjustment holder.
    qualifier: Mapped[str] = mapped_column(String(3), default="", server_default="")
    reference: Mapped[str] = mapped_column(String(500), default="", server_default="")

    adjustments: Mapped[list[RemittanceAdjustment]] = relationship(
        order_by="RemittanceAdjustment.adj_no", cascade="all, delete-orphan", passive_deletes=True
    )


class RemittanceAdjustment(Base):
    __tablename__ = "remittance_adjustments"
    __table_args__ = (UniqueConstraint("line_id", "adj_no"),)

    id: Mapped[int] = id_column()
    line_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("remittance_lines.id", ondelete="CASCADE")
    )
    adj_no: Mapped[int] = mapped_column(Integer)
    reference: Mapped[str] = mapped_column(String(500), index=True)
    reason_code: Mapped[str] = mapped_column(String(500), default="")
    amount: Mapped[Decimal] = mapped_column(Money)  # positive reduces the payment
    reference_qualifier: Mapped[str] = mapped_column(String(3), default="", server_default="")
