"""What the matcher reads and what it says, as plain data.

The matcher works on a :class:`Snapshot` (deductions plus the supplier's and
carriers' records, indexed once) rather than on the database, so that one run
costs a handful of bulk reads and then linear work in memory, and so that the
bench can feed it synthetic data at scale. ``matching.snapshot`` builds one
from the store; nothing here knows about the fixture world.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from records.schemas import Validity
from store.extraction.labels import REVIEW_BELOW

ZERO = Decimal("0.00")
MIN_FIELD_CONFIDENCE = REVIEW_BELOW
"""A field read from a document decides nothing below this confidence (the
extraction pass sends such documents to review with the same threshold)."""
LINE_ROLES = ("line_detail", "backup")
"""Where a claim's lines may come from when the portal shows none, in order."""

VALID = Validity.valid
INVALID = Validity.invalid
PARTIAL = Validity.partial
NEEDS_REVIEW = Validity.needs_review
VALIDITIES = (VALID, PARTIAL, INVALID, NEEDS_REVIEW)


# --------------------------------------------------------------------------- inputs


@dataclass(slots=True)
class Line:
    sku: str
    description: str
    quantity: int
    unit_cost: Decimal | None
    amount: Decimal


@dataclass(slots=True)
class Doc:
    """A document linked to a deduction: its role, whether text was read, fields."""

    id: int
    role: str
    status: str  # extraction status
    fields: dict[str, Any]
    needs_ocr: bool = False
    name: str = ""  # the portal's file name, to name the document in a reason
    reason: str = ""  # why it was not read, or what in it is doubted

    @property
    def read(self) -> bool:
        return self.status in ("extracted", "partial")

    def field(self, *names: str) -> str | None:
        """The first of ``names`` read with confidence (at least
        :data:`MIN_FIELD_CONFIDENCE`); a doubted read is no read."""
        for name in names:
            value = self.fields.get(name)
            if isinstance(value, dict):
                if float(value.get("confidence", 1)) < MIN_FIELD_CONFIDENCE:
                    continue
                value = value.get("value")
            if value not in (None, ""):
                return str(value).strip()
        return None

    def doubted(self, *names: str) -> str | None:
        """The first of ``names`` that was read, but with too little confidence."""
        for name in names:
            value = self.fields.get(name)
            if (
                isinstance(value, dict)
                and value.get("value") not in (None, "")
                and float(value.get("confidence", 1)) < MIN_FIELD_CONFIDENCE
            ):
                return name
        return None

    def lines(self) -> list[dict[str, Any]]:
        value = self.fields.get("lines")
        return [ln for ln in value if isinstance(ln, dict)] if isinstance(value, list) else []

    def label(self) -> str:
        return f"{self.role.replace('_', ' ')} {self.name or f'document {self.id}'}"


@dataclass(slots=True)
class Ded:
    id: int
    portal: str
    external_id: str
    invoice_number: str
    amount: Decimal  # as the portal shows it now
    claimed_amount: Decimal  # as first seen (before the retailer's revisions)
    reason_code: str = ""
    reason_text: str = ""
    stored_category: str | None = None
    deduction_date: date | None = None
    invoice_date: date | None = None
    status: str = ""
    promo_id: str | None = None
    carrier: str | None = None
    pro_number: str | None = None
    bol_number: str | None = None
    memo: str = ""
    po_number: str = ""
    lines: list[Line] = field(default_factory=list)
    docs: list[Doc] = field(default_factory=list)
    lines_from: Doc | None = None  # None: the portal's own lines (or none)
    lines_doubt: str = ""  # why a document's lines were not used

    @property
    def ref(self) -> str:
        return f"{self.portal}:{self.external_id}"

    def take_document_lines(self) -> None:
        """When the portal shows no lines, the claim's lines from its documents: a
        line detail first, then the backup's table. Used only when every line was
        read with confidence and they add up to the amount claimed; otherwise
        ``lines_doubt`` says why (a person checks the document)."""
        if self.lines:
            return
        for role in LINE_ROLES:
            for doc in self.docs:
                if doc.role != role or not doc.read or not doc.lines():
                    continue
                lines, doubt = _document_lines(doc, self.claimed_amount)
                if lines:
                    self.lines, self.lines_from, self.lines_doubt = lines, doc, ""
                    return
                self.lines_doubt = self.lines_doubt or doubt

    def unread_line_source(self) -> Doc | None:
        """A document that should give the claim's lines but was not read."""
        for role in LINE_ROLES[:1]:
            for doc in self.docs:
                if doc.role == role and not doc.read:
                    return doc
        return None


def _document_lines(doc: Doc, claimed: Decimal) -> tuple[list[Line], str]:
    out: list[Line] = []
    for raw in doc.lines():
        try:
            confidence = float(raw.get("confidence", 1))
            line = Line(
                str(raw.get("sku") or ""),
                str(raw.get("description") or ""),
                int(raw["quantity"]),
                None if raw.get("unit_cost") in (None, "") else Decimal(str(raw["unit_cost"])),
                Decimal(str(raw["amount"])),
            )
        except (KeyError, TypeError, ValueError, ArithmeticError):
            return [], f"{doc.label()}: a line could not be read"
        if confidence < MIN_FIELD_CONFIDENCE:
            return [], f"{doc.label()}: lines read with low confidence ({doc.reason[:120]})"
        out.append(line)
    total = sum((ln.amount for ln in out), ZERO)
    if total != claimed:
        return [], f"{doc.label()}: its lines add up to {total}, the claim is {claimed}"
    return out, ""


@dataclass(slots=True)
class Invoice:
    id: int
    invoice_number: str
    customer: str
    invoice_date: date
    total: Decimal
    lines: list[tuple[str, int, Decimal]]  # sku, quantity, unit price
    po_number: str = ""

    def qty_by_sku(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for sku, qty, _ in self.lines:
            out[sku] += qty
        return out

    def price_by_sku(self) -> dict[str, Decimal]:
        return {sku: price for sku, _, price in self.lines}


@dataclass(slots=True)
class Promo:
    id: int
    promo_id: str
    customer: str
    skus: list[str]
    start_date: date
    end_date: date
    rate_per_unit: Decimal
    max_amount: Decimal | None = None


@dataclass(slots=True)
class ErpShip:
    id: int
    shipment_id: str
    invoice_number: str
    carrier: str
    pro_number: str
    bol_number: str
    cases_shipped: int
    freight_terms: str | None


@dataclass(slots=True)
class CarrierShip:
    id: int
    carrier: str
    pro_number: str
    bol_number: str
    delivery_date: date | None
    pieces_shipped: int | None
    pieces_delivered: int | None
    exceptions: list[str]
    freight_terms: str | None
    pod_status: str  # unknown | not_available | available | fetched
    signer: str = ""


@dataclass(slots=True)
class PaidLine:
    remittance_id: str
    payment_date: date
    invoice_number: str
    invoice_amount: Decimal
    paid_amount: Decimal


@dataclass(slots=True)
class Adjustment:
    remittance_id: str
    payment_date: date
    reference: str
    amount: Decimal


@dataclass
class Snapshot:
    """Everything one matching run reads, indexed once (linear in its size)."""

    deductions: list[Ded]
    invoices: list[Invoice] = field(default_factory=list)
    promotions: list[Promo] = field(default_factory=list)
    erp_shipments: list[ErpShip] = field(default_factory=list)
    carrier_shipments: list[CarrierShip] = field(default_factory=list)
    paid_lines: list[PaidLine] = field(default_factory=list)
    adjustments: list[Adjustment] = field(default_factory=list)
    overrides: dict[tuple[str, str, str], str] = field(default_factory=dict)
    carrier_portals: list[str] = field(default_factory=list)  # slugs of carrier portals

    def __post_init__(self) -> None:
        self.invoice_by_number: dict[str, list[Invoice]] = defaultdict(list)
        for inv in self.invoices:
            self.invoice_by_number[inv.invoice_number].append(inv)
        self.promo_by_id = {p.promo_id: p for p in self.promotions}
        self.promos_by_sku: dict[tuple[str, str], list[Promo]] = defaultdict(list)
        for p in self.promotions:
            for sku in p.skus:
                self.promos_by_sku[(p.customer, sku)].append(p)
        self.erp_ship_by_invoice: dict[str, list[ErpShip]] = defaultdict(list)
        self.erp_ship_by_pro: dict[str, ErpShip] = {}
        self.erp_ship_by_bol: dict[str, ErpShip] = {}
        for s in self.erp_shipments:
            self.erp_ship_by_invoice[s.invoice_number].append(s)
            if s.pro_number:
                self.erp_ship_by_pro[s.pro_number] = s
            if s.bol_number:
                self.erp_ship_by_bol[s.bol_number] = s
        self.carrier_by_pro: dict[tuple[str, str], CarrierShip] = {}
        self.carriers_by_pro: dict[str, list[CarrierShip]] = defaultdict(list)
        self.carrier_by_bol: dict[str, CarrierShip] = {}
        for c in self.carrier_shipments:
            self.carrier_by_pro[(c.carrier, c.pro_number)] = c
            self.carriers_by_pro[c.pro_number].append(c)
            if c.bol_number:
                self.carrier_by_bol[c.bol_number] = c
        self.carrier_slugs = sorted(
            {c.carrier for c in self.carrier_shipments} | set(self.carrier_portals)
        )
        self.paid_by_invoice: dict[str, list[PaidLine]] = defaultdict(list)
        for pl in self.paid_lines:
            self.paid_by_invoice[pl.invoice_number].append(pl)
        self.adjustments_by_ref: dict[str, list[Adjustment]] = defaultdict(list)
        for a in self.adjustments:
            self.adjustments_by_ref[a.reference].append(a)
        self.by_claim: dict[tuple[str, str, Decimal], list[Ded]] = defaultdict(list)
        for d in self.deductions:
            self.by_claim[(d.portal, d.invoice_number, d.claimed_amount)].append(d)


# --------------------------------------------------------------------------- output


@dataclass
class Verdict:
    """One deduction's verdict. Amounts are relative to the claimed amount (what
    the retailer first took); ``current_amount`` is what the portal shows now."""

    deduction_id: int
    ref: str
    portal: str
    external_id: str
    category: str
    category_source: str
    validity: str
    claimed_amount: Decimal
    current_amount: Decimal
    valid_amount: Decimal | None
    disputable_amount: Decimal | None
    rule: str
    reasons: list[str] = field(default_factory=list)
    evidence: list[dict[str, Any]] = field(default_factory=list)
    missing: list[dict[str, Any]] = field(default_factory=list)
    window_closes: date | None = None
    window_open: bool | None = None

    @property
    def outstanding_disputable(self) -> Decimal:
        """What is still worth disputing: the retailer may have repaid part already."""
        if self.valid_amount is None:
            return ZERO
        return max(ZERO, self.current_amount - self.valid_amount)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "portal": self.portal,
            "external_id": self.external_id,
            "category": self.category,
            "category_source": self.category_source,
            "validity": self.validity,
            "claimed_amount": str(self.claimed_amount),
            "current_amount": str(self.current_amount),
            "valid_amount": None if self.valid_amount is None else str(self.valid_amount),
            "disputable_amount": (
                None if self.disputable_amount is None else str(self.disputable_amount)
            ),
            "rule": self.rule,
            "reasons": list(self.reasons),
            "evidence": list(self.evidence),
            "missing": list(self.missing),
            "window_closes": self.window_closes.isoformat() if self.window_closes else None,
            "window_open": self.window_open,
        }


__all__ = [
    "INVALID",
    "LINE_ROLES",
    "MIN_FIELD_CONFIDENCE",
    "NEEDS_REVIEW",
    "PARTIAL",
    "VALID",
    "VALIDITIES",
    "ZERO",
    "Adjustment",
    "CarrierShip",
    "Ded",
    "Doc",
    "ErpShip",
    "Invoice",
    "Line",
    "PaidLine",
    "Promo",
    "Snapshot",
    "Verdict",
]
