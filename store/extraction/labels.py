"""Finding labelled values in document text: the machinery every reader shares.

A value is read after a label on the same line ("Claim Number: C-123"), in
the table cell below it, or on the next line, and comes back as an
:class:`ExtractedField` with a confidence in 0..1 saying where it was found
(:data:`CONF_SAME_LINE_COLON` for a clean "Label: value" down to
:data:`CONF_NEXT_LINE`), the raw text it was read from and its position, so a
person (or the matcher) can tell a clean read from a guess. Amounts, dates and
currencies are read by the one parser in :mod:`records.parse`.

Nothing here raises on odd text; text is bounded (:data:`MAX_TEXT_CHARS`, and
:data:`MAX_LINE_CHARS` per line) so every pattern stays linear in practice.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, is_dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Generic, NamedTuple, TypeVar

from records.parse import find_amounts, find_date

T = TypeVar("T")

MAX_TEXT_CHARS = 2_000_000  # field extraction reads at most this much text
MAX_LINE_CHARS = 1_000  # and at most this much of one line

# Confidence by where the value was found.
CONF_SAME_LINE_COLON = 0.95
CONF_SAME_LINE = 0.85
CONF_COLUMN_BELOW = 0.75
CONF_NEXT_LINE = 0.65
CONF_PATTERN_ONLY = 0.3
CONF_DOUBTFUL = 0.5
"""A read that a consistency check doubts (issue 15's rules): below every
threshold that lets a value decide anything, so it goes to a person."""
REVIEW_BELOW = 0.8
"""Fields read with less confidence than this are listed for review."""


@dataclass(frozen=True)
class ExtractedField(Generic[T]):
    """One value read from text, with how sure we are and what it was read from."""

    value: T
    confidence: float
    raw: str = ""  # the source text (bounded)
    label: str = ""  # the label text that introduced it, if any
    at: tuple[int, int] = (-1, -1)  # (line, column) where the value was read

    def doubted(self, confidence: float = CONF_DOUBTFUL) -> ExtractedField[T]:
        """The same read with its confidence lowered to ``confidence`` (never raised)."""
        return ExtractedField(
            self.value, min(self.confidence, confidence), self.raw, self.label, self.at
        )


class Read(NamedTuple, Generic[T]):
    """What a value reader accepted: the value, its raw text, a cap on confidence."""

    value: T
    raw: str
    cap: float = 1.0


def field_values(obj: Any) -> dict[str, Any]:
    """Plain values of a fields dataclass (no confidences), e.g. to compare."""
    out: dict[str, Any] = {}
    for name, value in vars(obj).items():
        if isinstance(value, ExtractedField):
            out[name] = value.value
        elif isinstance(value, list):
            out[name] = [
                asdict(v) if is_dataclass(v) and not isinstance(v, type) else v for v in value
            ]
        else:
            out[name] = value
    return out


# ------------------------------------------------------------------------------ labels


@dataclass(frozen=True)
class Label:
    pattern: re.Pattern[str]
    priority: int = 5
    lang: str = "en"


def labels(specs: Iterable[tuple[str, int, str] | tuple[str, int] | str]) -> list[Label]:
    """Label patterns (case-insensitive) with a priority and the language they are in."""
    out = []
    for spec in specs:
        if isinstance(spec, str):
            spec = (spec, 5)
        pattern, priority, *rest = spec
        out.append(Label(re.compile(pattern, re.IGNORECASE), priority, rest[0] if rest else "en"))
    return out


@dataclass(frozen=True)
class Hit(Generic[T]):
    priority: int
    confidence: float
    line_no: int
    column: int
    value: T
    raw: str
    label: str
    lang: str


_LABEL_LINE = re.compile(r"^\s*[^\W\d][\w /#.&()-]{0,40}:(?:\s|$)")
_CELL_SPLIT = re.compile(r"\S(?:.*?\S)?(?=\s{2,}|\s*$)")
_LEAD_SEP = re.compile(r"^[\s:#.\-–=]*(?:n°|nº|no\.?|nr\.?|#)?[\s:#.\-–=]*", re.IGNORECASE)


def cells(line: str) -> list[tuple[int, int, str]]:
    """(start, end, text) of each cell: runs of text separated by 2+ spaces."""
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


def scan(
    lines: list[str],
    wanted: list[Label],
    reader: Callable[[str, Label], Read[T] | None],
    *,
    below: bool = True,
) -> list[Hit[T]]:
    """Every place a label is followed by a value ``reader`` accepts: on the same line,
    in the table cell below it, or on the next line."""
    hits: list[Hit[T]] = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        for label in wanted:
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
                        Hit(
                            label.priority,
                            min(conf, got.cap),
                            i,
                            m.end() + len(sep),
                            got.value,
                            got.raw[:200],
                            m.group(0).strip(),
                            label.lang,
                        )
                    )
                    continue
                if not below:
                    continue
                got_below = _value_below(lines, i, m.start(), m.end(), label, reader)
                if got_below is not None:
                    read, conf, (line_no, column) = got_below
                    hits.append(
                        Hit(
                            label.priority,
                            min(conf, read.cap),
                            line_no,
                            column,
                            read.value,
                            read.raw[:200],
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
    label: Label,
    reader: Callable[[str, Label], Read[T] | None],
) -> tuple[Read[T], float, tuple[int, int]] | None:
    header_cells = cells(lines[i])
    cell_end = end
    for s, e, _ in header_cells:
        if s <= start < e:
            cell_end = e
            break
    for j in range(i + 1, min(i + 3, len(lines))):
        if not lines[j].strip():
            continue
        if _LABEL_LINE.match(lines[j]):
            return None  # the next line is the next label ("Reason:"), not a value
        row = cells(lines[j])
        if len(row) == 1 and len(header_cells) <= 1:
            got = reader(row[0][2], label)
            return (got, CONF_NEXT_LINE, (j, row[0][0])) if got else None
        best_cell = None
        for s, e, text in row:
            overlap = min(e, cell_end) - max(s, start)
            dist = abs((s + e) / 2 - (start + cell_end) / 2)
            score = overlap if overlap > 0 else -dist
            if (overlap > 0 or dist <= 6) and (best_cell is None or score > best_cell[0]):
                best_cell = (score, text, s)
        if best_cell is None:
            return None
        got = reader(best_cell[1], label)
        return (got, CONF_COLUMN_BELOW, (j, best_cell[2])) if got else None
    return None


def best(hits: list[Hit[T]]) -> ExtractedField[T] | None:
    """The most trustworthy hit: highest label priority, then confidence, then first.
    Its confidence is the best of every hit that read the same value (a "Pieces: 72"
    corroborates a 72 read from under a "Handling Units" column)."""
    if not hits:
        return None
    top = min(hits, key=lambda h: (-h.priority, -h.confidence, h.line_no))
    confidence = max(h.confidence for h in hits if h.value == top.value)
    return ExtractedField(
        top.value, round(confidence, 2), top.raw, top.label, (top.line_no, top.column)
    )


def prepare(text: str) -> list[str]:
    """Text as bounded lines (NFKC, no NULs, form feeds as line breaks, tabs as spaces)."""
    text = unicodedata.normalize("NFKC", text[:MAX_TEXT_CHARS]).replace("\x00", "")
    text = text.replace("\f", "\n").replace("\t", "    ")
    # Bounded lines keep every regex here linear in practice, whatever the input.
    return [line[:MAX_LINE_CHARS] for line in text.splitlines()]


# ------------------------------------------------------------------------------ value readers

_IDENT = re.compile(r"#?\s?(?P<v>[A-Z0-9][A-Z0-9_/.\-]{0,39})", re.IGNORECASE)


def read_ident(rest: str, _label: Label) -> Read[str] | None:
    """An identifier: letters, digits and _/.- with at least one digit, not a date."""
    m = _IDENT.match(rest)
    if not m:
        return None
    value = m.group("v").rstrip(".-/")
    if not any(c.isdigit() for c in value) or find_date(value, anchored=True):
        return None
    return Read(value, m.group(0))


def read_code(rest: str, _label: Label) -> Read[str] | None:
    m = re.match(r"(?P<v>[A-Z0-9][A-Z0-9_.\-]{0,15})", rest, re.IGNORECASE)
    if not m:
        return None
    return Read(m.group("v").rstrip(".-"), m.group(0))


def read_text(rest: str, _label: Label) -> Read[str] | None:
    row = cells(rest)
    if not row:
        return None
    value = row[0][2].strip(" :;,")[:200]
    return Read(value, value) if value and any(c.isalpha() for c in value) else None


def read_int(rest: str, _label: Label) -> Read[int] | None:
    m = re.match(r"(?P<v>\d{1,3}(?:,\d{3})+|\d{1,9})(?![\d.,]\d)", rest)
    if not m:
        return None
    return Read(int(m.group("v").replace(",", "")), m.group(0))


def date_reader(dayfirst: bool | None) -> Callable[[str, Label], Read[date] | None]:
    """Reads the date that starts a value. A non-English label means day first; a
    numeric date that could swap day and month with nothing to say which is capped
    at :data:`CONF_DOUBTFUL`."""

    def read(rest: str, label: Label) -> Read[date] | None:
        hint = dayfirst if dayfirst is not None else (True if label.lang != "en" else None)
        found = find_date(rest[:60], dayfirst=hint, anchored=True)
        if found is None:
            return None
        return Read(found.value, found.raw, CONF_DOUBTFUL if found.ambiguous else 1.0)

    return read


_NOT_THE_TOTAL = re.compile(
    r"(?:HT|excl|exclusief|hors|net|netto|ohne|untaxed|sub)\b", re.IGNORECASE
)


def amount_reader(
    decimal_comma: bool, *, last: bool = True, cents_expected: bool = False
) -> Callable[[str, Label], Read[Decimal] | None]:
    """Reads money after a label (the last figure on the line, or the first).

    ``cents_expected``: the document prints its other figures with two decimals,
    so a labelled amount printed without any ("Amount: 31192") may carry implied
    decimals: it is read as written but capped at :data:`CONF_DOUBTFUL`.
    """

    def read(rest: str, _label: Label) -> Read[Decimal] | None:
        if _NOT_THE_TOTAL.match(rest):
            return None
        head = rest[:300]
        tokens = find_amounts(head, decimal_comma=decimal_comma)
        # Skip what is clearly not money: a year or a day inside a date on the line.
        day = find_date(head)
        if day is not None:
            tokens = [t for t in tokens if t.end <= day.start or t.start >= day.end]
        if not tokens:
            return None
        token = tokens[-1] if last else tokens[0]
        cap = CONF_DOUBTFUL if cents_expected and token.decimals == 0 else 1.0
        return Read(token.value, token.raw, cap)

    return read


def prints_cents(lines: list[str], decimal_comma: bool) -> bool:
    """Whether the document writes its money with two decimals (at least two such
    figures), so that one written without any stands out."""
    n = 0
    for line in lines:
        n += sum(1 for t in find_amounts(line, decimal_comma=decimal_comma) if t.decimals == 2)
        if n >= 2:
            return True
    return False


# ------------------------------------------------------------------------------ shared labels

INVOICE_NO = labels(
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
PO = labels(
    [
        (r"\bP\.?\s?O\.?\s*(?:number|no\.?|num|#)", 9),
        (r"\bpurchase\s*order\s*(?:number|no\.?|#)?", 9),
        (r"\bP\.?O\.?(?=\s*:)", 7),
        (r"\bcustomer\s*PO\b", 8),
    ]
)
INVOICE_DATE = labels(
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

__all__ = [
    "CONF_COLUMN_BELOW",
    "CONF_DOUBTFUL",
    "CONF_NEXT_LINE",
    "CONF_PATTERN_ONLY",
    "CONF_SAME_LINE",
    "CONF_SAME_LINE_COLON",
    "INVOICE_DATE",
    "INVOICE_NO",
    "MAX_LINE_CHARS",
    "MAX_TEXT_CHARS",
    "PO",
    "REVIEW_BELOW",
    "ExtractedField",
    "Hit",
    "Label",
    "Read",
    "amount_reader",
    "best",
    "cells",
    "date_reader",
    "field_values",
    "labels",
    "prepare",
    "prints_cents",
    "read_code",
    "read_ident",
    "read_int",
    "read_text",
    "scan",
]
