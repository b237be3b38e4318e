"""Reading X12 elements into exact values, or refusing them.

X12 writes numbers two ways. ``N2`` elements (BCD04, CDD04: data element 610)
carry two *implied* decimals: ``31192`` is 311.92. ``R`` elements (BPR02, RMR04,
ADX01, CDD07, CDD11) write the decimal point when there is one: ``7.3445``.
Both become ``Decimal`` from their digits only (never a float), and a value
with more decimals than the fleet keeps for that field is refused, never
rounded. Every refusal names the element (``CDD11``) and where it is.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from pydantic import ValidationError

from store.x12.envelope import Segment, Transaction, X12Error

_IMPLIED = re.compile(r"^(-?)(\d{1,18})$")
_WRITTEN = re.compile(r"^([+-]?)(\d{0,18})(?:\.(\d{0,18}))?$")
_DATE8 = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_DATE6 = re.compile(r"^(\d{2})(\d{2})(\d{2})$")


def _shown(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:37] + "...")


def implied(tx: Transaction, seg: Segment, n: int, places: int = 2) -> Decimal:
    """An ``N2``-style element: digits with ``places`` implied decimals
    (``31192`` -> 311.92, ``-500`` -> -5.00). A written decimal point is read
    as written when it has no more than ``places`` decimals (``311.92``)."""
    text = seg.el(n)
    if not text:
        raise tx.error(seg, n, f"{seg.name(n)} is empty; an amount is required")
    m = _IMPLIED.match(text)
    if m:
        return Decimal(f"{m[1]}{m[2]}").scaleb(-places)
    if "." in text:
        return written(tx, seg, n, places)
    raise tx.error(
        seg, n, f"{_shown(text)} is not a number with {places} implied decimals (digits only)"
    )


def written(tx: Transaction, seg: Segment, n: int, places: int = 2) -> Decimal:
    """An ``R``-style element: an optional sign, digits and an optional decimal
    point (``1034.56``, ``-50``, ``.5``); more than ``places`` decimals is refused."""
    text = seg.el(n)
    m = _WRITTEN.match(text)
    if not text or not m or not (m[2] or m[3]):
        raise tx.error(seg, n, f"{_shown(text)} is not a decimal number")
    decimals = (m[3] or "").rstrip("0")
    if len(decimals) > places:
        raise tx.error(
            seg,
            n,
            f"{_shown(text)} has {len(decimals)} decimals; the fleet keeps {places} for "
            f"{seg.name(n)}: refused, not rounded",
        )
    return Decimal(f"{m[1]}{m[2] or '0'}.{m[3] or '0'}")


def optional_written(tx: Transaction, seg: Segment, n: int, places: int = 2) -> Decimal | None:
    return written(tx, seg, n, places) if seg.el(n) else None


def whole(tx: Transaction, seg: Segment, n: int) -> int:
    """A quantity the store keeps as a whole number (``12``, ``12.0``)."""
    value = written(tx, seg, n, places=6)
    if value != value.to_integral_value():
        raise tx.error(seg, n, f"{_shown(seg.el(n))} is not a whole quantity")
    return int(value)


def x12_date(tx: Transaction, seg: Segment, n: int) -> date:
    """CCYYMMDD, or YYMMDD (4010 headers) read as 20YY."""
    text = seg.el(n)
    m = _DATE8.match(text) or _DATE6.match(text)
    if not m:
        raise tx.error(seg, n, f"{_shown(text)} is not a date (CCYYMMDD)")
    year = int(m[1]) + (2000 if len(m[1]) == 2 else 0)
    try:
        return date(year, int(m[2]), int(m[3]))
    except ValueError:
        raise tx.error(seg, n, f"{_shown(text)} is not a calendar date") from None


def optional_date(tx: Transaction, seg: Segment, n: int) -> date | None:
    return x12_date(tx, seg, n) if seg.el(n) else None


def code(tx: Transaction, seg: Segment, n: int, allowed: tuple[str, ...]) -> str:
    """An ID element that must be one of ``allowed`` (``C``/``D``)."""
    value = seg.el(n)
    if value not in allowed:
        raise tx.error(
            seg, n, f"{_shown(value)} is not one of {', '.join(allowed)} for {seg.name(n)}"
        )
    return value


def references(segs: list[Segment]) -> list[dict[str, str]]:
    """REF/N9/DTM segments as the raw payload keeps them."""
    return [
        {"segment": s.id, "qualifier": s.el(1), "value": s.el(2), "description": s.el(3)}
        for s in segs
    ]


def parties(segs: list[Segment]) -> list[dict[str, str]]:
    """N1 segments as the raw payload keeps them (N104 is a GLN when N103 is UL)."""
    return [
        {"entity": p.el(1), "name": p.el(2), "id_qualifier": p.el(3), "id": p.el(4)} for p in segs
    ]


def explain(exc: ValidationError) -> str:
    """A record's validation failure as one line (field: message)."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'record'}: {e['msg']}" for e in exc.errors()[:3]
    )


__all__ = [
    "X12Error",
    "code",
    "explain",
    "implied",
    "optional_date",
    "optional_written",
    "parties",
    "references",
    "whole",
    "written",
    "x12_date",
]
