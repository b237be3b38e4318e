"""Amounts, dates and currencies as portals and documents print them: one parser.

Two forms share one set of rules, so a figure never reads one way in a portal
cell and another way in a PDF:

* **strict** (:func:`parse_amount`, :func:`parse_date`, :func:`parse_currency`):
  the whole text is one value; anything else raises :class:`NormalizationError`
  quoting the text (bounded), so a record can be quarantined with its reason.
  For portal cells, ERP files, form fields.
* **find in text** (:func:`find_amounts`, :func:`find_amount`, :func:`find_dates`,
  :func:`find_date`, :func:`document_currency`): every value in free text (a
  PDF's text layer), each with the raw text and where it was found. Never
  raises, whatever the input; reads at most :data:`MAX_FIND_CHARS`.

The rules:

* **Amounts** are exact ``Decimal``\\ s, never floats, never rounded: a value
  with more decimal places than asked for (``places``, 2 by default) is
  refused (strict) or skipped (find), not rounded. Separators: where both
  ``,`` and ``.`` occur the later one is the decimal point and the other must
  group by threes; one separator repeated groups thousands; a lone separator
  is the decimal point when it is the source's own (``decimal_comma``), else a
  thousands separator only when exactly three digits follow ("1,234" is 1234
  on a dot-decimal source; "12,5" is 12.5 anywhere). Spaces, non-breaking and
  thin spaces and apostrophes group thousands. Negative: ``-1.00``,
  ``(1.00)``, ``1.00-`` (SAP), ``1.00 CR``. At most :data:`MAX_AMOUNT`.
* **Dates**: ISO ``2026-09-03``; numeric ``a/b/y``, ``a.b.y``, ``a-b-y`` with a
  four- or two-digit year (``00``-``69`` are 20xx, ``70``-``99`` 19xx); month
  names in English, French, German, Dutch and Spanish (``7. Mai 2014``,
  ``August 3 , 2014``, ``03-SEP-2026``, ``3 de marzo de 2024``). A numeric date
  whose day and month could swap is read day-first when ``dayfirst`` says so,
  else by its separator: ``.`` day-first (nobody writes month.day.year), ``/``
  and ``-`` month-first (the US habit of the portals this fleet reads); the
  find form marks such a read ``ambiguous`` so a caller can lower its trust.
  Only dates from :data:`MIN_DATE` to :data:`MAX_DATE` exist.
* **Currencies**: ISO codes (:data:`ISO_CODES`) and the signs in
  :data:`CURRENCY_SIGNS`, one table for both forms.

This is the bottom layer (``records``): no database, no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

MAX_AMOUNT = Decimal("1000000000000")  # anything this large is a parse error, not money
MAX_FIND_CHARS = 2_000_000  # find-in-text reads at most this much
MIN_DATE, MAX_DATE = date(1990, 1, 1), date(2100, 12, 31)


class NormalizationError(ValueError):
    """A value that cannot be read; the message quotes it (shortened)."""


def quote(text: object) -> str:
    """``text`` for an error message: repr'd, at most 60 characters."""
    s = str(text)
    return repr(s if len(s) <= 60 else s[:57] + "...")


# =============================================================================== currency

ISO_CODES = ("USD", "EUR", "GBP", "CAD", "MXN", "INR", "PLN")
CURRENCY_SIGNS = {
    "US$": "USD",
    "CA$": "CAD",
    "C$": "CAD",
    "$": "USD",
    "€": "EUR",
    "£": "GBP",
    "₹": "INR",
    "Rs.": "INR",
    "Rs": "INR",
    "zł": "PLN",
}
_SIGN_RE = "|".join(re.escape(s) for s in sorted(CURRENCY_SIGNS, key=len, reverse=True))
_CODE_RE = "|".join(ISO_CODES)
# A code or a sign as a token of its own ("Rs" not inside "Hrs", "USD" not inside "USDA").
_CURRENCY_RE = re.compile(rf"(?<![A-Za-z])(?:{_CODE_RE})(?![A-Za-z])|(?<![A-Za-z])(?:{_SIGN_RE})")
_CURRENCY_CI = re.compile(_CURRENCY_RE.pattern, re.IGNORECASE)


def currency_code(mark: str) -> str | None:
    """The ISO code for a code or sign as printed ("$", "eur", "Rs."), or None."""
    m = mark.strip()
    if m.upper() in ISO_CODES:
        return m.upper()
    for sign, code in CURRENCY_SIGNS.items():
        if m == sign or (sign[0].isalpha() and m.lower() == sign.lower()):
            return code
    return None


def parse_currency(text: str, default: str = "USD") -> str:
    """The currency a money string names (a code wins over a sign), or ``default``."""
    s = unicodedata.normalize("NFKC", text[:200])
    codes = [m.group(0) for m in _CURRENCY_CI.finditer(s)]
    for mark in codes:
        if mark.upper() in ISO_CODES:
            return mark.upper()
    for mark in codes:
        code = currency_code(mark)
        if code:
            return code
    return default


def document_currency(text: str) -> tuple[str, int] | None:
    """The currency a text names most often, with how often, or None."""
    counts: Counter[str] = Counter()
    for m in _CURRENCY_RE.finditer(unicodedata.normalize("NFKC", text[:MAX_FIND_CHARS])):
        code = currency_code(m.group(0))
        if code:
            counts[code] += 1
    return counts.most_common(1)[0] if counts else None


# =============================================================================== amounts


def _check_groups(int_part: str, sep: str) -> bool:
    groups = int_part.split(sep)
    return bool(groups[0]) and len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])


def _number(digits: str, decimal_comma: bool) -> Decimal | None:
    """The exact value of digits with separators, or None when they do not group.
    ``digits`` holds only 0-9 , . and the thousands spaces (see the module doc)."""
    s = re.sub(r"[ '\u00a0\u202f\u2009]", "", digits)
    if not s or not re.fullmatch(r"[0-9.,]+", s) or not s[0].isdigit():
        return None
    if "," in s and "." in s:
        point = "," if s.rfind(",") > s.rfind(".") else "."
        thousands = "." if point == "," else ","
        int_part, _, frac = s.rpartition(point)
        if point in int_part or not frac or not _check_groups(int_part, thousands):
            return None
        s = int_part.replace(thousands, "") + "." + frac
    elif "," in s or "." in s:
        sep = "," if "," in s else "."
        parts = s.split(sep)
        if len(parts) > 2:  # "1,234,567": thousands only
            if not _check_groups(s, sep):
                return None
            s = s.replace(sep, "")
        else:
            int_part, frac = parts
            if not frac:
                return None
            own_point = (sep == ",") == decimal_comma
            # "1,234" on a dot-decimal source groups thousands; "12,5" is 12.5 anywhere.
            s = int_part + frac if not own_point and len(frac) == 3 else int_part + "." + frac
    try:
        return Decimal(s)
    except InvalidOperation:  # pragma: no cover - the pattern above admits only numbers
        return None


def _exact(value: Decimal, places: int) -> Decimal | None:
    """``value`` with two decimals (or as many as it needs, up to ``places``) when
    that loses nothing, else None: 12.5 -> 12.50, 7.3445 -> 7.3445 (places 4)."""
    if not value.is_finite() or abs(value) >= MAX_AMOUNT:
        return None
    exponent = value.normalize().as_tuple().exponent
    needed = max(0, -exponent) if isinstance(exponent, int) else 0
    if needed > places:
        return None
    return value.quantize(Decimal(1).scaleb(-max(min(2, places), needed)))


def parse_amount(
    value: str | int | float | Decimal, *, decimal_comma: bool = False, places: int = 2
) -> Decimal:
    """A signed amount with ``places`` decimals, exactly as written, or NormalizationError.

    ``decimal_comma``: the source writes "1.234,56" (its lone "," is the point).
    More significant decimals than ``places`` are refused, never rounded.
    """
    if isinstance(value, bool):
        raise NormalizationError(f"not an amount: {quote(value)}")
    if isinstance(value, int | Decimal | float):
        number = Decimal(value) if not isinstance(value, float) else Decimal(repr(value))
        return _fixed(number, places, value)
    raw = value
    s = unicodedata.normalize("NFKC", value).strip()
    if not s or len(s) > 64:
        raise NormalizationError(f"not an amount: {quote(raw)}")
    marks = 0  # ways the text says "negative"; two of them would be a silent sign flip
    if s.startswith("(") and s.endswith(")"):
        marks, s = marks + 1, s[1:-1].strip()
    upper = s.upper()
    if upper.endswith("CR"):
        marks, s = marks + 1, s[:-2].strip()
    elif upper.endswith("DR"):
        s = s[:-2].strip()
    s = _CURRENCY_CI.sub("", s).strip()
    if s.endswith("-"):
        marks, s = marks + 1, s[:-1].strip()
    if s.startswith(("-", "\u2212")):
        marks, s = marks + 1, s[1:].strip()
    elif s.startswith("+"):
        s = s[1:].strip()
    if marks > 1:
        raise NormalizationError(f"two signs in one amount: {quote(raw)}")
    negative = marks == 1
    found = _number(s, decimal_comma)
    if found is None:
        raise NormalizationError(f"not an amount: {quote(raw)}")
    number = found
    return _fixed(-number if negative else number, places, raw)


def _fixed(number: Decimal, places: int, raw: object) -> Decimal:
    if not number.is_finite() or abs(number) >= MAX_AMOUNT:
        raise NormalizationError(f"amount out of range: {quote(raw)}")
    fixed = _exact(number, places)
    if fixed is None:
        raise NormalizationError(f"more than {places} decimal places: {quote(raw)}")
    return fixed


class FoundAmount(NamedTuple):
    """One amount found in text."""

    value: Decimal
    currency: str  # ISO code printed next to it, or ""
    raw: str
    start: int
    end: int
    decimals: int  # digits printed after the decimal point (0: none printed)


_MONEY = re.compile(
    r"(?P<neg1>[-−–(])?\s?"
    rf"(?:(?<![A-Za-z])(?P<cur1>{_SIGN_RE}|{_CODE_RE}))?\s?"
    r"(?P<neg2>[-−])?"
    r"(?P<num>\d{1,3}(?:[.,'\u00a0\u202f]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?)"
    rf"(?![\d%])(?:\s?(?P<cur2>{_SIGN_RE}|{_CODE_RE})(?![A-Za-z]))?"
    r"(?P<neg3>\)|-(?!\d)|\s?CR\b)?",
    re.IGNORECASE,
)


def _decimals(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def find_amounts(text: str, *, decimal_comma: bool = False, places: int = 2) -> list[FoundAmount]:
    """Every money-looking token in ``text``, in order. Never raises."""
    out: list[FoundAmount] = []
    s = unicodedata.normalize("NFKC", text[:MAX_FIND_CHARS])
    for m in _MONEY.finditer(s):
        number = _number(m.group("num"), decimal_comma)
        if number is None:
            continue
        value = _exact(number, places)
        if value is None:
            continue
        neg1, neg3 = m.group("neg1"), (m.group("neg3") or "").strip().upper()
        negative = (
            bool(m.group("neg2"))
            or neg1 in ("-", "−", "–")
            or (neg1 == "(" and neg3 == ")")
            or neg3 in ("-", "CR")
        )
        mark = m.group("cur1") or m.group("cur2") or ""
        out.append(
            FoundAmount(
                -value if negative else value,
                (currency_code(mark) or "") if mark else "",
                m.group(0).strip(),
                m.start(),
                m.end(),
                _decimals(number),
            )
        )
    return out


def find_amount(text: str, *, decimal_comma: bool = False) -> Decimal | None:
    """The first amount in ``text`` (at most 200 characters are read), or None."""
    found = find_amounts(text[:200], decimal_comma=decimal_comma)
    return found[0].value if found else None


def uses_decimal_comma(text: str) -> bool:
    """Whether a document writes its cents after a comma ("12,50") more than after a dot."""
    s = text[:MAX_FIND_CHARS]
    comma = len(re.findall(r"\d,\d{2}(?!\d)", s))
    dot = len(re.findall(r"\d\.\d{2}(?!\d)", s))
    return comma > dot


# =============================================================================== dates

MONTHS: dict[str, int] = {}
for _num, _names in enumerate(
    (
        "january janvier januari januar jänner enero jan janv jän",
        "february février fevrier februari februar febrero feb fév fev févr",
        "march mars maart märz maerz marzo mar mrt mär",
        "april avril abril apr avr",
        "may mai mei mayo",
        "june juin juni junio jun",
        "july juillet juli julio jul juil",
        "august août aout augustus agosto aug aoû",
        "september septembre septiembre sep sept",
        "october octobre oktober octubre oct okt",
        "november novembre noviembre nov",
        "december décembre decembre dezember diciembre dec déc dez",
    ),
    start=1,
):
    for _n in _names.split():
        MONTHS[_n] = _num
_MONTH_RE = "|".join(sorted((re.escape(k) for k in MONTHS), key=len, reverse=True))

_DATE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("iso", re.compile(r"(?<!\d)(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})(?!\d)")),
    (
        "num",
        re.compile(
            r"(?<![\d.])(?P<a>\d{1,2})(?P<s>[./-])(?P<b>\d{1,2})(?P=s)(?P<y>\d{4}|\d{2})(?![\d])"
        ),
    ),
    (
        "dmy",
        re.compile(
            rf"(?<!\d)(?P<d>\d{{1,2}})(?:st|nd|rd|th|er)?\.?[\s-]*(?:de\s+)?(?P<mon>{_MONTH_RE})"
            rf"\.?[\s,-]*(?:de\s+)?(?P<y>\d{{4}}|\d{{2}})(?!\d)",
            re.IGNORECASE,
        ),
    ),
    (
        "mdy",
        re.compile(
            rf"(?<![A-Za-z])(?P<mon>{_MONTH_RE})\.?\s*(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s*,?\s*"
            rf"(?P<y>\d{{4}})(?!\d)",
            re.IGNORECASE,
        ),
    ),
)
_COMPACT = re.compile(r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})")
_ISO_TIME = re.compile(r"[T ][0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?", re.IGNORECASE)


class FoundDate(NamedTuple):
    """One date found in text; ``ambiguous``: day and month could swap and nothing said which."""

    value: date
    raw: str
    start: int
    end: int
    ambiguous: bool = False


def _year(y: str) -> int:
    n = int(y)
    if len(y) == 2:
        n += 2000 if n < 70 else 1900
    return n


def _from_match(kind: str, m: re.Match[str], dayfirst: bool | None) -> tuple[date, bool] | None:
    try:
        if kind in ("iso", "compact"):
            return date(int(m["y"]), int(m["m"]), int(m["d"])), False
        if kind == "num":
            a, b, y = int(m["a"]), int(m["b"]), _year(m["y"])
            ambiguous = False
            if a > 12:
                d, mo = a, b
            elif b > 12:
                d, mo = b, a
            else:
                first = dayfirst if dayfirst is not None else m["s"] == "."
                d, mo = (a, b) if first else (b, a)
                ambiguous = dayfirst is None and a != b and m["s"] != "."
            return date(y, mo, d), ambiguous
        month = MONTHS.get(m["mon"].lower())
        if month is None:
            return None
        return date(_year(m["y"]), month, int(m["d"])), False
    except (ValueError, TypeError):
        return None


def _in_range(d: date) -> bool:
    return MIN_DATE <= d <= MAX_DATE


def find_dates(text: str, *, dayfirst: bool | None = None) -> list[FoundDate]:
    """Every date in ``text``, in order of position (overlaps: the earliest-starting
    read wins). Never raises."""
    s = unicodedata.normalize("NFKC", text[:MAX_FIND_CHARS])
    found: list[FoundDate] = []
    for kind, pattern in _DATE_PATTERNS:
        for m in pattern.finditer(s):
            got = _from_match(kind, m, dayfirst)
            if got is not None and _in_range(got[0]):
                found.append(FoundDate(got[0], m.group(0), m.start(), m.end(), got[1]))
    found.sort(key=lambda f: (f.start, -f.end))
    out: list[FoundDate] = []
    for f in found:
        if not out or f.start >= out[-1].end:
            out.append(f)
    return out


def find_date(
    text: str, *, dayfirst: bool | None = None, anchored: bool = False
) -> FoundDate | None:
    """The first date in ``text`` (at most 200 characters are read); ``anchored``:
    only one that starts the text. Never raises."""
    s = unicodedata.normalize("NFKC", text[:200])
    best: FoundDate | None = None
    for kind, pattern in _DATE_PATTERNS:
        m = pattern.match(s) if anchored else pattern.search(s)
        if not m:
            continue
        got = _from_match(kind, m, dayfirst)
        if got is None or not _in_range(got[0]):
            continue
        if best is None or m.start() < best.start:
            best = FoundDate(got[0], m.group(0), m.start(), m.end(), got[1])
    return best


def parse_date(
    text: str | date | datetime,
    formats: tuple[str, ...] | list[str] = (),
    *,
    dayfirst: bool | None = None,
) -> date:
    """The date that is the whole of ``text``, or NormalizationError.

    The source's own ``formats`` (strptime) are tried first, then the written
    forms of the module doc. An ISO date may carry a time ("2026-09-03T22:10Z")
    and a compact one is ``20260903``.
    """
    if isinstance(text, datetime):
        return text.date()
    if isinstance(text, date):
        return text
    s = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text).strip())
    if not s or len(s) > 40:
        raise NormalizationError(f"not a date: {quote(text)}")
    for fmt in formats:
        try:
            d = datetime.strptime(s.title() if "%b" in fmt or "%B" in fmt else s, fmt).date()
        except ValueError:
            continue
        return _checked(d, text)
    bare = _ISO_TIME.sub("", s) if re.match(r"\d{4}-", s) else s
    for kind, pattern in (*_DATE_PATTERNS, ("compact", _COMPACT)):
        m = pattern.fullmatch(bare)
        if m:
            got = _from_match(kind, m, dayfirst)
            if got is not None:
                return _checked(got[0], text)
    raise NormalizationError(f"not a date: {quote(text)}")


def _checked(d: date, text: object) -> date:
    if not _in_range(d):
        raise NormalizationError(f"date out of range: {quote(text)}")
    return d


__all__ = [
    "CURRENCY_SIGNS",
    "ISO_CODES",
    "MAX_AMOUNT",
    "MAX_DATE",
    "MIN_DATE",
    "MONTHS",
    "FoundAmount",
    "FoundDate",
    "NormalizationError",
    "currency_code",
    "document_currency",
    "find_amount",
    "find_amounts",
    "find_date",
    "find_dates",
    "parse_amount",
    "parse_currency",
    "parse_date",
    "quote",
    "uses_decimal_comma",
]
