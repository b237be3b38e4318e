"""The fleet's tables as SQLAlchemy 2 typed models.

Conventions:

* natural keys are unique constraints (``portal + external_id``, ``sha256``,
  ``carrier + pro_number`` ...): repositories upsert on them, so running a bot
  job twice leaves one row;
* money is exact on both backends: a BIGINT of minor units (``store.money``),
  scale 2 for amounts and 4 for unit prices and rates, read back as ``Decimal``;
  a value with more decimals than its column's scale is refused, never rounded;
* timestamps are UTC and always time-zone aware in Python (stored naive-UTC on
  SQLite);
* raw payloads are JSON (``json``, not ``jsonb``, on PostgreSQL: it keeps the
  payload byte-for-byte, odd escapes included);
* no table holds a secret: accounts carry the username and the keyring entry is
  found from it by ``credentials/``.

The schema itself is owned by Alembic (``store/migrations``); these models must
match the newest revision (a test compares them).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Enum,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql import coercions, roles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeDecorator

from records.schemas import (
    Category,
    ExtractionStatus,
    LinkRole,
    PodStatus,
    PortalKind,
    RetrievalStatus,
    RunStatus,
)
from store.money import ExactMoney

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always UTC and aware in Python, on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; attach a time zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Bytewise(ColumnElement[str]):
    """A text expression compared and ordered by code point, on every backend.

    SQLite's default (BINARY) collation already does; a PostgreSQL database's
    collation may be linguistic (en_US ignores punctuation at first), under which
    the rows starting with a prefix are not one key range. There it renders
    ``COLLATE "C"``: used alike in an index and in a query, prefix search
    (``>= prefix AND < next``) and claim-number order walk that index, and both
    backends order the same way."""

    __visit_name__ = "bytewise"
    inherit_cache = True
    _traverse_internals = [("element", InternalTraversal.dp_clauseelement)]  # noqa: RUF012

    def __init__(self, element: Any) -> None:
        self.element = coercions.expect(roles.ExpressionElementRole, element)
        self.type = self.element.type


BYTEWISE_PG = 'COLLATE "C"'


@compiles(Bytewise)
def _bytewise(element: Bytewise, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.element, **kw)


@compiles(Bytewise, "postgresql")
def _bytewise_pg(element: Bytewise, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{compiler.process(element.element, **kw)} {BYTEWISE_PG}"


BigId = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER only
Money = ExactMoney(2)
UnitPrice = ExactMoney(4)
Json = JSON(none_as_null=True)


def _enum(cls: type[StrEnum], name: str) -> Enum:
    # VARCHAR + CHECK on both backends: adding a value is a migration, not a type swap.
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {  # noqa: RUF012  (SQLAlchemy reads it as a class attribute)
        datetime: UTCDateTime(),
        date: Date(),
        Decimal: Money,
        dict[str, Any]: Json,
        list[Any]: Json,
        str: String(500),
    }


def _id() -> Mapped[int]:
    return mapped_column(BigId, primary_key=True, autoincrement=True)


def _created() -> Mapped[datetime]:
    return mapped_column(UTCDateTime(), default=utcnow, nullable=False)


def _portal_fk(nullable: bool = False) -> Mapped[Any]:
    return mapped_column(
        String(64), ForeignKey("portals.name", ondelete="RESTRICT"), nullable=nullable
    )


# --------------------------------------------------------------------------- portals


class Portal(Base):
    """A retailer or carrier site. Keyed by its slug ("megamart")."""

    __tablename__ = "portals"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[PortalKind | None] = mapped_column(_enum(PortalKind, "portal_kind"))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = _created()


class Account(Base):
    """A login on a portal. The password and TOTP secret live in the keyring only."""

    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("portal", "username"),)

    id: Mapped[int] = _id()
    portal: Mapped[str] = _portal_fk()
    username: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _created()


# --------------------------------------------------------------------------- deductions


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

    id: Mapped[int] = _id()
    portal: Mapped[str] = _portal_fk()
    external_id: Mapped[str] = mapped_column(String(128))
    account: Mapped[str | None] = mapped_column(String(320))
    invoice_number: Mapped[str] = mapped_column(String(500), default="", index=True)
    po_number: Mapped[str] = mapped_column(String(500), default="", index=True)
    location: Mapped[str] = mapped_column(String(500), default="")
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    reason_code: Mapped[str] = mapped_column(String(500), default="")
    reason_text: Mapped[str] = mapped_column(String(500), default="")
    category: Mapped[Category | None] = mapped_column(_enum(Category, "category"))
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
    first_seen_at: Mapped[datetime] = _created()
    last_seen_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _created()
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

    id: Mapped[int] = _id()
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

    id: Mapped[int] = _id()
    deduction_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("deductions.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(String(32))  # "edi-812"
    reference: Mapped[str] = mapped_column(String(500))  # file, interchange, transaction
    digest: Mapped[str] = mapped_column(String(64))  # sha256 of the transaction's segments
    amount: Mapped[Decimal] = mapped_column(Money)
    raw: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    first_seen_at: Mapped[datetime] = _created()
    last_seen_at: Mapped[datetime] = _created()


class DeductionHistory(Base):
    """One field of a deduction changing between two observations. Append-only."""

    __tablename__ = "deduction_history"

    id: Mapped[int] = _id()
    deduction_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("deductions.id", ondelete="CASCADE"), index=True
    )
    field: Mapped[str] = mapped_column(String(64))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    observed_at: Mapped[datetime] = _created()
    run_id: Mapped[str | None] = mapped_column(String(64), index=True)


# --------------------------------------------------------------------------- shipments


class Shipment(Base):
    """A shipment and its POD as a carrier shows it."""

    __tablename__ = "shipments"
    __table_args__ = (UniqueConstraint("carrier", "pro_number"),)

    id: Mapped[int] = _id()
    carrier: Mapped[str] = _portal_fk()
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
        _enum(PodStatus, "pod_status"), default=PodStatus.unknown
    )
    raw: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))
    last_run_id: Mapped[str | None] = mapped_column(String(64))
    first_seen_at: Mapped[datetime] = _created()
    pod_checked_on: Mapped[date | None] = mapped_column(Date)
    """The business day the carrier was last asked for the POD."""
    last_seen_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _created()


# --------------------------------------------------------------------------- documents


class Document(Base):
    """A file in the content-addressed vault: one row per distinct content."""

    __tablename__ = "documents"

    id: Mapped[int] = _id()
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(127), default="application/octet-stream")
    original_filename: Mapped[str] = mapped_column(Text, default="")
    vault_path: Mapped[str] = mapped_column(String(1000))
    extraction_status: Mapped[ExtractionStatus] = mapped_column(
        _enum(ExtractionStatus, "extraction_status"), default=ExtractionStatus.pending
    )
    extraction_reason: Mapped[str] = mapped_column(String(500), default="")
    needs_ocr: Mapped[bool] = mapped_column(Boolean, default=False)
    extracted_text_length: Mapped[int | None] = mapped_column(Integer)
    extracted_fields: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    first_seen_at: Mapped[datetime] = _created()
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

    id: Mapped[int] = _id()
    document_id: Mapped[int] = mapped_column(BigId, ForeignKey("documents.id", ondelete="CASCADE"))
    deduction_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("deductions.id", ondelete="CASCADE"), index=True
    )
    shipment_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("shipments.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[LinkRole] = mapped_column(_enum(LinkRole, "link_role"))
    created_at: Mapped[datetime] = _created()


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

    id: Mapped[int] = _id()
    deduction_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("deductions.id", ondelete="CASCADE")
    )
    shipment_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("shipments.id", ondelete="CASCADE")
    )
    source_ref: Mapped[str] = mapped_column(String(500))
    document_id: Mapped[int] = mapped_column(BigId, ForeignKey("documents.id", ondelete="CASCADE"))
    fetched_at: Mapped[datetime] = _created()


# --------------------------------------------------------------------------- ERP


class ErpInvoice(Base):
    __tablename__ = "erp_invoices"
    __table_args__ = (UniqueConstraint("customer", "invoice_number"),)

    id: Mapped[int] = _id()
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
    imported_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _created()

    lines: Mapped[list[ErpInvoiceLine]] = relationship(
        order_by="ErpInvoiceLine.line_no", cascade="all, delete-orphan", passive_deletes=True
    )


class ErpInvoiceLine(Base):
    __tablename__ = "erp_invoice_lines"
    __table_args__ = (UniqueConstraint("invoice_id", "line_no"),)

    id: Mapped[int] = _id()
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

    id: Mapped[int] = _id()
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
    imported_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _created()


class ErpShipment(Base):
    __tablename__ = "erp_shipments"

    id: Mapped[int] = _id()
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
    imported_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _created()


class Remittance(Base):
    __tablename__ = "remittances"

    id: Mapped[int] = _id()
    remittance_id: Mapped[str] = mapped_column(String(128), unique=True)
    customer: Mapped[str] = mapped_column(String(500), index=True)
    payment_date: Mapped[date] = mapped_column(Date)
    total_paid: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    raw: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _created()

    lines: Mapped[list[RemittanceLine]] = relationship(
        order_by="RemittanceLine.line_no", cascade="all, delete-orphan", passive_deletes=True
    )


class RemittanceLine(Base):
    __tablename__ = "remittance_lines"
    __table_args__ = (UniqueConstraint("remittance_id", "line_no"),)

    id: Mapped[int] = _id()
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

    id: Mapped[int] = _id()
    line_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("remittance_lines.id", ondelete="CASCADE")
    )
    adj_no: Mapped[int] = mapped_column(Integer)
    reference: Mapped[str] = mapped_column(String(500), index=True)
    reason_code: Mapped[str] = mapped_column(String(500), default="")
    amount: Mapped[Decimal] = mapped_column(Money)  # positive reduces the payment
    reference_qualifier: Mapped[str] = mapped_column(String(3), default="", server_default="")


# --------------------------------------------------------------------------- matching


class Match(Base):
    """A candidate link from a deduction to evidence, found by a matching rule.

    Basic for now; the matching issue refines verdicts and scores.
    """

    __tablename__ = "matches"
    __table_args__ = (UniqueConstraint("deduction_id", "target_kind", "target_id", "rule"),)

    id: Mapped[int] = _id()
    deduction_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("deductions.id", ondelete="CASCADE"), index=True
    )
    target_kind: Mapped[str] = mapped_column(String(32))  # erp_invoice, shipment, ...
    target_id: Mapped[int] = mapped_column(BigId)
    rule: Mapped[str] = mapped_column(String(64))
    score: Mapped[Decimal | None] = mapped_column(Numeric(5, 4))
    verdict: Mapped[str | None] = mapped_column(String(32))  # valid / invalid / needs_review
    reasons: Mapped[list[Any]] = mapped_column(Json, default=list)
    created_at: Mapped[datetime] = _created()


class User(Base):
    """An analyst or approver. Authentication is not stored here."""

    __tablename__ = "users"

    id: Mapped[int] = _id()
    username: Mapped[str] = mapped_column(String(128), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(32), default="analyst")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = _created()


class Approval(Base):
    """One approval step on a deduction's verdict (multi-level by type and amount)."""

    __tablename__ = "approvals"
    __table_args__ = (UniqueConstraint("deduction_id", "level"),)

    id: Mapped[int] = _id()
    deduction_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("deductions.id", ondelete="CASCADE")
    )
    level: Mapped[int] = mapped_column(Integer, default=1)
    decision: Mapped[str] = mapped_column(String(32), default="pending")
    approver_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL")
    )
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = _created()
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# --------------------------------------------------------------------------- disputes


class Dispute(Base):
    """A dispute filed (or being filed) on a portal. ``idempotency_key`` makes
    filing exactly-once; ``attempts`` counts submissions (some portals allow two)."""

    __tablename__ = "disputes"
    __table_args__ = (UniqueConstraint("portal", "dispute_number"),)

    id: Mapped[int] = _id()
    portal: Mapped[str] = _portal_fk()
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
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _created()


class DisputeStatusHistory(Base):
    __tablename__ = "dispute_status_history"

    id: Mapped[int] = _id()
    dispute_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("disputes.id", ondelete="CASCADE"), index=True
    )
    old_status: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(500))
    observed_at: Mapped[datetime] = _created()
    run_id: Mapped[str | None] = mapped_column(String(64))


# --------------------------------------------------------------------------- operations


class BotRun(Base):
    """One bot job: who ran what, when, and how it ended (error class, never text
    that could hold a secret). A running job beats ``heartbeat_at`` so that a run
    whose process died can be told from a slow one (scheduler/housekeeping.py)."""

    __tablename__ = "bot_runs"
    __table_args__ = (
        Index("ix_bot_runs_portal_started", "portal", "started_at"),
        Index(
            "ix_bot_runs_running",
            "heartbeat_at",
            sqlite_where=text("status = 'running'"),
            postgresql_where=text("status = 'running'"),
        ),
    )

    id: Mapped[int] = _id()
    run_id: Mapped[str] = mapped_column(String(64), unique=True)
    portal: Mapped[str] = _portal_fk()
    account: Mapped[str | None] = mapped_column(String(320))
    task: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = _created()
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[RunStatus] = mapped_column(
        _enum(RunStatus, "run_status"), default=RunStatus.running
    )
    counts: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    error_class: Mapped[str | None] = mapped_column(String(128))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class HealthEvent(Base):
    __tablename__ = "health_events"
    __table_args__ = (Index("ix_health_events_portal_at", "portal", "at"),)

    id: Mapped[int] = _id()
    at: Mapped[datetime] = _created()
    portal: Mapped[str | None] = mapped_column(String(64))
    account: Mapped[str | None] = mapped_column(String(320))
    run_id: Mapped[str | None] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16), default="info")
    error_class: Mapped[str | None] = mapped_column(String(128))
    detail: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)


class RetrievalRequest(Base):
    """An analyst's (or a rule's) request to fetch something now: at most one
    active (queued or running) request per target. The portal is part of the
    target: the same claim or PRO number on two portals is two targets
    (``""`` when no portal is known; such a request cannot run)."""

    __tablename__ = "retrieval_requests"
    __table_args__ = (
        Index(
            "uq_retrieval_requests_active",
            "target_kind",
            "target_value",
            "portal",
            unique=True,
            sqlite_where=text("status IN ('queued', 'running')"),
            postgresql_where=text("status IN ('queued', 'running')"),
        ),
        Index("ix_retrieval_requests_queue", "status", "priority", "created_at"),
    )

    id: Mapped[int] = _id()
    requester: Mapped[str] = mapped_column(String(128))
    target_kind: Mapped[str] = mapped_column(String(32))  # deduction, pod, bol, document
    target_value: Mapped[str] = mapped_column(String(500))
    portal: Mapped[str] = mapped_column(String(64), default="", server_default="")
    priority: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[RetrievalStatus] = mapped_column(
        _enum(RetrievalStatus, "retrieval_status"), default=RetrievalStatus.queued
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error_class: Mapped[str | None] = mapped_column(String(128))
    run_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = _created()
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = _created()


class AuditLog(Base):
    """Append-only, hash-chained record of who did what. UPDATE and DELETE are
    refused by database triggers; ``hash`` covers the row and ``prev_hash``."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = _created()
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(200), index=True)  # "deduction:42"
    before: Mapped[dict[str, Any] | None] = mapped_column(Json)
    after: Mapped[dict[str, Any] | None] = mapped_column(Json)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class Quarantine(Base):
    """A record that failed validation, kept with its raw payload for a human."""

    __tablename__ = "quarantine"
    __table_args__ = (Index("ix_quarantine_portal_at", "portal", "at"),)

    id: Mapped[int] = _id()
    portal: Mapped[str] = mapped_column(String(64))
    record_kind: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str | None] = mapped_column(String(500))
    raw_payload: Mapped[Any] = mapped_column(Json)
    reason: Mapped[str] = mapped_column(Text)
    run_id: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = _created()


class Watermark(Base):
    """How far a task has read on a portal account (a date or an opaque cursor)."""

    __tablename__ = "watermarks"
    __table_args__ = (UniqueConstraint("portal", "account", "task"),)

    id: Mapped[int] = _id()
    portal: Mapped[str] = mapped_column(String(64))
    account: Mapped[str] = mapped_column(String(320), default="")  # "" = portal-wide
    task: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(String(500))
    updated_at: Mapped[datetime] = _created()


# --------------------------------------------------------------------------- matching (0003)


class Verdict(Base):
    """The matcher's current word on one deduction: validity, amounts, reasons and
    the evidence used. Rewritten only when its content changes (``fingerprint``)."""

    __tablename__ = "verdicts"
    # The worklist's deadline order walks this index (store/queries/worklist.py).
    __table_args__ = (Index("ix_verdicts_window_closes", "window_closes", "deduction_id"),)

    id: Mapped[int] = _id()
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
    computed_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _created()


class CategoryOverride(Base):
    """An analyst's category correction: for one deduction (``external_id``) or,
    with ``external_id`` empty, for every deduction of that portal and code."""

    __tablename__ = "category_overrides"
    __table_args__ = (UniqueConstraint("portal", "reason_code", "external_id"),)

    id: Mapped[int] = _id()
    portal: Mapped[str] = mapped_column(String(64))
    reason_code: Mapped[str] = mapped_column(String(500), default="")
    external_id: Mapped[str] = mapped_column(String(128), default="")
    category: Mapped[str] = mapped_column(String(32))
    set_by: Mapped[str] = mapped_column(String(128))
    set_at: Mapped[datetime] = _created()


class ExportBatch(Base):
    """One ``fleet export credits`` run: which decisions it carried, once."""

    __tablename__ = "export_batches"

    id: Mapped[int] = _id()
    kind: Mapped[str] = mapped_column(String(32))
    since: Mapped[date | None] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = _created()
    count: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[Decimal] = mapped_column(Money)


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

    id: Mapped[int] = _id()
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
    created_at: Mapped[datetime] = _created()
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

    id: Mapped[int] = _id()
    decision_id: Mapped[int] = mapped_column(BigId, ForeignKey("decisions.id", ondelete="CASCADE"))
    level: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    actor: Mapped[str | None] = mapped_column(String(128))
    on_behalf_of: Mapped[str | None] = mapped_column(String(128))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = _created()
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Delegation(Base):
    """While ``delegator`` is away, ``delegate`` may approve in their place."""

    __tablename__ = "delegations"

    id: Mapped[int] = _id()
    delegator: Mapped[str] = mapped_column(String(128), index=True)
    delegate: Mapped[str] = mapped_column(String(128))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = _created()


class DeductionComment(Base):
    """An internal comment on a deduction; ``mentions`` are the @usernames in it."""

    __tablename__ = "deduction_comments"

    id: Mapped[int] = _id()
    deduction_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("deductions.id", ondelete="CASCADE"), index=True
    )
    author: Mapped[str] = mapped_column(String(128))
    body: Mapped[str] = mapped_column(Text)
    mentions: Mapped[list[Any]] = mapped_column(Json, default=list)
    created_at: Mapped[datetime] = _created()


# --------------------------------------------------------------------------- 0004


class PausedAccount(Base):
    """A scheduler pause (``fleet scheduler pause``): read by each scheduled run
    when it fires, so it takes effect without a restart. ``account = "*"``
    pauses a whole portal. On-demand requests still run."""

    __tablename__ = "scheduler_paused_accounts"

    portal: Mapped[str] = mapped_column(String(64), primary_key=True)
    account: Mapped[str] = mapped_column(String(320), primary_key=True)
    paused_by: Mapped[str] = mapped_column(String(128), default="")
    paused_at: Mapped[datetime] = _created()


class MatchingRun(Base):
    """One ``fleet match`` run: when it started (the next incremental run judges
    what changed after that), the day it judged for, and the rules it used."""

    __tablename__ = "matching_runs"

    id: Mapped[int] = _id()
    started_at: Mapped[datetime] = _created()
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    today: Mapped[date] = mapped_column(Date)
    config_hash: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(16))  # full or incremental
    judged: Mapped[int] = mapped_column(Integer, default=0)
    written: Mapped[int] = mapped_column(Integer, default=0)
    actor: Mapped[str] = mapped_column(String(128))


__all__ = [
    "NAMING",
    "Account",
    "Approval",
    "AuditLog",
    "Base",
    "BotRun",
    "CategoryOverride",
    "Decision",
    "DecisionStep",
    "Deduction",
    "DeductionComment",
    "DeductionHistory",
    "DeductionLine",
    "DeductionSource",
    "Delegation",
    "Dispute",
    "DisputeStatusHistory",
    "Document",
    "DocumentLink",
    "ErpInvoice",
    "ErpInvoiceLine",
    "ErpPromotion",
    "ErpShipment",
    "ExportBatch",
    "FetchedRef",
    "HealthEvent",
    "Match",
    "MatchingRun",
    "PausedAccount",
    "Portal",
    "Quarantine",
    "Remittance",
    "RemittanceAdjustment",
    "RemittanceLine",
    "RetrievalRequest",
    "Shipment",
    "UTCDateTime",
    "User",
    "Verdict",
    "Watermark",
    "utcnow",
]
