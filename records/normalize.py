"""Turning what portals print into typed values, and each portal's habits.

Portals print money as "$1,234.56", "1.234,56", "(1,234.56)" or "1234.56-",
dates as 09/03/2026, 03-SEP-2026 or 2026-09-03, and reason codes in their own
tables. Amounts, dates and currencies are read by the one parser in
:mod:`records.parse` (re-exported here: ``parse_amount``, ``parse_date``,
``parse_currency``, ``NormalizationError``); this module adds date-times, text,
locations, customers and the portal rules. Each portal's habits are data
(records/data/portals/<portal>.json), so a portal's change is a data change.
Every parser raises NormalizationError with the offending text (bounded) so a
record can be quarantined with its reason.
"""

from __future__ import annotations

import datetime as _dt  # the class below has a method named date
import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from records.parse import (
    NormalizationError,
    parse_amount,
    parse_currency,
    parse_date,
)
from records.parse import quote as _quote
from records.schemas import Category

PORTAL_DATA = Path(__file__).parent / "data" / "portals"


# Amounts, dates and currencies: one parser for portals and documents (records/parse.py).


def parse_datetime(text: str, tz: str = "UTC") -> datetime:
    """An aware UTC datetime; naive text is read in the portal's own time zone."""
    s = text.strip()
    if len(s) > 40:
        raise NormalizationError(f"not a date and time: {_quote(text)}")
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        for fmt in ("%m/%d/%Y %I:%M %p", "%m/%d/%Y %H:%M", "%d-%b-%Y %H:%M", "%Y-%m-%d %H:%M"):
            try:
                dt = datetime.strptime(s.upper() if "%p" in fmt else s.title(), fmt)
                break
            except ValueError:
                continue
        else:
            raise NormalizationError(f"not a date and time: {_quote(text)}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=ZoneInfo(tz))
    return dt.astimezone(UTC)


# --------------------------------------------------------------------- text

_SPACE_RE = re.compile(r"\s+")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(text: str | None, *, max_length: int = 500) -> str:
    """NFC, control characters out, whitespace folded, bounded."""
    if not text:
        return ""
    s = _CONTROL_RE.sub("", unicodedata.normalize("NFC", text))
    s = _SPACE_RE.sub(" ", s).strip()
    return s[:max_length]


_LOCATION_RE = re.compile(
    r"^(?P<kind>DC|D\.C\.|STORE|STR|ST|CLUB|WAREHOUSE|WH)\s*#?\s*(?P<num>\w+)$", re.I
)
_LOCATION_KIND = {
    "d.c.": "DC",
    "dc": "DC",
    "store": "Store",
    "str": "Store",
    "st": "Store",
    "club": "Club",
    "warehouse": "DC",
    "wh": "DC",
}


def normalize_location(text: str | None) -> str:
    """ "dc #6094", "D.C. 6094" -> "DC 6094"; "STORE 0412" -> "Store 0412"; else cleaned text."""
    s = clean_text(text, max_length=120)
    m = _LOCATION_RE.match(s)
    if not m:
        return s
    return f"{_LOCATION_KIND[m.group('kind').lower()]} {m.group('num').upper()}"


def normalize_customer(text: str | None) -> str:
    """A retailer name comparable across sources: cleaned, legal suffixes off, upper case."""
    s = clean_text(text, max_length=200).upper()
    s = re.sub(r"[.,]", "", s)
    s = re.sub(r"\b(INC|INCORPORATED|CORP|CORPORATION|CO|LLC|LTD|STORES?)\b", "", s)
    return _SPACE_RE.sub(" ", s).strip()


# --------------------------------------------------------------------- portal rules


@dataclass(frozen=True)
class ReasonCodeRule:
    code: str
    text: str
    category: Category
    window_days: int
    window_anchor: str  # "invoice_date" | "deduction_date"


@dataclass(frozen=True)
class PortalRules:
    """One portal's habits as data: date formats, time zone, reason codes."""

    portal: str
    date_formats: tuple[str, ...]
    timezone: str
    decimal_comma: bool
    reason_codes: dict[str, ReasonCodeRule]
    closed_statuses: frozenset[str] = frozenset()
    """The portal's words for a claim nothing more happens to (case-folded).
    Every other status is open: a sync re-reads open claims for changes."""

    def is_open(self, status: str) -> bool:
        return clean_text(status).casefold() not in self.closed_statuses

    def amount(self, text: str | int | float | Decimal) -> Decimal:
        return parse_amount(text, decimal_comma=self.decimal_comma)

    def date(self, text: str | date) -> date:
        return parse_date(text, self.date_formats)

    def category(self, reason_code: str | None, reason_text: str = "") -> Category:
        """From the code table first, then the words; ``other`` when neither says."""
        code = (reason_code or "").strip()
        rule = self.reason_codes.get(code) or self.reason_codes.get(code.lstrip("0"))
        if rule is not None:
            return rule.category
        return category_from_text(reason_text)

    def window_closes(
        self, reason_code: str, *, invoice_date: _dt.date, deduction_date: _dt.date
    ) -> _dt.date | None:
        rule = self.reason_codes.get(reason_code)
        if rule is None:
            return None
        anchor = invoice_date if rule.window_anchor == "invoice_date" else deduction_date
        return anchor + timedelta(days=rule.window_days)


@cache
def portal_rules(portal: str) -> PortalRules:
    """The rules for a portal, read once from its data file."""
    if not re.fullmatch(r"[a-z0-9_]{1,40}", portal):
        raise NormalizationError(f"not a portal name: {_quote(portal)}")
    path = PORTAL_DATA / f"{portal}.json"
    if not path.is_file():
        raise NormalizationError(f"no rules for portal {portal!r} (expected {path})")
    raw = json.loads(path.read_text(encoding="utf-8"))
    codes = {
        code: ReasonCodeRule(
            code,
            v["text"],
            Category(v["category"]),
            int(v["window_days"]),
            v.get("window_anchor", "deduction_date"),
        )
        for code, v in raw.get("reason_codes", {}).items()
    }
    return PortalRules(
        portal,
        tuple(raw.get("date_formats", ())),
        raw.get("timezone", "UTC"),
        bool(raw.get("decimal_comma", False)),
        codes,
        frozenset(clean_text(x).casefold() for x in raw.get("closed_statuses", ())),
    )


_TEXT_RULES: tuple[tuple[Category, tuple[str, ...]], ...] = (
    (Category.duplicate_post_audit, ("duplicate", "post audit", "post-audit", "overpayment")),
    (
        Category.compliance_fine,
        ("compliance", "fine", "otif", "late shipment", "asn", "label", "edi non"),
    ),
    (Category.return_unsaleable, ("return", "unsaleable", "reclamation", "defective", "rtv")),
    (Category.damage, ("damage", "damaged", "concealed damage")),
    (Category.shortage, ("short", "shortage", "not received", "not shipped", "overship")),
    (
        Category.promotion,
        (
            "promo",
            "allowance",
            "co-op",
            "coop",
            "markdown",
            "scan",
            "deal",
            "advertising",
            "pickup",
        ),
    ),
    (Category.pricing, ("price", "pricing", "cost", "overcharge", "extended", "substitution")),
)


def category_from_text(text: str) -> Category:
    """Keywords, most specific first; ``other`` when nothing matches."""
    t = clean_text(text).lower()
    for category, words in _TEXT_RULES:
        if any(re.search(rf"\b{re.escape(w)}", t) for w in words):
            return category
    return Category.other


__all__ = [
    "Category",
    "NormalizationError",
    "PortalRules",
    "ReasonCodeRule",
    "category_from_text",
    "clean_text",
    "normalize_customer",
    "normalize_location",
    "parse_amount",
    "parse_currency",
    "parse_date",
    "parse_datetime",
    "portal_rules",
]
