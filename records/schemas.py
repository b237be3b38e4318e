"""The normalized records robots and importers hand to the store (pydantic v2).

Every scraped or imported record passes one of these models before it reaches a
repository. They take *typed* values: turning a portal's "1,234.56" or
"03/04/25" into ``Decimal`` / ``date`` is ``records.normalize``'s job. What they
promise:

* money has at most 2 decimal places (unit prices and rates at most 4) and is
  never rounded to get there: more decimals are refused;
* currencies are three ASCII letters (upper-cased);
* dates fall between :data:`MIN_DATE` and about a year from today;
* text is bounded and free of NUL characters (PostgreSQL cannot store them);
* ``raw`` keeps the payload as the portal served it, so nothing is lost when a
  field is parsed wrongly.

Records are frozen: a repository may hash or compare them without copying.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

# --------------------------------------------------------------------------- enums


class Category(StrEnum):
    """What every retailer reason code normalises to (DOMAIN.md). Same values as the
    fixture world's enum; defined here because product code never imports fixtures."""

    promotion = "promotion"
    pricing = "pricing"
    shortage = "shortage"
    damage = "damage"
    compliance_fine = "compliance_fine"
    return_unsaleable = "return_unsaleable"
    duplicate_post_audit = "duplicate_post_audit"
    other = "other"


class PortalKind(StrEnum):
    retailer = "retailer"
    carrier = "carrier"


class LinkRole(StrEnum):
    """Why a document is attached to a deduction or a shipment."""

    backup = "backup"
    pod = "pod"
    bol = "bol"
    invoice = "invoice"
    deal_sheet = "deal_sheet"
    remittance = "remittance"
    dispute_receipt = "dispute_receipt"
    cover_letter = "cover_letter"
    line_detail = "line_detail"


class ExtractionStatus(StrEnum):
    pending = "pending"  # stored, not read yet
    extracted = "extracted"  # text and fields read
    partial = "partial"  # text read, some fields missing
    failed = "failed"  # unreadable (malformed, encrypted, too large); see reason
    unsupported = "unsupported"  # a media type we do not read (images, archives)


class PodStatus(StrEnum):
    unknown = "unknown"  # not looked up yet
    not_available = "not_available"  # carrier has no image yet (may take days)
    available = "available"  # carrier shows one, not fetched yet
    fetched = "fetched"  # in the vault, linked with role "pod"


class RetrievalStatus(StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"
    needs_human = "needs_human"  # CAPTCHA, locked account, ambiguous match


ACTIVE_RETRIEVAL_STATUSES: tuple[RetrievalStatus, ...] = (
    RetrievalStatus.queued,
    RetrievalStatus.running,
)


class Validity(StrEnum):
    """A verdict on a deduction: how much of it the supplier owes."""

    valid = "valid"  # owed in full
    partial = "partial"  # part owed, part to recover
    invalid = "invalid"  # nothing owed: dispute it all
    needs_review = "needs_review"  # evidence missing or ambiguous: a person decides


class DisputeReason(StrEnum):
    """Why the supplier disputes; each adapter maps it to its portal's own words."""

    proof_of_delivery = "proof_of_delivery"  # POD shows full delivery / no damage
    allowance_not_owed = "allowance_not_owed"  # no promotion, or over-deducted
    pricing_per_agreement = "pricing_per_agreement"
    duplicate_deduction = "duplicate_deduction"
    compliance_met = "compliance_met"
    other = "other"


class DisputeStatus(StrEnum):
    """Where a dispute stands. The fleet's own steps come first, then what the
    portal says (adapters normalise each portal's words to these)."""

    awaiting_person = "awaiting_person"  # approved, but the filing policy wants a person
    queued = "queued"  # ready: the next file_dispute job files it
    filing = "filing"  # an attempt started (exactly-once: the adapter looks first)
    window_closed = "window_closed"  # refused before filing: the portal's window closed
    rejected = "rejected"  # the portal refused the filing (the reason is in health)
    draft = "draft"
    research = "research"
    supplier_action = "supplier_action"
    approved = "approved"
    partially_approved = "partially_approved"
    denied = "denied"
    expired = "expired"


FINAL_DISPUTE_STATUSES: frozenset[str] = frozenset(
    {"approved", "partially_approved", "denied", "expired", "rejected", "window_closed"}
)
"""Nothing more happens to a dispute in one of these (a person may re-queue one)."""
UNFILED_DISPUTE_STATUSES: frozenset[str] = frozenset({"awaiting_person", "queued", "filing"})


class RunStatus(StrEnum):
    running = "running"
    succeeded = "succeeded"
    partial = "partial"  # finished, some records quarantined or skipped
    failed = "failed"
    cancelled = "cancelled"


# --------------------------------------------------------------------------- bounds

MIN_DATE = date(1990, 1, 1)
"""Older dates are typos or parse errors (a two-digit year read as 19xx or 00xx)."""

MAX_FUTURE_DAYS = 400
"""How far ahead a date may be: promotions and due dates are planned, not decades."""

MAX_AMOUNT = Decimal("999999999999.99")  # Numeric(14, 2)
CENT = Decimal("0.01")

_NUL = "\x00"


def _no_nul(v: str) -> str:
    # PostgreSQL text cannot hold NUL; portals sometimes emit it in hostile text.
    return v.replace(_NUL, "") if _NUL in v else v


def _check_date(v: date) -> date:
    latest = datetime.now(UTC).date() + timedelta(days=MAX_FUTURE_DAYS)
    if v < MIN_DATE or v > latest:
        raise ValueError(
            f"date {v.isoformat()} is outside {MIN_DATE.isoformat()}..{latest.isoformat()}"
            " (probably a parse error)"
        )
    return v


def _check_datetime(v: datetime) -> datetime:
    if v.tzinfo is None:
        raise ValueError("timestamp must carry a time zone (use UTC)")
    _check_date(v.astimezone(UTC).date())
    return v.astimezone(UTC)


def _check_money(v: Decimal) -> Decimal:
    if not v.is_finite():
        raise ValueError(f"amount {v} is not a finite number")
    if abs(v) > MAX_AMOUNT:
        raise ValueError(f"amount {v} is larger than {MAX_AMOUNT}")
    cents = v.quantize(CENT)
    if cents != v:
        raise ValueError(f"amount {v} has more than 2 decimal places")
    return cents


UNIT_PRICE_PLACES = 4
"""Unit prices and rates carry up to 4 decimals (EDI 812 CDD11 writes 7.3445)."""


def _check_unit_price(v: Decimal) -> Decimal:
    if not v.is_finite():
        raise ValueError(f"unit price {v} is not a finite number")
    if abs(v) > MAX_AMOUNT:
        raise ValueError(f"unit price {v} is larger than {MAX_AMOUNT}")
    exponent = v.as_tuple().exponent
    assert isinstance(exponent, int)
    if exponent < -UNIT_PRICE_PLACES and v != v.quantize(Decimal(1).scaleb(-UNIT_PRICE_PLACES)):
        raise ValueError(f"unit price {v} has more than {UNIT_PRICE_PLACES} decimal places")
    # Two places at least, more only when needed: 7.5 -> 7.50, 7.34450 -> 7.3445.
    cents = v.quantize(CENT)
    return cents if cents == v else v.normalize()


def _reject_float(v: Any) -> Any:
    # A float has already lost cents (0.1 + 0.2); money arrives as Decimal, int or str.
    if isinstance(v, float):
        raise ValueError("money must be a Decimal or a string, not a float")
    return v


_CURRENCY = re.compile(r"^[A-Za-z]{3}$")


def _check_currency(v: str) -> str:
    if not _CURRENCY.match(v):
        raise ValueError(f"currency {v!r} is not a 3-letter ISO 4217 code")
    return v.upper()


Money = Annotated[Decimal, BeforeValidator(_reject_float), AfterValidator(_check_money)]
UnitPrice = Annotated[Decimal, BeforeValidator(_reject_float), AfterValidator(_check_unit_price)]
Day = Annotated[date, AfterValidator(_check_date)]
Timestamp = Annotated[datetime, AfterValidator(_check_datetime)]
Currency = Annotated[str, AfterValidator(_check_currency)]
Short = Annotated[str, Field(max_length=500), AfterValidator(_no_nul)]
Ident = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_no_nul)]
Long = Annotated[str, Field(max_length=20_000), AfterValidator(_no_nul)]
PortalSlug = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")]
Count = Annotated[int, Field(ge=0, le=10_000_000)]


class Record(BaseModel):
    """Base for every record: strict shape, stripped strings, immutable."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        str_strip_whitespace=True,
        use_enum_values=False,
    )


class RawRecord(Record):
    raw: dict[str, Any] = Field(
        default_factory=dict, description="The payload as served, kept verbatim."
    )


# --------------------------------------------------------------------------- deductions


class DeductionLineRecord(Record):
    sku: Short = ""
    description: Short = ""
    quantity: int = Field(default=0, ge=-10_000_000, le=10_000_000)
    unit_cost: UnitPrice | None = None
    amount: Money


class DeductionRecord(RawRecord):
    """One deduction (claim, chargeback, debit memo) as a retailer portal shows it.

    ``amount`` is positive when the supplier was paid that much less; reversals
    (Amazon's "SCR") come as negative amounts.
    """

    portal: PortalSlug
    external_id: Ident = Field(description="The portal's claim / document number.")
    account: Short | None = Field(default=None, description="The login it was seen with.")
    invoice_number: Short = ""
    po_number: Short = ""
    location: Short = ""
    amount: Money
    currency: Currency = "USD"
    reason_code: Short = ""
    reason_text: Short = ""
    category: Category | None = None
    deduction_date: Day | None = None
    invoice_date: Day | None = None
    posted_date: Day | None = None
    status: Short = ""
    promo_id: Short | None = None
    carrier: Short | None = None
    pro_number: Short | None = None
    bol_number: Short | None = None
    memo: Long = ""
    lines: list[DeductionLineRecord] = Field(default_factory=list, max_length=2000)


# --------------------------------------------------------------------------- shipments


class ShipmentRecord(RawRecord):
    """A shipment and its proof of delivery as a carrier portal shows it."""

    carrier: PortalSlug
    pro_number: Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{3,32}$")]
    bol_number: Short = ""
    tracking_number: Short = ""
    po_numbers: list[Short] = Field(default_factory=list, max_length=200)
    shipper: Short = ""
    consignee: Short = ""
    consignee_address: Short = ""
    ship_date: Day | None = None
    delivery_date: Day | None = None
    pieces_shipped: Count | None = None
    pieces_delivered: Count | None = None
    weight_lb: Count | None = None
    exceptions: list[Short] = Field(default_factory=list, max_length=100)
    signer: Short = ""
    freight_terms: Literal["prepaid", "collect"] | None = None
    pod_status: PodStatus = PodStatus.unknown


# --------------------------------------------------------------------------- documents

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")


class DocumentRecord(Record):
    """Metadata of a document already written to the content-addressed vault.

    ``original_filename`` is what the portal called it: metadata only, never used
    to build a path (it may be hostile). ``vault_path`` is relative to the vault.
    """

    sha256: str
    size_bytes: int = Field(ge=0, le=2**40)
    media_type: Annotated[str, Field(max_length=127)] = "application/octet-stream"
    original_filename: Annotated[str, Field(max_length=1000), AfterValidator(_no_nul)] = ""
    vault_path: Annotated[str, Field(min_length=1, max_length=1000)]
    extraction_status: ExtractionStatus = ExtractionStatus.pending
    extraction_reason: Short = ""
    needs_ocr: bool = False
    extracted_text_length: Count | None = None
    extracted_fields: dict[str, Any] = Field(default_factory=dict)

    @field_validator("sha256")
    @classmethod
    def _sha(cls, v: str) -> str:
        v = v.lower()
        if not _SHA256.match(v):
            raise ValueError("sha256 must be 64 hex characters")
        return v

    @field_validator("media_type")
    @classmethod
    def _media(cls, v: str) -> str:
        v = v.split(";", 1)[0].strip().lower()
        if not _MEDIA_TYPE.match(v):
            raise ValueError(f"media type {v!r} is not type/subtype")
        return v

    @field_validator("vault_path")
    @classmethod
    def _relative(cls, v: str) -> str:
        parts = v.replace("\\", "/").split("/")
        if v.startswith(("/", "\\")) or ".." in parts or _NUL in v or ":" in parts[0]:
            raise ValueError("vault_path must be a relative path inside the vault")
        return v


# --------------------------------------------------------------------------- disputes


class DisputeRecord(Record):
    """A dispute the fleet files (or found filed) on a portal.

    ``idempotency_key`` is chosen before the first attempt and never changes: it is
    what makes filing exactly-once across retries and crashes.
    """

    portal: PortalSlug
    deduction_external_id: Ident
    idempotency_key: Annotated[str, Field(min_length=8, max_length=128)]
    dispute_number: Short | None = None
    status: Short = "draft"
    amount: Money
    currency: Currency = "USD"
    filed_at: Timestamp | None = None
    filed_on: date | None = None  # the fleet's business day of filing
    attempts: int = Field(default=0, ge=0, le=1000)
    hold_reason: Annotated[str, Field(max_length=500)] | None = None
    """Why the robot left the dispute to a person (None: it may file it)."""
    packet: dict[str, Any] | None = None
    """What was sent (reason, text digest, attachments with sizes and sha256)."""
    recovered_amount: Money | None = None
    """What came back once the portal decided (None: not decided)."""
    decided_on: date | None = None
    """The fleet's business day it first saw the portal's decision."""
    level: int = Field(default=1, ge=1, le=2)
    """1: the dispute; 2: the appeal of its denial (set when created, never changed)."""


# --------------------------------------------------------------------------- ERP


class ErpInvoiceLineRecord(Record):
    sku: Short
    description: Short = ""
    quantity: int = Field(ge=-10_000_000, le=10_000_000)
    unit_price: UnitPrice
    amount: Money


class ErpInvoiceRecord(RawRecord):
    invoice_number: Ident
    customer: Ident
    po_number: Short = ""
    invoice_date: Day
    due_date: Day | None = None
    ship_to: Short = ""
    currency: Currency = "USD"
    total: Money
    lines: list[ErpInvoiceLineRecord] = Field(default_factory=list, max_length=5000)


class ErpPromotionRecord(RawRecord):
    promo_id: Ident
    customer: Ident
    description: Short = ""
    skus: list[Short] = Field(default_factory=list, max_length=5000)
    start_date: Day
    end_date: Day
    rate_per_unit: UnitPrice
    max_amount: Money | None = None

    @model_validator(mode="after")
    def _ordered(self) -> ErpPromotionRecord:
        if self.end_date < self.start_date:
            raise ValueError(
                f"promotion ends ({self.end_date}) before it starts ({self.start_date})"
            )
        return self


class ErpShipmentRecord(RawRecord):
    shipment_id: Ident
    invoice_number: Short = ""
    po_number: Short = ""
    customer: Short = ""
    carrier: Short = ""
    pro_number: Short = ""
    bol_number: Short = ""
    ship_date: Day | None = None
    cases_shipped: Count = 0
    freight_terms: Literal["prepaid", "collect"] | None = None


Qualifier = Annotated[str, Field(max_length=3, pattern=r"^[A-Za-z0-9]*$")]


class RemittanceAdjustmentRecord(Record):
    reference: Short  # often a deduction id on some portal (X12 820 ADX04)
    reason_code: Short = ""
    amount: Money  # positive reduces the payment, whatever sign the sender wrote
    reference_qualifier: Qualifier = ""  # X12 820 ADX03 (what kind of number ADX04 is)


class RemittanceLineRecord(Record):
    """One remitted item. ``invoice_number`` is set only when the item is an
    invoice; other items (an X12 ``RMR*IK``, a loop-level adjustment holder)
    keep their number in ``reference`` and their X12 RMR01 in ``qualifier``."""

    invoice_number: Short
    invoice_amount: Money
    paid_amount: Money
    qualifier: Qualifier = ""
    reference: Short = ""
    adjustments: list[RemittanceAdjustmentRecord] = Field(default_factory=list, max_length=500)


class RemittanceRecord(RawRecord):
    remittance_id: Ident  # check or EFT trace number
    customer: Short
    payment_date: Day
    total_paid: Money
    currency: Currency = "USD"
    lines: list[RemittanceLineRecord] = Field(default_factory=list, max_length=20_000)


__all__ = [
    "ACTIVE_RETRIEVAL_STATUSES",
    "FINAL_DISPUTE_STATUSES",
    "MAX_AMOUNT",
    "MAX_FUTURE_DAYS",
    "MIN_DATE",
    "UNFILED_DISPUTE_STATUSES",
    "Category",
    "DeductionLineRecord",
    "DeductionRecord",
    "DisputeReason",
    "DisputeRecord",
    "DisputeStatus",
    "DocumentRecord",
    "ErpInvoiceLineRecord",
    "ErpInvoiceRecord",
    "ErpPromotionRecord",
    "ErpShipmentRecord",
    "ExtractionStatus",
    "LinkRole",
    "PodStatus",
    "PortalKind",
    "RemittanceAdjustmentRecord",
    "RemittanceLineRecord",
    "RemittanceRecord",
    "RetrievalStatus",
    "RunStatus",
    "ShipmentRecord",
    "UnitPrice",
    "Validity",
]
