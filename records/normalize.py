"""Turning what portals and documents print into typed values.

Portals print money as "$1,234.56", "1.234,56", "(1,234.56)" or "1234.56-",
dates as 09/03/2026, 03-SEP-2026 or 2026-09-03, and reason codes in their own
tables. Each portal's habits are data (records/data/portals/<portal>.json), so a
portal's change is a data change. Every parser raises NormalizationError with
the offending text (bounded) so a record can be quarantined with its reason.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

PORTAL_DATA = Path(__file__).parent / "data" / "portals"
MAX_AMOUNT = Decimal("1000000000000")  # anything larger is a parse error, not money
_CENT = Decimal("0.01")


class Category(StrEnum):
    """What every retailer's reason codes normalise to (DOMAIN.md)."""

    promotion = "promotion"
    pricing = "pricing"
    shortage = "shortage"
    damage = "damage"
    compliance_fine = "compliance_fine"
    return_unsaleable = "return_unsaleable"
    duplicate_post_audit = "duplicate_post_audit"
    other = "other"


class NormalizationError(ValueError):
    """A value that cannot be read; the message quotes it (shortened)."""


def _quote(text: object) -> str:
    s = str(text)
    return repr(s if len(s) <= 60 else s[:57] + "...")


# --------------------------------------------------------------------- money

_CURRENCY_SIGNS = {
    "$": "USD",
    "US$": "USD",
    "€": "EUR",
    "£": "GBP",
    "C$": "CAD",
    "CA$": "CAD",
    "₹": "INR",
    "Rs": "INR",
}
_CURRENCY_RE = re.compile(r"\b(USD|EUR|GBP|CAD|MXN|INR)\b", re.I)


def parse_currency(text: str, default: str = "USD") -> str:
    """The ISO code a money string names, or ``default``."""
    m = _CURRENCY_RE.search(text)
    if m:
        return m.group(1).upper()
    for sign in sorted(_CURRENCY_SIGNS, key=len, reverse=True):
        if sign in text:
            return _CURRENCY_SIGNS[sign]
    return default


def parse_amount(value: str | int | float | Decimal, *, decimal_comma: bool = False) -> Decimal:
    """A signed amount rounded to cents.

    Negative forms: "-12.50", "(12.50)", "12.50-" (SAP style), "12.50 CR".
    Separators: the last of "," and "." is the decimal point when both occur;
    a lone separator followed by exactly three digits is a thousands separator
    unless ``decimal_comma`` (the portal's own habit) says otherwise.
    """
    if isinstance(value, bool):
        raise NormalizationError(f"not an amount: {_quote(value)}")
    if isinstance(value, int | Decimal):
        return _bounded(Decimal(value), value)
    if isinstance(value, float):
        return _bounded(Decimal(repr(value)), value)
    raw = value
    s = unicodedata.normalize("NFKC", value).strip()
    if not s or len(s) > 64:
        raise NormalizationError(f"not an amount: {_quote(raw)}")
    negative = False
    if s.startswith("(") and s.endswith(")"):
        negative, s = True, s[1:-1].strip()
    upper = s.upper()
    if upper.endswith("CR"):
        negative, s = True, s[:-2].strip()
    if upper.endswith("DR"):
        s = s[:-2].strip()
    s = _CURRENCY_RE.sub("", s)
    s = re.sub(r"(US\$|C\$|CA\$|Rs\.?|[$€£₹])", "", s).strip()
    if s.endswith("-"):
        negative, s = True, s[:-1].strip()
    if s.startswith(("-", "\u2212")):
        negative, s = not negative, s[1:].strip()
    elif s.startswith("+"):
        s = s[1:].strip()
    s = s.replace(" ", "").replace("\u202f", "").replace("'", "")
    if not re.fullmatch(r"[0-9.,]+", s) or not re.search(r"[0-9]", s):
        raise NormalizationError(f"not an amount: {_quote(raw)}")
    s = _decimal_text(s, decimal_comma, raw)
    try:
        amount = Decimal(s)
    except InvalidOperation:
        raise NormalizationError(f"not an amount: {_quote(raw)}") from None
    return _bounded(-amount if negative else amount, raw)


def _decimal_text(s: str, decimal_comma: bool, raw: object) -> str:
    has_comma, has_dot = "," in s, "." in s
    if has_comma and has_dot:
        point = "," if s.rfind(",") > s.rfind(".") else "."
        thousands = "." if point == "," else ","
        int_part, _, frac = s.rpartition(point)
        if point in int_part:
            raise NormalizationError(f"not an amount: {_quote(raw)}")
        _check_groups(int_part, thousands, raw)
        return int_part.replace(thousands, "") + "." + frac
    sep = "," if has_comma else "." if has_dot else ""
    if not sep:
        return s
    parts = s.split(sep)
    if len(parts) > 2:  # "1,234,567" or "1.234.567": thousands only
        _check_groups(s, sep, raw)
        return s.replace(sep, "")
    int_part, frac = parts
    is_portal_point = (sep == ",") == decimal_comma
    if not is_portal_point and len(frac) == 3 and int_part:
        return int_part + frac  # "1,234" on a dot-decimal portal: a thousands separator
    return int_part + "." + frac


def _check_groups(int_part: str, sep: str, raw: object) -> None:
    groups = int_part.split(sep)
    if not groups[0] or len(groups[0]) > 3 or any(len(g) != 3 for g in groups[1:]):
        raise NormalizationError(f"not an amount (digit groups): {_quote(raw)}")


def _bounded(amount: Decimal, raw: object) -> Decimal:
    if not amount.is_finite() or abs(amount) >= MAX_AMOUNT:
        raise NormalizationError(f"amount out of range: {_quote(raw)}")
    return amount.quantize(_CENT, rounding=ROUND_HALF_UP)


# --------------------------------------------------------------------- dates

_MIN_DATE, _MAX_DATE = date(1990, 1, 1), date(2100, 12, 31)

# Month names as invoices from several countries print them (en, fr, de, nl, es).
_MONTHS: dict[str, int] = {}
for _n, _names in enumerate(
    (
        "january janvier januar januari enero jan janv jän",
        "february fevrier février februar februari febrero feb fev fév févr",
        "march mars märz maerz maart marzo mar mrt mär",
        "april avril abril apr avr",
        "may mai mei mayo",
        "june juin juni junio jun",
        "july juillet juli julio jul juil",
        "august aout août augustus agosto aug",
        "september septembre septiembre sep sept",
        "october octobre oktober octubre oct okt",
        "november novembre noviembre nov",
        "december decembre décembre dezember diciembre dec déc dez",
    ),
    start=1,
):
    for _name in _names.split():
        _MONTHS[_name] = _n

_ISO_RE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ][0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?)?", re.I)
_COMPACT_RE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_NUMERIC_RE = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{2}|\d{4})")
_DAY_MONTH_RE = re.compile(r"(\d{1,2})(?:st|nd|rd|th|er)?\.?[ -]([^\W\d_]+)\.?[ ,-]*(\d{4})")
_MONTH_DAY_RE = re.compile(r"([^\W\d_]+)\.? (\d{1,2})(?:st|nd|rd|th)? ?,? (\d{4})")


def parse_date(
    text: str | date | datetime,
    formats: tuple[str, ...] | list[str] = (),
    *,
    dayfirst: bool = False,
) -> date:
    """A date from the portal's own formats first, then common written forms.

    Day and month are never swapped on a guess: 28/11/2022 can only be
    day-first, 09/03/2026 is read month-first unless the source is known to be
    day-first (``dayfirst``, or a portal format list that says so).
    """
    if isinstance(text, datetime):
        return text.date()
    if isinstance(text, date):
        return text
    s = unicodedata.normalize("NFKC", text).strip()
    if not s or len(s) > 40:
        raise NormalizationError(f"not a date: {_quote(text)}")
    s = re.sub(r"\s+", " ", s)
    for fmt in formats:
        try:
            return _in_range(datetime.strptime(s.title() if "%b" in fmt else s, fmt).date(), text)
        except ValueError:
            continue
    d = _written_date(s.lower(), dayfirst)
    if d is None:
        raise NormalizationError(f"not a date: {_quote(text)}")
    return _in_range(d, text)


def _written_date(s: str, dayfirst: bool) -> date | None:
    try:
        if m := _ISO_RE.fullmatch(s):
            return date(int(m[1]), int(m[2]), int(m[3]))
        if m := _COMPACT_RE.fullmatch(s):
            return date(int(m[1]), int(m[2]), int(m[3]))
        if m := _NUMERIC_RE.fullmatch(s):
            a, b, y = int(m[1]), int(m[2]), int(m[3])
            y += 2000 if y < 100 else 0
            day_first = a > 12 or (dayfirst and b <= 12)
            return date(y, b, a) if day_first else date(y, a, b)
        if (m := _DAY_MONTH_RE.fullmatch(s)) and m[2] in _MONTHS:
            return date(int(m[3]), _MONTHS[m[2]], int(m[1]))
        if (m := _MONTH_DAY_RE.fullmatch(s)) and m[1] in _MONTHS:
            return date(int(m[3]), _MONTHS[m[1]], int(m[2]))
    except ValueError:
        return None
    return None


def _in_range(d: date, text: object) -> date:
    if not _MIN_DATE <= d <= _MAX_DATE:
        raise NormalizationError(f"date out of range: {_quote(text)}")
    return d


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
        self, reason_code: str, *, invoice_date: date, deduction_date: date
    ) -> date | None:
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
