"""Documents in the vault, what they are linked to, and the portal refs fetched."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from records.schemas import (
    ExtractionStatus,
    LinkRole,
)
from store.models.base import (
    Base,
    BigId,
    Json,
    UTCDateTime,
    created_column,
    enum_type,
    id_column,
)


class Document(Base):
    """A file in the content-addressed vault: one row per distinct content."""

    __tablename__ = "documents"

    id: Mapped[int] = id_column()
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(127), default="application/octet-stream")
    original_filename: Mapped[str] = mapped_column(Text, default="")
    vault_path: Mapped[str] = mapped_column(String(1000))
    extraction_status: Mapped[ExtractionStatus] = mapped_column(
        enum_type(ExtractionStatus, "extraction_status"), default=ExtractionStatus.pending
    )
    extraction_reason: Mapped[str] = mapped_column(String(500), default="")
    needs_ocr: Mapped[bool] = mapped_column(Boolean, default=False)
    extracted_text_length: Mapped[int | None] = mapped_column(Integer)
    extracted_fields: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    first_seen_at: Mapped[datetime] = created_column()
    extracted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class DocumentLink(Base):
    """A document attached to exactly one deduction or one shipment, in one role."""

    __tablename__ = "document_links"
    __table_args__ = (
        CheckConstraint(
            "(deduction_id IS NOT NULL AND shipment_id IS NULL)"
            " OR (deduction_id IS NULL AND shipment_id IS NOT NULL)",
            name="one_target",
        ),
        Index(
            "uq_document_links_deduction",
            "document_id",
            "deduction_id",
            "role",
            unique=True,
            sqlite_where=text("deduction_id IS NOT NULL"),
            postgresql_where=text("deduction_id IS NOT NULL"),
        ),
        Index(
            "uq_document_links_shipment",
            "document_id",
            "shipment_id",
            "role",
            unique=True,
            sqlite_where=text("shipment_id IS NOT NULL"),
            postgresql_where=text("shipment_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = id_column()
    document_id: Mapped[int] = mapped_column(BigId, ForeignKey("documents.id", ondelete="CASCADE"))
    deduction_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("deductions.id", ondelete="CASCADE"), index=True
    )
    shipment_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("shipments.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[LinkRole] = mapped_column(enum_type(LinkRole, "link_role"))
    created_at: Mapped[datetime] = created_column()


class FetchedRef(Base):
    """A portal document reference already fetched for a deduction or shipment.

    The portal's own id for a document (or its download path) is what the
    robots see before the bytes; remembering it is what lets a re-run skip a
    document instead of downloading it again. Kept apart from the links,
    because two refs may yield the same bytes.
    """

    __tablename__ = "fetched_refs"
    __table_args__ = (
        CheckConstraint(
            "(deduction_id IS NOT NULL AND shipment_id IS NULL)"
            " OR (deduction_id IS NULL AND shipment_id IS NOT NULL)",
            name="one_target",
        ),
        Index(
            "uq_fetched_refs_deduction",
            "deduction_id",
            "source_ref",
            unique=True,
            sqlite_where=text("deduction_id IS NOT NULL"),
            postgresql_where=text("deduction_id IS NOT NULL"),
        ),
        Index(
            "uq_fetched_refs_shipment",
            "shipment_id",
            "source_ref",
            unique=True,
            sqlite_where=text("shipment_id IS NOT NULL"),
            postgresql_where=text("shipment_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = id_column()
    deduction_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("deductions.id", ondelete="CASCADE")
    )
    shipment_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("shipments.id", ondelete="CASCADE")
    )
    source_ref: Mapped[str] = mapped_column(String(500))
    document_id: Mapped[int] = mapped_column(BigId, ForeignKey("documents.id", ondelete="CASCADE"))
    fetched_at: Mapped[datetime] = created_column()
