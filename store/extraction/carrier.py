"""Fields from a carrier's delivery receipt (POD) or bill of lading (BOL): PRO and
BOL numbers, parties, pieces shipped and delivered, exceptions noted at delivery
(never the printed terms every receipt carries), signer, dates, freight terms."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from store.extraction.labels import (
    PO,
    ExtractedField,
    Label,
    Read,
    best,
    cells,
    date_reader,
    field_values,
    labels,
    prepare,
    read_ident,
    read_int,
    scan,
)


@dataclass
class PodFields:
    """A carrier's delivery receipt (POD) or bill of lading (BOL)."""

    pro_number: ExtractedField[str] | None = None
    bol_number: ExtractedField[str] | None = None
    po_numbers: list[str] = field(default_factory=list)
    shipper: ExtractedField[str] | None = None
    consignee: ExtractedField[str] | None = None
    pieces_shipped: ExtractedField[int] | None = None
    pieces_delivered: ExtractedField[int] | None = None
    weight_lb: ExtractedField[int] | None = None
    exceptions: list[str] = field(default_factory=list)  # "SHORT 3 CS", "2 CS DAMAGED"
    signer: ExtractedField[str] | None = None
    ship_date: ExtractedField[date] | None = None
    delivery_date: ExtractedField[date] | None = None
    freight_terms: ExtractedField[str] | None = None  # prepaid | collect
    slc: bool = False  # "shipper load and count" printed on the document

    def values(self) -> dict[str, Any]:
        return field_values(self)

    @property
    def pieces_short(self) -> int | None:
        """Shipped minus delivered, when both were read."""
        if self.pieces_shipped and self.pieces_delivered:
            return self.pieces_shipped.value - self.pieces_delivered.value
        return None


_PRO = labels(
    [
        (r"\bPRO\s*(?:number|no\.?|num|#)", 9),
        (r"\bPRO\b(?=\s*:)", 8),
        (r"\bfreight\s*bill\s*(?:number|no\.?|#)", 7),
        (r"\bPRO\b", 5),
    ]
)
_BOL = labels(
    [
        (r"\bBOL\s*(?:number|no\.?|num|#)", 9),
        (r"\bbill\s*of\s*lading\s*(?:number|no\.?|#)", 9),
        (r"\bB/L\s*(?:number|no\.?|#)?", 7),
        (r"\bBOL\b(?=\s*:)", 8),
    ]
)
_SHIPPER = labels(
    [
        (r"\bshipper(?:\s*name)?\b(?!\W*s?\s*load)", 8),
        (r"\bship\s*from\b", 7),
        (r"\bconsignor\b", 6),
    ]
)
_CONSIGNEE = labels(
    [
        (r"\bconsignee(?:\s*name)?\b(?!\s*signature)", 8),
        (r"\bship\s*to\b", 7),
        (r"\bdeliver\s*to\b", 6),
    ]
)
_PIECES_SHIPPED = labels(
    [
        (r"\bpieces\s*shipped", 9),
        (r"\b(?:pcs|pieces|cartons|cases)\s*(?:tendered|billed)", 8),
        (r"\bshipped\s*(?:pieces|pcs|cartons|cases|qty|quantity)", 8),
        (r"\btotal\s*pieces", 6),
        (r"\bhandling\s*units", 5),
        (r"\bpieces\b(?!\s*delivered)", 4),
    ]
)
_PIECES_DELIVERED = labels(
    [
        (r"\bpieces\s*delivered", 9),
        (r"\bdelivered\s*(?:pieces|pcs|cartons|cases|qty|quantity)", 8),
        (r"\b(?:pcs|pieces|cartons|cases)\s*received", 8),
        (r"\breceived\s*(?:pieces|pcs|qty)", 7),
    ]
)
_WEIGHT = labels([(r"\b(?:total\s*)?weight(?:\s*\(?lbs?\)?)?", 7)])
_SIGNER = labels(
    [
        (r"\bsigned\s*by\b", 9),
        (r"\bsigned\b", 8),
        (r"\breceived\s*by\b", 8),
        (r"\bconsignee\s*signature\b", 7),
        (r"\bsignature\b", 6),
        (r"\bprint(?:ed)?\s*name\b", 6),
    ]
)
_DELIVERY_DATE = labels(
    [
        (r"\bdelivery\s*date", 9),
        (r"\bdate\s*delivered", 9),
        (r"\bdelivered\s*(?:on)?(?=\s*:)", 8),
    ]
)
_SHIP_DATE = labels(
    [
        (r"\bship\s*date", 9),
        (r"\bpick\s*-?\s*up\s*date", 8),
        (r"\bdate\s*shipped", 9),
    ]
)
_FREIGHT_TERMS = re.compile(r"\b(prepaid|collect|third[\s-]*party)\b", re.IGNORECASE)
_UNIT = r"(?:CS|CASES?|CTNS?|CARTONS?|PCS|PIECES|PLTS?|PALLETS?|UNITS?|EA)"
_EXCEPTION_PATTERNS = [
    re.compile(rf"\bSHORT(?:AGE)?\s*:?\s*\d{{1,6}}\s*{_UNIT}\b", re.IGNORECASE),
    re.compile(
        rf"\b\d{{1,6}}\s*{_UNIT}\s+(?:DAMAGED|DMG|SHORT|OVER|REFUSED|CRUSHED|WET|MISSING)\b",
        re.IGNORECASE,
    ),
    re.compile(
        rf"\b(?:DAMAGED|DMG|OVER|REFUSED|CRUSHED|MISSING)\s*:?\s*\d{{1,6}}\s*{_UNIT}\b",
        re.IGNORECASE,
    ),
    re.compile(
        r"\b(?:REFUSED|CONCEALED\s+DAMAGE|SUBJECT\s+TO\s+COUNT|UNABLE\s+TO\s+COUNT)\b",
        re.IGNORECASE,
    ),
]
_EXCEPTION_LABEL = re.compile(
    r"\b(?:exceptions?|notes?|remarks?|OS&D|OS\s*&\s*D)\s*:\s*(?P<t>.+)$", re.IGNORECASE
)
# Printed terms on every receipt ("Concealed damage must be reported within 5
# days", "received in apparent good order except as noted") are not notes made
# by the consignee: reading them as exceptions would make every POD look damaged.
_BOILERPLATE = re.compile(
    r"must be reported|except as noted|received the above|subject to (?:the )?"
    r"(?:terms|conditions|tariff)|to be reported within|claims? must be filed",
    re.IGNORECASE,
)
_NO_EXCEPTION = re.compile(r"^\s*(?:none|n/?a|no\s+exceptions?|clean|-+)\s*$", re.IGNORECASE)


def _read_name(rest: str, label: Label) -> Read[str] | None:
    row = cells(rest)
    if not row:
        return None
    value = row[0][2].strip(" :;,")
    if not value or not any(c.isalpha() for c in value) or len(value) > 120:
        return None
    return Read(value, value)


def _read_signer(rest: str, label: Label) -> Read[str] | None:
    got = _read_name(rest, label)
    if not got:
        return None
    value = re.split(
        r"\s+(?:on|at|date)\b|\s+\d{1,4}[/-]", got.value, maxsplit=1, flags=re.IGNORECASE
    )[0].strip(" ,;")
    if not value or value.lower() in {"by", "date", "x", "n/a", "none"} or "_" * 3 in value:
        return None
    return Read(value, got.raw)


def extract_pod_fields(text: str, *, dayfirst: bool | None = None) -> PodFields:
    """Read a delivery receipt or bill of lading. Never raises."""
    lines = prepare(text)
    out = PodFields()
    out.pro_number = best(scan(lines, _PRO, read_ident))
    out.bol_number = best(scan(lines, _BOL, read_ident))
    out.po_numbers = sorted({h.value for h in scan(lines, PO, read_ident)})
    out.shipper = best(scan(lines, _SHIPPER, _read_name))
    out.consignee = best(scan(lines, _CONSIGNEE, _read_name))
    out.pieces_shipped = best(scan(lines, _PIECES_SHIPPED, read_int))
    out.pieces_delivered = best(scan(lines, _PIECES_DELIVERED, read_int))
    out.weight_lb = best(scan(lines, _WEIGHT, read_int))
    out.signer = best(scan(lines, _SIGNER, _read_signer, below=False))
    out.delivery_date = best(scan(lines, _DELIVERY_DATE, date_reader(dayfirst)))
    out.ship_date = best(scan(lines, _SHIP_DATE, date_reader(dayfirst)))
    exceptions: list[str] = []
    seen: set[str] = set()

    def add(item: str) -> None:
        norm = re.sub(r"\s+", " ", item.strip().upper())[:120]
        if norm and norm not in seen and not _NO_EXCEPTION.match(norm):
            seen.add(norm)
            exceptions.append(norm)

    notes = [line for line in lines if not _BOILERPLATE.search(line)]
    for line in notes:
        for pattern in _EXCEPTION_PATTERNS:
            for m in pattern.finditer(line):
                add(m.group(0))
    if not exceptions:
        for line in notes:
            label = _EXCEPTION_LABEL.search(line)
            if label:
                for part in re.split(r"[;,]", label["t"]):
                    add(part)
    out.exceptions = exceptions
    joined = "\n".join(lines)
    terms = _FREIGHT_TERMS.search(joined)
    if terms:
        word = terms.group(1).lower()
        out.freight_terms = ExtractedField(
            "third_party" if word.startswith("third") else word, 0.7, terms.group(0)
        )
    out.slc = bool(
        re.search(r"shipper\W*s?\s*load\s*(?:and|&)\s*count|\bSLC\b", joined, re.IGNORECASE)
    )
    return out


__all__ = ["PodFields", "extract_pod_fields"]
