"""Carrier shipments and their POD status."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Date,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from records.schemas import (
    PodStatus,
)
from store.models.base import (
    Base,
    Json,
    created_column,
    enum_type,
    id_column,
    portal_fk,
)


class Shipment(Base):
    """A shipment and its POD as a carrier shows it."""

    __tablename__ = "shipments"
    __table_args__ = (UniqueConstraint("carrier", "pro_number"),)

    id: Mapped[int] = id_column()
    carrier: Mapped[str] = portal_fk()
    pro_number: Mapped[str] = mapped_column(String(32))
    bol_number: Mapped[str] = mapped_column(String(500), default="", index=True)
    tracking_number: Mapped[str] = mapped_column(String(500), default="")
    po_numbers: Mapped[list[Any]] = mapped_column(Json, default=list)
    shipper: Mapped[str] = mapped_column(String(500), default="")
    consignee: Mapped[str] = mapped_column(String(500), default="")
    consignee_address: Mapped[str] = mapped_column(String(500), default="")
    ship_date: Mapped[date | None] = mapped_column(Date)
    delivery_date: Mapped[date | None] = mapped_column(Date)
    pieces_shipped: Mapped[int | None] = mapped_column(Integer)
    pieces_delivered: Mapped[int | None] = mapped_column(Integer)
    weight_lb: Mapped[int | None] = mapped_column(Integer)
    exceptions: Mapped[list[Any]] = mapped_column(Json, default=list)
    signer: Mapped[str] = mapped_column(String(500), default="")
    freight_terms: Mapped[str | None] = mapped_column(String(16))
    pod_status: Mapped[PodStatus] = mapped_column(
        enum_type(PodStatus, "pod_status"), default=PodStatus.unknown
    )
    raw: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))
    last_run_id: Mapped[str | None] = mapped_column(String(64))
    first_seen_at: Mapped[datetime] = created_column()
    pod_checked_on: Mapped[date | None] = mapped_column(Date)
    """The business day the carrier was last asked for the POD."""
    last_seen_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = created_column()
