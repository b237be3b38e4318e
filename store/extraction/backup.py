"""Fields from a retailer's claim / debit memo (backup): numbers, amount, reason,
dates, location, promotion, and its table of lines.

Besides where each value was found, three consistency checks (issue 15) lower
a read to :data:`~store.extraction.labels.CONF_DOUBTFUL` and name the problem
in :attr:`BackupFields.problems`, so the document goes to a person instead of
deciding anything at 0.95:

* a labelled amount printed without a decimal separator in a document whose
  other figures carry two decimals ("Amount: 31192": implied decimals?);
* a header amount that disagrees with the sum of its lines (then the lines
  are doubted too: one of the two is misread);
* an invoice date equal to the claim date when both were read from the same
  place, or one from a bare "Date" label (an accident of layout, not a fact).

A line of the table is trusted (:data:`LINE_CONSISTENT`) only when its
quantity times unit cost is its amount.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from records.parse import NormalizationError, document_currency, find_amount, parse_amount
from records.parse import uses_decimal_comma as _uses_decimal_comma
from store.extraction.labels import (
    CONF_DOUBTFUL,
    INVOICE_DATE,
    INVOICE_NO,
    PO,
    ExtractedField,
    Label,
    Read,
    amount_reader,
    best,
    date_reader,
    field_values,
    labels,
    prepare,
    prints_cents,
    read_code,
    read_ident,
    read_text,
    scan,
)

MAX_LINES = 500
LINE_CONSISTENT = 0.9  # quantity x unit cost = amount on the row
LINE_UNCHECKED = 0.6  # no unit cost printed, or the row's arithmetic disagrees


@dataclass(frozen=True)
class LineItem:
    sku: str
    description: str = ""
    quantity: int | None = None
    unit_cost: Decimal | None = None
    amount: Decimal | None = None
    confidence: float = LINE_UNCHECKED
    raw: str = ""  # the row as printed (bounded)


@dataclass
class BackupFields:
    """A retailer's claim / debit memo."""

    claim_number: ExtractedField[str] | None = None
    invoice_number: ExtractedField[str] | None = None
    po_number: ExtractedField[str] | None = None
    amount: ExtractedField[Decimal] | None = None
    currency: ExtractedField[str] | None = None
    reason_code: ExtractedField[str] | None = None
    reason_text: ExtractedField[str] | None = None
    claim_date: ExtractedField[date] | None = None
    invoice_date: ExtractedField[date] | None = None
    location: ExtractedField[str] | None = None  # store or DC
    promotion_number: ExtractedField[str] | None = None  # on promotion claims and deal sheets
    lines: list[LineItem] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what a person should check

    def values(self) -> dict[str, Any]:
        """Plain values (no confidences), e.g. to compare or persist."""
        return field_values(self)


CLAIM = labels(
    [
        (r"\bclaim\s*(?:number|no\.?|num|#|id)", 9),
        (r"\bdeduction\s*(?:number|no\.?|#|id)", 9),
        (r"\bdebit\s*memo\s*(?:number|no\.?|#)?", 8),
        (r"\bchargeback\s*(?:number|no\.?|#)", 8),
        (r"\bdocument\s*(?:number|no\.?|#)", 6),
        (r"\bclaim\b", 4),
        (r"\bmemo\s*(?:number|no\.?|#)", 6),
    ]
)
PROMOTION = labels(
    [
        (r"\bpromotion\s*(?:number|no\.?|#|id)", 9),
        (r"\bpromo\s*(?:number|no\.?|#|id)", 9),
        (r"\bdeal\s*(?:number|no\.?|#|id)", 7),
    ]
)
AMOUNT = labels(
    [
        (r"\b(?:claim|deduction|chargeback|debit|net\s+claim|total\s+claim)\s*amount", 9),
        (r"\bamount\s*(?:deducted|claimed|due)", 9),
        (r"\btotal\s*(?:amount|deduction|claim)", 8),
        (r"(?<![\w ])amount\b", 6),
        (r"^\s*amount\b", 7),
        (r"\btotal\b", 4),
    ]
)
REASON = labels([(r"\breason\s*code", 9), (r"\bclaim\s*(?:type|code)", 7), (r"\breason\b", 5)])
REASON_TEXT = labels([(r"\breason\s*(?:description|text)", 9)])
CLAIM_DATE = labels(
    [
        (r"\b(?:claim|deduction|debit\s*memo|memo|chargeback)\s*date", 9),
        (r"\bdate\s*(?:of\s*claim|issued)", 8),
        (r"\bissue\s*date", 7),
        (r"(?:^|\s\s)date\b", 4),
    ]
)
LOCATION = labels(
    [
        (r"\bstore\s*/\s*DC\b", 9),
        (r"\bstore\s*(?:number|no\.?|#)", 8),
        (r"\bDC\s*(?:number|no\.?|#)", 8),
        (r"\bdistribution\s*center", 8),
        (r"\bstore\b", 6),
        (r"\bDC\b", 6),
        (r"\blocation\b", 6),
        (r"\bship\s*to\s*(?:store|location|DC)", 7),
    ]
)


def _read_location(rest: str, label: Label) -> Read[str] | None:
    m = re.match(
        r"(?P<v>(?:(?:store|DC|#)\s*)?[A-Z0-9][\w\-#/ ]{0,40}?)(?=\s{2,}|\s*$)", rest, re.IGNORECASE
    )
    if not m or not any(c.isdigit() for c in m.group("v")):
        return None
    return Read(m.group("v").strip(), m.group(0))


def _read_reason(rest: str, label: Label) -> Read[str] | None:
    got = read_code(rest, label)
    if got and len(got.value) <= 12:
        return got
    return None


_LINE_HEADER = re.compile(
    r"\b(?:sku|item|upc|product|article)\b.*\b(?:qty|quantity|units?|cases?)\b.*\bamount\b",
    re.IGNORECASE,
)
_LINE_ROW = re.compile(
    r"^\s*(?P<sku>[A-Z0-9][A-Z0-9\-_.]{1,29})\s+(?P<desc>.*?)\s+(?P<qty>-?\d{1,7})\s+"
    r"(?P<unit>[-(]?[$€£]?\s?[\d,]+\.\d{2,4}\)?)\s+(?P<amt>[-(]?[$€£]?\s?[\d,]+\.\d{2}\)?-?)\s*$",
    re.IGNORECASE,
)
_LINE_ROW_NO_UNIT = re.compile(
    r"^\s*(?P<sku>[A-Z0-9][A-Z0-9\-_.]{1,29})\s+(?P<desc>.*?)\s+(?P<qty>-?\d{1,7})\s+"
    r"(?P<amt>[-(]?[$€£]?\s?[\d,]+\.\d{2}\)?-?)\s*$",
    re.IGNORECASE,
)


def _unit_cost(text: str | None) -> Decimal | None:
    if not text:
        return None
    try:
        return parse_amount(text, places=4)
    except NormalizationError:
        return None


def line_confidence(quantity: int | None, unit: Decimal | None, amount: Decimal | None) -> float:
    """:data:`LINE_CONSISTENT` when quantity x unit cost is the amount, to the cent."""
    if quantity is None or unit is None or amount is None:
        return LINE_UNCHECKED
    return LINE_CONSISTENT if (unit * quantity).quantize(Decimal("0.01")) == amount else 0.5


def _line_items(lines: list[str]) -> list[LineItem]:
    items: list[LineItem] = []
    in_table = False
    for line in lines:
        if not in_table:
            in_table = bool(_LINE_HEADER.search(line))
            continue
        if not line.strip():
            if items:
                break
            continue
        if re.match(r"\s*(?:total|subtotal|grand total)\b", line, re.IGNORECASE):
            break
        m = _LINE_ROW.match(line) or _LINE_ROW_NO_UNIT.match(line)
        if not m:
            if items:
                break
            continue
        quantity = int(m["qty"])
        unit = _unit_cost(m.groupdict().get("unit"))
        amount = find_amount(m["amt"])
        items.append(
            LineItem(
                sku=m["sku"],
                description=re.sub(r"\s{2,}", " ", m["desc"]).strip()[:200],
                quantity=quantity,
                unit_cost=unit,
                amount=amount,
                confidence=line_confidence(quantity, unit, amount),
                raw=line.strip()[:300],
            )
        )
        if len(items) >= MAX_LINES:
            break
    return items


def _reason_text_after_code(lines: list[str]) -> ExtractedField[str] | None:
    """ "Reason Code: 426 - Shortage": the words after the code."""
    for i, line in enumerate(lines):
        m = re.search(
            r"reason\s*code\s*:?\s*\S+\s*[-–:]\s*(?P<t>[A-Za-z].{1,120}?)\s*$", line, re.IGNORECASE
        )
        if m:
            return ExtractedField(
                m["t"].strip(), 0.8, m.group(0)[:200], "Reason Code", (i, m.start("t"))
            )
    return None


def _check(out: BackupFields) -> None:
    """The consistency rules of the module doc; doubted reads are named in ``problems``."""
    if (
        out.amount is not None
        and out.amount.confidence <= CONF_DOUBTFUL
        and not re.search(r"\d[.,]\d", out.amount.raw)
    ):
        out.problems.append(
            f"amount {out.amount.raw!r} printed without decimals where the document's "
            "other figures carry two: implied decimals?"
        )
    if out.amount is not None and out.lines and all(ln.amount is not None for ln in out.lines):
        total = sum((ln.amount for ln in out.lines if ln.amount is not None), Decimal("0"))
        if total != out.amount.value:
            out.problems.append(
                f"amount {out.amount.value} disagrees with its {len(out.lines)} lines "
                f"(they add up to {total})"
            )
            out.amount = out.amount.doubted()
            out.lines = [
                LineItem(**{**ln.__dict__, "confidence": min(ln.confidence, CONF_DOUBTFUL)})
                for ln in out.lines
            ]
    inv, claim = out.invoice_date, out.claim_date
    if inv is not None and claim is not None and inv.value == claim.value:
        generic = {inv.label.lower(), claim.label.lower()} & {"date", "dated", "datum"}
        if inv.at == claim.at or generic:
            out.problems.append(
                f"invoice date {inv.value} is the claim date, read from "
                + ("the same place" if inv.at == claim.at else "a bare 'Date' label")
                + ": a layout accident?"
            )
            out.invoice_date = inv.doubted()


def extract_backup_fields(text: str, *, dayfirst: bool | None = None) -> BackupFields:
    """Read a retailer claim / debit memo. Never raises."""
    lines = prepare(text)
    joined = "\n".join(lines)
    decimal_comma = _uses_decimal_comma(joined)
    out = BackupFields()
    out.claim_number = best(scan(lines, CLAIM, read_ident))
    out.invoice_number = best(scan(lines, INVOICE_NO, read_ident))
    out.po_number = best(scan(lines, PO, read_ident))
    out.promotion_number = best(scan(lines, PROMOTION, read_ident))
    reader = amount_reader(
        decimal_comma, last=False, cents_expected=prints_cents(lines, decimal_comma)
    )
    out.amount = best(scan(lines, AMOUNT, reader))
    out.reason_code = best(scan(lines, REASON, _read_reason))
    reason_text = best(scan(lines, REASON_TEXT, read_text, below=False))
    if reason_text is None and out.reason_code is not None:
        reason_text = _reason_text_after_code(lines)
    out.reason_text = reason_text
    out.claim_date = best(scan(lines, CLAIM_DATE, date_reader(dayfirst)))
    out.invoice_date = best(scan(lines, INVOICE_DATE, date_reader(dayfirst)))
    if out.claim_date and out.invoice_date and out.claim_date.label.lower() == "date":
        # A bare "Date:" that is really the invoice date belongs to neither reliably.
        out.claim_date = out.claim_date.doubted()
    out.location = best(scan(lines, LOCATION, _read_location))
    cur = document_currency(joined)
    if cur:
        out.currency = ExtractedField(cur[0], 0.8 if cur[1] > 1 else 0.6, cur[0])
    out.lines = _line_items(lines)
    _check(out)
    return out


__all__ = [
    "LINE_CONSISTENT",
    "LINE_UNCHECKED",
    "BackupFields",
    "LineItem",
    "extract_backup_fields",
    "line_confidence",
]
