"""Fields from document text: retailer backup, carrier POD/BOL, and generic invoices.

Regex and layout based, no model: every field comes with a confidence in 0..1 and the
raw text it was read from, so a human (or the matching core) can tell a clean
``Claim Number: C-123`` read (0.95) from a guess off a table column (0.75) or an
unlabelled pattern (0.3). Nothing here raises on odd text; a field that cannot be
read is ``None``.

Works best on pypdf *layout* text (``ExtractionResult.layout_text``), where a label
and its value share a line or a column; plain text works for "Label: value" documents
such as the fixture world's. Amounts become ``Decimal`` (2 places), dates ``date``;
``"4.904,94"``, ``"Rs 1939"``, ``"(1,234.56)"``, ``"7. Mai 2014"`` and
``"August 3 , 2014"`` are all understood.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Generic, TypeVar

T = TypeVar("T")

MAX_TEXT_CHARS = 2_000_000  # field extraction reads at most this much text
MAX_LINE_CHARS = 1_000  # and at most this much of one line
_CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("1000000000000")

# Confidence by where the value was found.
CONF_SAME_LINE_COLON = 0.95
CONF_SAME_LINE = 0.85
CONF_COLUMN_BELOW = 0.75
CONF_NEXT_LINE = 0.65
CONF_PATTERN_ONLY = 0.3


@dataclass(frozen=True)
class ExtractedField(Generic[T]):
    """One value read from text, with how sure we are and what it was read from."""

    value: T
    confidence: float
    raw: str = ""  # the source text (bounded)
    label: str = ""  # the label text that introduced it, if any


@dataclass(frozen=True)
class LineItem:
    sku: str
    description: str = ""
    quantity: int | None = None
    unit_cost: Decimal | None = None
    amount: Decimal | None = None
    confidence: float = 0.7


def _values(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in vars(obj).items():
        if isinstance(value, ExtractedField):
            out[name] = value.value
        elif isinstance(value, list):
            out[name] = [asdict(v) if isinstance(v, LineItem) else v for v in value]
        else:
            out[name] = value
    return out


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

    def values(self) -> dict[str, Any]:
        """Plain values (no confidences), e.g. to compare or persist."""
        return _values(self)


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
        return _values(self)

    @property
    def pieces_short(self) -> int | None:
        """Shipped minus delivered, when both were read."""
        if self.pieces_shipped and self.pieces_delivered:
            return self.pieces_shipped.value - self.pieces_delivered.value
        return None


@dataclass
class InvoiceFields:
    """The header fields of any invoice."""

    invoice_number: ExtractedField[str] | None = None
    invoice_date: ExtractedField[date] | None = None
    due_date: ExtractedField[date] | None = None
    total: ExtractedField[Decimal] | None = None
    currency: ExtractedField[str] | None = None
    po_number: ExtractedField[str] | None = None

    def values(self) -> dict[str, Any]:
        return _values(self)


# ============================================================================ amounts

_MONEY = re.compile(
    r"(?P<neg1>[-−–(])?\s?"
    r"(?P<cur1>[$€£₹]|Rs\.?|INR|EUR|USD|GBP|PLN|CAD)?\s?"
    r"(?P<neg2>[-−])?"
    r"(?P<num>\d{1,3}(?:[.,'\u00a0\u202f]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?)"
    r"(?![\d%])(?:\s?(?P<cur2>[€$£]|EUR|USD|PLN|zł|GBP|INR))?(?P<neg3>\)|-(?!\d))?",
    re.IGNORECASE,
)


def _amount_from_number(num: str, decimal_comma: bool | None) -> Decimal | None:
    num = num.replace("\u00a0", "").replace("\u202f", "").replace("'", "")
    if "," in num and "." in num:
        if num.rfind(",") > num.rfind("."):
            num = num.replace(".", "").replace(",", ".")
        else:
            num = num.replace(",", "")
    elif "," in num:
        groups = num.split(",")
        if len(groups) == 2 and (len(groups[1]) != 3 or decimal_comma):
            num = num.replace(",", ".")
        else:
            num = num.replace(",", "")
    elif "." in num:
        groups = num.split(".")
        if len(groups) > 2 or (len(groups[1]) == 3 and decimal_comma):
            num = num.replace(".", "")
    try:
        value = Decimal(num)
    except InvalidOperation:
        return None
    return value


def parse_amount(text: str, *, decimal_comma: bool | None = None) -> Decimal | None:
    """Money in ``text`` as a Decimal with 2 places, or None.

    Understands currency marks before or after, thousands separators of either kind
    ("1,234.56", "1.234,56", "1'234.56"), and negatives as "-1.00", "(1.00)" or
    "1.00-". ``decimal_comma`` decides "1.234"/"1,234" (ambiguous) for a document
    known to use decimal commas; by default they are thousands.
    """
    if not text:
        return None
    text = unicodedata.normalize("NFKC", text[:200]).strip()
    m = _MONEY.search(text)
    if not m:
        return None
    return _money_match_value(m, decimal_comma)


def _money_match_value(m: re.Match[str], decimal_comma: bool | None) -> Decimal | None:
    value = _amount_from_number(m.group("num"), decimal_comma)
    if value is None or abs(value) >= MAX_AMOUNT:
        return None
    neg1 = m.group("neg1")
    negative = (
        bool(m.group("neg2"))
        or (neg1 in ("-", "−", "–"))
        or (neg1 == "(" and m.group("neg3") == ")")
        or m.group("neg3") == "-"
    )
    value = value.quantize(_CENT, rounding=ROUND_HALF_UP)
    return -value if negative else value


def _money_tokens(text: str, decimal_comma: bool | None) -> list[tuple[Decimal, str, str]]:
    """(value, currency mark, raw) for each money-looking token in ``text``."""
    out = []
    for m in _MONEY.finditer(text):
        value = _money_match_value(m, decimal_comma)
        if value is None:
            continue
        cur = (m.group("cur1") or m.group("cur2") or "").strip()
        out.append((value, cur, m.group(0).strip()))
    return out


_CURRENCY_MARKS = {
    "$": "USD",
    "usd": "USD",
    "€": "EUR",
    "eur": "EUR",
    "£": "GBP",
    "gbp": "GBP",
    "₹": "INR",
    "rs": "INR",
    "rs.": "INR",
    "inr": "INR",
    "pln": "PLN",
    "zł": "PLN",
    "cad": "CAD",
}
_CURRENCY_IN_TEXT = re.compile(
    r"(?<![A-Za-z])(USD|EUR|GBP|INR|PLN|CAD|Rs\.?|zł)(?![A-Za-z])|[$€£₹]"
)


def _currency_code(mark: str) -> str | None:
    return _CURRENCY_MARKS.get(mark.lower()) if mark else None


def _document_currency(text: str) -> tuple[str, int] | None:
    counts: dict[str, int] = {}
    for m in _CURRENCY_IN_TEXT.finditer(text):
        code = _currency_code(m.group(0))
        if code:
            counts[code] = counts.get(code, 0) + 1
    if not counts:
        return None
    return max(counts.items(), key=lambda kv: kv[1])


def _uses_decimal_comma(text: str) -> bool:
    comma = len(re.findall(r"\d,\d{2}(?!\d)", text))
    dot = len(re.findall(r"\d\.\d{2}(?!\d)", text))
    return comma > dot


# ============================================================================ dates

_MONTHS: dict[str, int] = {}
for _num, _names in enumerate(
    [
        "january janvier januari januar jänner enero jan janv",
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
    ],
    start=1,
):
    for _n in _names.split():
        _MONTHS[_n] = _num
_MONTH_RE = "|".join(sorted((re.escape(k) for k in _MONTHS), key=len, reverse=True))

_DATE_PATTERNS = [
    ("iso", re.compile(r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})(?!\d)")),
    (
        "num",
        re.compile(
            r"(?<!\d)(?P<a>\d{1,2})(?P<s>[./-])(?P<b>\d{1,2})(?P=s)(?P<y>\d{4}|\d{2})(?!\d)"
        ),
    ),
    (
        "dmy",
        re.compile(
            rf"(?<!\d)(?P<d>\d{{1,2}})(?:st|nd|rd|th|er)?\.?[\s-]*(?:de\s+)?(?P<mon>{_MONTH_RE})\.?"
            rf"[\s,-]*(?:de\s+)?(?P<y>\d{{4}}|\d{{2}})(?!\d)",
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
]


def _year(y: str) -> int:
    n = int(y)
    if len(y) == 2:
        n += 2000 if n < 70 else 1900
    return n


def _date_from_match(kind: str, m: re.Match[str], dayfirst: bool | None) -> date | None:
    try:
        if kind == "iso":
            return date(int(m["y"]), int(m["m"]), int(m["d"]))
        if kind == "num":
            a, b, y = int(m["a"]), int(m["b"]), _year(m["y"])
            if a > 12:
                d, mo = a, b
            elif b > 12:
                d, mo = b, a
            elif dayfirst is None:
                # "/" is the US habit; "." and "-" with the year last are European.
                d, mo = (a, b) if m["s"] in ".-" else (b, a)
            else:
                d, mo = (a, b) if dayfirst else (b, a)
            return date(y, mo, d)
        month = _MONTHS.get(m["mon"].lower())
        if month is None:
            return None
        return date(_year(m["y"]), month, int(m["d"]))
    except (ValueError, TypeError):
        return None


def _find_date(
    text: str, dayfirst: bool | None = None, *, anchored: bool = False
) -> tuple[date, str] | None:
    best: tuple[int, date, str] | None = None
    for kind, pattern in _DATE_PATTERNS:
        m = pattern.match(text) if anchored else pattern.search(text)
        if not m:
            continue
        value = _date_from_match(kind, m, dayfirst)
        if value is None or not (1900 <= value.year <= 2100):
            continue
        if best is None or m.start() < best[0]:
            best = (m.start(), value, m.group(0))
    return (best[1], best[2]) if best else None


def parse_date(text: str, *, dayfirst: bool | None = None) -> date | None:
    """The first date in ``text``, or None.

    ISO, numeric (``03/20/2023``, ``28.11.2022``, ``8-9-2022``, two-digit years) and
    month names in English, French, Dutch, German and Spanish (``7. Mai 2014``,
    ``August 3 , 2014``, ``03-SEP-2026``). Ambiguous numeric dates follow
    ``dayfirst``; without it, ``/`` means month first (US) and ``.``/``-`` day first.
    """
    if not text:
        return None
    found = _find_date(unicodedata.normalize("NFKC", text[:200]), dayfirst)
    return found[0] if found else None


# ============================================================================ labels


@dataclass(frozen=True)
class _Label:
    pattern: re.Pattern[str]
    priority: int = 5
    lang: str = "en"


def _labels(specs: Iterable[tuple[str, int, str] | tuple[str, int] | str]) -> list[_Label]:
    out = []
    for spec in specs:
        if isinstance(spec, str):
            spec = (spec, 5)
        pattern, priority, *rest = spec
        out.append(_Label(re.compile(pattern, re.IGNORECASE), priority, rest[0] if rest else "en"))
    return out


@dataclass(frozen=True)
class _Hit(Generic[T]):
    priority: int
    confidence: float
    line_no: int
    value: T
    raw: str
    label: str
    lang: str


_CELL_SPLIT = re.compile(r"\S(?:.*?\S)?(?=\s{2,}|\s*$)")
_LEAD_SEP = re.compile(r"^[\s:#.\-–=]*(?:n°|nº|no\.?|nr\.?|#)?[\s:#.\-–=]*", re.IGNORECASE)


def _cells(line: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group(0)) for m in _CELL_SPLIT.finditer(line)]


def _starts_cell(line: str, start: int) -> bool:
    """A label counts only where a cell begins: line start, after 2+ spaces or after
    punctuation. So "Order Date:" does not offer a "Date:" label."""
    before = line[:start]
    if not before.strip():
        return True
    if before.endswith(("  ", "\t")):
        return True
    return before.rstrip()[-1:] in ":|;,)]" or (not before[-1:].isalnum() and before[-1:] != " ")


def _scan(
    lines: list[str],
    labels: list[_Label],
    reader: Callable[[str, _Label], tuple[T, str] | None],
    *,
    below: bool = True,
) -> list[_Hit[T]]:
    """Every place a label is followed by a value ``reader`` accepts: on the same line,
    in the table cell below it, or on the next line."""
    hits: list[_Hit[T]] = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        for label in labels:
            for m in label.pattern.finditer(line):
                if not _starts_cell(line, m.start()):
                    continue
                rest = line[m.end() :]
                lead = _LEAD_SEP.match(rest)
                sep = lead.group(0) if lead else ""
                got = reader(rest[len(sep) :], label)
                if got is not None:
                    conf = CONF_SAME_LINE_COLON if ":" in sep or "#" in sep else CONF_SAME_LINE
                    if m.end() < len(line) and len(sep) > 40:
                        conf -= 0.1  # far away on the line: maybe another column's value
                    hits.append(
                        _Hit(
                            label.priority,
                            conf,
                            i,
                            got[0],
                            got[1][:200],
                            m.group(0).strip(),
                            label.lang,
                        )
                    )
                    continue
                if not below:
                    continue
                got_below = _value_below(lines, i, m.start(), m.end(), label, reader)
                if got_below is not None:
                    value, raw, conf = got_below
                    hits.append(
                        _Hit(
                            label.priority,
                            conf,
                            i,
                            value,
                            raw[:200],
                            m.group(0).strip(),
                            label.lang,
                        )
                    )
    return hits


def _value_below(
    lines: list[str],
    i: int,
    start: int,
    end: int,
    label: _Label,
    reader: Callable[[str, _Label], tuple[T, str] | None],
) -> tuple[T, str, float] | None:
    header_cells = _cells(lines[i])
    cell_end = end
    for s, e, _ in header_cells:
        if s <= start < e:
            cell_end = e
            break
    for j in range(i + 1, min(i + 3, len(lines))):
        if not lines[j].strip():
            continue
        cells = _cells(lines[j])
        if len(cells) == 1 and len(header_cells) <= 1:
            got = reader(cells[0][2], label)
            return (got[0], got[1], CONF_NEXT_LINE) if got else None
        best = None
        for s, e, text in cells:
            overlap = min(e, cell_end) - max(s, start)
            dist = abs((s + e) / 2 - (start + cell_end) / 2)
            score = overlap if overlap > 0 else -dist
            if (overlap > 0 or dist <= 6) and (best is None or score > best[0]):
                best = (score, text)
        if best is None:
            return None
        got = reader(best[1], label)
        return (got[0], got[1], CONF_COLUMN_BELOW) if got else None
    return None


def _best(hits: list[_Hit[T]]) -> ExtractedField[T] | None:
    if not hits:
        return None
    top = min(hits, key=lambda h: (-h.priority, -h.confidence, h.line_no))
    return ExtractedField(top.value, round(top.confidence, 2), top.raw, top.label)


def _prepare(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", text[:MAX_TEXT_CHARS]).replace("\x00", "")
    text = text.replace("\f", "\n").replace("\t", "    ")
    # Bounded lines keep every regex here linear in practice, whatever the input.
    return [line[:MAX_LINE_CHARS] for line in text.splitlines()]


# ---------------------------------------------------------------------- value readers

_IDENT = re.compile(r"#?\s?(?P<v>[A-Z0-9][A-Z0-9_/.\-]{0,39})", re.IGNORECASE)


def _read_ident(rest: str, _label: _Label) -> tuple[str, str] | None:
    """An identifier: letters, digits and _/.- with at least one digit, not a date."""
    m = _IDENT.match(rest)
    if not m:
        return None
    value = m.group("v").rstrip(".-/")
    if not any(c.isdigit() for c in value) or _find_date(value, anchored=True):
        return None
    return value, m.group(0)


def _read_code(rest: str, _label: _Label) -> tuple[str, str] | None:
    m = re.match(r"(?P<v>[A-Z0-9][A-Z0-9_.\-]{0,15})", rest, re.IGNORECASE)
    if not m:
        return None
    return m.group("v").rstrip(".-"), m.group(0)


def _read_text(rest: str, _label: _Label) -> tuple[str, str] | None:
    cells = _cells(rest)
    if not cells:
        return None
    value = cells[0][2].strip(" :;,")[:200]
    return (value, value) if value and any(c.isalpha() for c in value) else None


def _read_int(rest: str, _label: _Label) -> tuple[int, str] | None:
    m = re.match(r"(?P<v>\d{1,3}(?:,\d{3})+|\d{1,9})(?![\d.,]\d)", rest)
    if not m:
        return None
    return int(m.group("v").replace(",", "")), m.group(0)


def _date_reader(dayfirst: bool | None) -> Callable[[str, _Label], tuple[date, str] | None]:
    def read(rest: str, label: _Label) -> tuple[date, str] | None:
        hint = dayfirst if dayfirst is not None else (True if label.lang != "en" else None)
        return _find_date(rest[:60], hint, anchored=True)

    return read


def _amount_reader(
    decimal_comma: bool | None, *, last: bool = True
) -> Callable[[str, _Label], tuple[Decimal, str] | None]:
    def read(rest: str, _label: _Label) -> tuple[Decimal, str] | None:
        if re.match(
            r"(?:HT|excl|exclusief|hors|net|netto|ohne|untaxed|sub)\b", rest, re.IGNORECASE
        ):
            return None
        tokens = _money_tokens(rest[:300], decimal_comma)
        # Skip what is clearly not money: a year or a day inside a date on the line.
        dates = [d[1] for d in [_find_date(rest[:300])] if d]
        tokens = [t for t in tokens if not any(t[2] in d for d in dates)]
        if not tokens:
            return None
        value, _cur, raw = tokens[-1] if last else tokens[0]
        return value, raw

    return read


# ============================================================================ backup

_BACKUP_CLAIM = _labels(
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
_PROMOTION = _labels(
    [
        (r"\bpromotion\s*(?:number|no\.?|#|id)", 9),
        (r"\bpromo\s*(?:number|no\.?|#|id)", 9),
        (r"\bdeal\s*(?:number|no\.?|#|id)", 7),
    ]
)
_INVOICE_NO = _labels(
    [
        (r"\binvoice\s*(?:number|no\.?|nr\.?|num\.?|#|id)", 9),
        (r"\binv\.?\s*(?:no\.?|#)", 8),
        (r"\bfactuur\s*(?:nummer|nr\.?|no\.?)", 9, "nl"),
        (r"\bfacture\s*(?:n°|nº|no\.?|numéro|num\.?)", 9, "fr"),
        (r"\bn°\s*de\s*facture", 9, "fr"),
        (r"\brechnungs\s*-?\s*(?:nr\.?|nummer|no\.?)", 9, "de"),
        (r"\bfaktura\s*(?:nr\.?|numer|no\.?)", 9, "pl"),
        (r"\b(?:número|numero)\s*de\s*factura", 9, "es"),
        (r"^\s*invoice\b(?!\s*(?:date|summary|total|amount|to|address|period|details?)\b)", 5),
        (r"\bfactuur\b(?!\s*(?:datum|totaal|adres|bedrag))", 4, "nl"),
        (r"\bbooking\s*id\b", 3),
        (r"\breceipt\s*(?:number|no\.?|#)", 6),
        (r"^\s*(?=#)", 2),
    ]
)
_PO = _labels(
    [
        (r"\bP\.?\s?O\.?\s*(?:number|no\.?|num|#)", 9),
        (r"\bpurchase\s*order\s*(?:number|no\.?|#)?", 9),
        (r"\bP\.?O\.?(?=\s*:)", 7),
        (r"\bcustomer\s*PO\b", 8),
    ]
)
_AMOUNT = _labels(
    [
        (r"\b(?:claim|deduction|chargeback|debit|net\s+claim|total\s+claim)\s*amount", 9),
        (r"\bamount\s*(?:deducted|claimed|due)", 9),
        (r"\btotal\s*(?:amount|deduction|claim)", 8),
        (r"(?<![\w ])amount\b", 6),
        (r"^\s*amount\b", 7),
        (r"\btotal\b", 4),
    ]
)
_REASON = _labels([(r"\breason\s*code", 9), (r"\bclaim\s*(?:type|code)", 7), (r"\breason\b", 5)])
_REASON_TEXT = _labels([(r"\breason\s*(?:description|text)", 9)])
_CLAIM_DATE = _labels(
    [
        (r"\b(?:claim|deduction|debit\s*memo|memo|chargeback)\s*date", 9),
        (r"\bdate\s*(?:of\s*claim|issued)", 8),
        (r"\bissue\s*date", 7),
        (r"(?:^|\s\s)date\b", 4),
    ]
)
_INVOICE_DATE = _labels(
    [
        (r"\binvoice\s*date", 9),
        (r"\bdate\s*of\s*invoice", 9),
        (r"\bbill(?:ing)?\s*date", 7),
        (r"\bfactuur\s*datum|\bfactuurdatum", 9, "nl"),
        (r"\brechnungsdatum", 9, "de"),
        (r"\bdate\s*de\s*(?:la\s*)?facture", 9, "fr"),
        (r"\bdata\s*wystawienia", 9, "pl"),
        (r"\bfecha\s*de\s*factura", 9, "es"),
        (r"\bfacture\s*n°?\s*\S+\s+du\b", 8, "fr"),
        (r"\bdate\b", 4),
        (r"\bdatum\b", 4, "nl"),
        (r"\bdated\b", 4),
    ]
)
_LOCATION = _labels(
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


def _read_location(rest: str, label: _Label) -> tuple[str, str] | None:
    m = re.match(
        r"(?P<v>(?:(?:store|DC|#)\s*)?[A-Z0-9][\w\-#/ ]{0,40}?)(?=\s{2,}|\s*$)", rest, re.IGNORECASE
    )
    if not m or not any(c.isdigit() for c in m.group("v")):
        return None
    return m.group("v").strip(), m.group(0)


def _read_reason(rest: str, label: _Label) -> tuple[str, str] | None:
    got = _read_code(rest, label)
    if got and len(got[0]) <= 12:
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
        unit = m.groupdict().get("unit")
        items.append(
            LineItem(
                sku=m["sku"],
                description=re.sub(r"\s{2,}", " ", m["desc"]).strip()[:200],
                quantity=int(m["qty"]),
                unit_cost=_amount_from_number(re.sub(r"[^\d.,]", "", unit), False)
                if unit
                else None,
                amount=parse_amount(m["amt"]),
            )
        )
        if len(items) >= 500:
            break
    return items


def extract_backup_fields(text: str, *, dayfirst: bool | None = None) -> BackupFields:
    """Read a retailer claim / debit memo. Never raises."""
    lines = _prepare(text)
    decimal_comma = _uses_decimal_comma("\n".join(lines))
    out = BackupFields()
    out.claim_number = _best(_scan(lines, _BACKUP_CLAIM, _read_ident))
    out.invoice_number = _best(_scan(lines, _INVOICE_NO, _read_ident))
    out.po_number = _best(_scan(lines, _PO, _read_ident))
    out.promotion_number = _best(_scan(lines, _PROMOTION, _read_ident))
    out.amount = _best(_scan(lines, _AMOUNT, _amount_reader(decimal_comma, last=False)))
    out.reason_code = _best(_scan(lines, _REASON, _read_reason))
    reason_text = _best(_scan(lines, _REASON_TEXT, _read_text, below=False))
    if reason_text is None and out.reason_code is not None:
        # "Reason Code: 426 - Shortage": the words after the code.
        for line in lines:
            m = re.search(
                r"reason\s*code\s*:?\s*\S+\s*[-–:]\s*(?P<t>[A-Za-z].{1,120}?)\s*$",
                line,
                re.IGNORECASE,
            )
            if m:
                reason_text = ExtractedField(m["t"].strip(), 0.8, m.group(0)[:200], "Reason Code")
                break
    out.reason_text = reason_text
    out.claim_date = _best(_scan(lines, _CLAIM_DATE, _date_reader(dayfirst)))
    out.invoice_date = _best(_scan(lines, _INVOICE_DATE, _date_reader(dayfirst)))
    if out.claim_date and out.invoice_date and out.claim_date.label.lower() == "date":
        # A bare "Date:" that is really the invoice date belongs to neither reliably.
        out.claim_date = ExtractedField(out.claim_date.value, 0.5, out.claim_date.raw, "Date")
    out.location = _best(_scan(lines, _LOCATION, _read_location))
    cur = _document_currency("\n".join(lines))
    if cur:
        out.currency = ExtractedField(cur[0], 0.8 if cur[1] > 1 else 0.6, cur[0])
    out.lines = _line_items(lines)
    return out


# ============================================================================ POD / BOL

_PRO = _labels(
    [
        (r"\bPRO\s*(?:number|no\.?|num|#)", 9),
        (r"\bPRO\b(?=\s*:)", 8),
        (r"\bfreight\s*bill\s*(?:number|no\.?|#)", 7),
        (r"\bPRO\b", 5),
    ]
)
_BOL = _labels(
    [
        (r"\bBOL\s*(?:number|no\.?|num|#)", 9),
        (r"\bbill\s*of\s*lading\s*(?:number|no\.?|#)", 9),
        (r"\bB/L\s*(?:number|no\.?|#)?", 7),
        (r"\bBOL\b(?=\s*:)", 8),
    ]
)
_SHIPPER = _labels(
    [
        (r"\bshipper(?:\s*name)?\b(?!\W*s?\s*load)", 8),
        (r"\bship\s*from\b", 7),
        (r"\bconsignor\b", 6),
    ]
)
_CONSIGNEE = _labels(
    [
        (r"\bconsignee(?:\s*name)?\b(?!\s*signature)", 8),
        (r"\bship\s*to\b", 7),
        (r"\bdeliver\s*to\b", 6),
    ]
)
_PIECES_SHIPPED = _labels(
    [
        (r"\bpieces\s*shipped", 9),
        (r"\b(?:pcs|pieces|cartons|cases)\s*(?:tendered|billed)", 8),
        (r"\bshipped\s*(?:pieces|pcs|cartons|cases|qty|quantity)", 8),
        (r"\btotal\s*pieces", 6),
        (r"\bhandling\s*units", 5),
        (r"\bpieces\b(?!\s*delivered)", 4),
    ]
)
_PIECES_DELIVERED = _labels(
    [
        (r"\bpieces\s*delivered", 9),
        (r"\bdelivered\s*(?:pieces|pcs|cartons|cases|qty|quantity)", 8),
        (r"\b(?:pcs|pieces|cartons|cases)\s*received", 8),
        (r"\breceived\s*(?:pieces|pcs|qty)", 7),
    ]
)
_WEIGHT = _labels([(r"\b(?:total\s*)?weight(?:\s*\(?lbs?\)?)?", 7)])
_SIGNER = _labels(
    [
        (r"\bsigned\s*by\b", 9),
        (r"\bsigned\b", 8),
        (r"\breceived\s*by\b", 8),
        (r"\bconsignee\s*signature\b", 7),
        (r"\bsignature\b", 6),
        (r"\bprint(?:ed)?\s*name\b", 6),
    ]
)
_DELIVERY_DATE = _labels(
    [
        (r"\bdelivery\s*date", 9),
        (r"\bdate\s*delivered", 9),
        (r"\bdelivered\s*(?:on)?(?=\s*:)", 8),
    ]
)
_SHIP_DATE = _labels(
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


def _read_name(rest: str, label: _Label) -> tuple[str, str] | None:
    cells = _cells(rest)
    if not cells:
        return None
    value = cells[0][2].strip(" :;,")
    if not value or not any(c.isalpha() for c in value) or len(value) > 120:
        return None
    return value, value


def _read_signer(rest: str, label: _Label) -> tuple[str, str] | None:
    got = _read_name(rest, label)
    if not got:
        return None
    value = re.split(
        r"\s+(?:on|at|date)\b|\s+\d{1,4}[/-]", got[0], maxsplit=1, flags=re.IGNORECASE
    )[0].strip(" ,;")
    if not value or value.lower() in {"by", "date", "x", "n/a", "none"} or "_" * 3 in value:
        return None
    return value, got[1]


def extract_pod_fields(text: str, *, dayfirst: bool | None = None) -> PodFields:
    """Read a delivery receipt or bill of lading. Never raises."""
    lines = _prepare(text)
    out = PodFields()
    out.pro_number = _best(_scan(lines, _PRO, _read_ident))
    out.bol_number = _best(_scan(lines, _BOL, _read_ident))
    out.po_numbers = sorted({h.value for h in _scan(lines, _PO, _read_ident)})
    out.shipper = _best(_scan(lines, _SHIPPER, _read_name))
    out.consignee = _best(_scan(lines, _CONSIGNEE, _read_name))
    out.pieces_shipped = _best(_scan(lines, _PIECES_SHIPPED, _read_int))
    out.pieces_delivered = _best(_scan(lines, _PIECES_DELIVERED, _read_int))
    out.weight_lb = _best(_scan(lines, _WEIGHT, _read_int))
    out.signer = _best(_scan(lines, _SIGNER, _read_signer, below=False))
    out.delivery_date = _best(_scan(lines, _DELIVERY_DATE, _date_reader(dayfirst)))
    out.ship_date = _best(_scan(lines, _SHIP_DATE, _date_reader(dayfirst)))
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
            m = _EXCEPTION_LABEL.search(line)
            if m:
                for part in re.split(r"[;,]", m["t"]):
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


# ============================================================================ invoices

_TOTAL = _labels(
    [
        (r"\bgrand\s*total\b", 9),
        (r"\btotal\s*(?:amount\s*)?due\b", 9),
        (r"\bamount\s*due\b", 9),
        (r"\bbalance\s*due\b", 9),
        (r"\btotal\s*for\s*this\s*invoice\b", 9),
        (r"\binvoice\s*total\b", 9),
        (r"\btotal\s*ttc\b", 9, "fr"),
        (r"\bmontant\s*ttc\b", 8, "fr"),
        (r"\bsomme\s*à\s*payer\b", 9, "fr"),
        (r"\bnet\s*à\s*payer\b", 9, "fr"),
        (r"\bfactuur\s*totaal\b", 9, "nl"),
        (r"\bte\s*betalen\b", 9, "nl"),
        (r"\btotaalbedrag\b", 9, "nl"),
        (r"\b(?:gesamtbetrag|rechnungsbetrag|endbetrag)\b", 9, "de"),
        (r"\bnależność\s*ogółem\b", 9, "pl"),
        (r"\bdo\s*zapłaty\b", 9, "pl"),
        (r"\btotal\s*(?:amount|payable)\b", 8),
        (r"\btotaal\b", 6, "nl"),
        (r"\btotal\b", 5),
        (r"\bsumme\b", 5, "de"),
        (r"\bamount\s*paid\b", 4),
    ]
)
_DUE_DATE = _labels(
    [
        (r"\bdue\s*date\b", 9),
        (r"\bpayment\s*due\b", 8),
        (r"\bvervaldatum\b", 9, "nl"),
        (r"\bf[äa]lligkeitsdatum|\bzahlungsziel\b", 8, "de"),
        (r"\bdate\s*limite\s*de\s*paiement(?:\s*le)?", 9, "fr"),
        (r"\béchéance\b", 8, "fr"),
    ]
)


def extract_invoice_fields(text: str, *, dayfirst: bool | None = None) -> InvoiceFields:
    """Read an invoice's number, dates, total and currency, across common languages.

    Prefers layout text. Dates: an unlabelled ambiguous "01/02/2023" is read day-first
    when the label is not English or the document's currency is not USD.
    """
    lines = _prepare(text)
    joined = "\n".join(lines)
    decimal_comma = _uses_decimal_comma(joined)
    doc_cur = _document_currency(joined)
    if dayfirst is None and doc_cur and doc_cur[0] not in ("USD", "CAD"):
        dayfirst = True
    out = InvoiceFields()
    out.invoice_number = _best(_scan(lines, _INVOICE_NO, _read_ident))
    out.invoice_date = _best(_scan(lines, _INVOICE_DATE, _date_reader(dayfirst)))
    out.due_date = _best(_scan(lines, _DUE_DATE, _date_reader(dayfirst)))
    out.po_number = _best(_scan(lines, _PO, _read_ident))
    total_hits = _scan(lines, _TOTAL, _amount_reader(decimal_comma), below=True)
    out.total = _best(total_hits)
    currency = None
    if out.total:
        for _, cur, _raw in _money_tokens(out.total.raw, decimal_comma):
            code = _currency_code(cur)
            if code:
                currency = ExtractedField(code, 0.9, out.total.raw)
        if currency is None:
            row = next((ln for ln in lines if out.total.raw and out.total.raw in ln), "")
            m = _CURRENCY_IN_TEXT.search(row)
            if m and _currency_code(m.group(0)):
                currency = ExtractedField(_currency_code(m.group(0)) or "", 0.85, row.strip()[:200])
    if currency is None and doc_cur:
        currency = ExtractedField(doc_cur[0], 0.7 if doc_cur[1] > 1 else 0.5, doc_cur[0])
    out.currency = currency
    return out
