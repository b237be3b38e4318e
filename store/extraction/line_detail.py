"""A claim's line detail served as CSV (FreshCo's "detail.csv"): one deduction line
per row.

The header names the columns, in any order and with the usual synonyms
(``sku``/``item``/``upc``, ``qty``/``quantity``/``cases``, ``unit cost``/``price``,
``amount``/``extended``); the delimiter is sniffed among ``, ; tab |``; the
encoding is UTF-8 (with or without BOM), else Windows-1252. Amounts go through
the one strict parser (:func:`records.parse.parse_amount`, two places; unit
costs four), so nothing is rounded.

Untrusted input: at most :data:`MAX_BYTES` bytes, :data:`MAX_ROWS` rows and
:data:`MAX_CELL` characters a cell are read. Every row is kept as printed
(``raw``). A row that cannot be read, a cut-off file or a row whose quantity
times unit cost is not its amount is named in :attr:`LineDetail.problems`,
and then every line is doubted (:data:`~store.extraction.labels.CONF_DOUBTFUL`):
a partial list of lines must not decide what a claim is worth.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field, replace

from records.parse import NormalizationError, parse_amount
from store.extraction.backup import LINE_CONSISTENT, LineItem, line_confidence
from store.extraction.labels import CONF_DOUBTFUL

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 2000
MAX_CELL = 500
MAX_PROBLEMS = 20
CSV_CONSISTENT = 0.98  # a structured row whose arithmetic holds

_COLUMNS: dict[str, tuple[str, ...]] = {
    "sku": ("sku", "item", "item number", "item no", "item #", "upc", "product", "article"),
    "description": ("description", "desc", "item description", "product description"),
    "quantity": ("quantity", "qty", "units", "cases", "qty cases", "quantity cases"),
    "unit_cost": ("unit cost", "unit price", "cost", "price", "rate", "unit_cost"),
    "amount": ("amount", "extended", "extended amount", "ext amount", "line amount", "total"),
}


class LineDetailError(ValueError):
    """The file is not a line detail this reader understands (the reason says why)."""


@dataclass(frozen=True)
class LineDetail:
    lines: list[LineItem]
    rows: int  # data rows seen (read or not)
    header: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _column_map(header: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for i, name in enumerate(header):
        key = re.sub(r"[\s_]+", " ", name.strip().lower())
        for column, synonyms in _COLUMNS.items():
            if column not in found and key in synonyms:
                found[column] = i
    missing = [c for c in ("sku", "quantity", "amount") if c not in found]
    if missing:
        raise LineDetailError(
            f"no {', '.join(missing)} column in the header {[h[:40] for h in header[:12]]}"
        )
    return found


def _quantity(text: str) -> int:
    s = text.strip().replace(",", "")
    if not re.fullmatch(r"[-+]?\d{1,9}", s):
        raise NormalizationError(f"not a quantity: {s[:40]!r}")
    return int(s)


def read_line_detail(data: bytes, *, decimal_comma: bool = False) -> LineDetail:
    """The lines of a CSV line detail, or LineDetailError when it has no usable header."""
    truncated = len(data) > MAX_BYTES
    text = _decode(data[:MAX_BYTES])
    if not text.strip():
        raise LineDetailError("empty file")
    head = text[:4096]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(head, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    problems: list[str] = []
    try:
        header = [c[:MAX_CELL] for c in next(reader)]
    except (StopIteration, csv.Error) as exc:
        raise LineDetailError(f"no header row ({exc})") from None
    columns = _column_map(header)
    lines: list[LineItem] = []
    rows = 0
    try:
        for row in reader:
            if not any(c.strip() for c in row):
                continue
            rows += 1
            if rows > MAX_ROWS:
                problems.append(f"more than {MAX_ROWS} rows: only the first {MAX_ROWS} read")
                break
            line = _line(row, columns, rows, decimal_comma, problems)
            if line is not None:
                lines.append(line)
    except csv.Error as exc:
        problems.append(f"row {rows + 1}: unreadable CSV ({str(exc)[:80]})")
    if truncated:
        problems.append(f"file larger than {MAX_BYTES} bytes: only the start was read")
    if problems:
        lines = [replace(ln, confidence=min(ln.confidence, CONF_DOUBTFUL)) for ln in lines]
    return LineDetail(lines, rows, header, problems[:MAX_PROBLEMS])


def _line(
    row: list[str], columns: dict[str, int], n: int, decimal_comma: bool, problems: list[str]
) -> LineItem | None:
    cells = [c[:MAX_CELL] for c in row]

    def cell(name: str) -> str:
        i = columns.get(name)
        return cells[i] if i is not None and i < len(cells) else ""

    raw = ",".join(cells)[:300]
    try:
        quantity = _quantity(cell("quantity"))
        amount = parse_amount(cell("amount"), decimal_comma=decimal_comma)
        unit_text = cell("unit_cost").strip()
        unit = parse_amount(unit_text, decimal_comma=decimal_comma, places=4) if unit_text else None
    except NormalizationError as exc:
        problems.append(f"row {n}: {exc}")
        return None
    sku = cell("sku").strip()
    if not sku:
        problems.append(f"row {n}: no item number")
        return None
    confidence = line_confidence(quantity, unit, amount)
    if confidence < LINE_CONSISTENT and unit is not None:
        problems.append(f"row {n}: {quantity} x {unit} is not {amount}")
    return LineItem(
        sku=sku[:100],
        description=" ".join(cell("description").split())[:300],
        quantity=quantity,
        unit_cost=unit,
        amount=amount,
        confidence=CSV_CONSISTENT if confidence >= LINE_CONSISTENT else confidence,
        raw=raw,
    )


__all__ = ["MAX_BYTES", "MAX_ROWS", "LineDetail", "LineDetailError", "read_line_detail"]
