"""Importing the supplier's own records: invoices, promotions, shipments and
remittances, from CSV, JSON, or (remittances) EDI X12 820.

A file is all or nothing: every row is parsed and validated first, and a
file with any bad row is refused as a whole with line-numbered errors, so
nothing is half-applied. ``skip_bad`` imports the good rows and writes the
rejects (line, error, raw row) to a CSV beside the import. Column layouts are
documented in docs/erp-import.md; ``fixtures export-erp`` writes exactly them.

Numbers are exact or refused: an amount with more decimals than its column
keeps (``0.125`` for a total) is refused, not rounded; an accountant's
negative ``(5.00)`` is read as -5.00 and then meets its column's sign rule
(a rate cannot be negative); a CSV header or JSON object that names a column
twice is refused, naming it, instead of keeping the last value. X12 820 files
are read by :mod:`store.x12.remittances`, which keeps each segment's text.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session, sessionmaker

from records.bounded_json import JsonTooDeep, check_depth
from records.normalize import NormalizationError, clean_text, parse_amount, parse_date
from records.schemas import (
    ErpInvoiceLineRecord,
    ErpInvoiceRecord,
    ErpPromotionRecord,
    ErpShipmentRecord,
    RemittanceAdjustmentRecord,
    RemittanceLineRecord,
    RemittanceRecord,
)
from store.repositories import erp
from store.x12.envelope import decode_x12
from store.x12.remittances import read_remittances

Kind = Literal["invoices", "promotions", "shipments", "remittances"]
KINDS: tuple[Kind, ...] = ("invoices", "promotions", "shipments", "remittances")
MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_ROWS = 5_000_000
MAX_FIELD_CHARS = 10_000

COLUMNS: dict[Kind, tuple[str, ...]] = {
    "invoices": (
        "invoice_number",
        "customer",
        "po_number",
        "invoice_date",
        "due_date",
        "ship_to",
        "currency",
        "total",
        "sku",
        "description",
        "quantity",
        "unit_price",
        "amount",
    ),
    "promotions": (
        "promo_id",
        "customer",
        "description",
        "skus",
        "start_date",
        "end_date",
        "rate_per_unit",
        "max_amount",
    ),
    "shipments": (
        "shipment_id",
        "invoice_number",
        "po_number",
        "customer",
        "carrier",
        "pro_number",
        "bol_number",
        "ship_date",
        "cases_shipped",
        "freight_terms",
    ),
    "remittances": (
        "remittance_id",
        "customer",
        "payment_date",
        "total_paid",
        "currency",
        "invoice_number",
        "invoice_amount",
        "paid_amount",
        "adjustment_reference",
        "adjustment_reason",
        "adjustment_amount",
    ),
}
REQUIRED: dict[Kind, tuple[str, ...]] = {
    "invoices": ("invoice_number", "customer", "invoice_date", "total"),
    "promotions": ("promo_id", "customer", "start_date", "end_date", "rate_per_unit"),
    "shipments": ("shipment_id",),
    "remittances": ("remittance_id", "customer", "payment_date", "total_paid"),
}


@dataclass(frozen=True)
class RowError:
    """A refused row: ``line`` is a line number, or a segment position for X12
    (``unit`` says which; an X12 message names the whole place itself)."""

    line: int
    message: str
    raw: str = ""
    unit: str = "line"

    def __str__(self) -> str:
        return f"{self.unit} {self.line}: {self.message}"


class ImportRefused(ValueError):
    """The file was refused as a whole; ``errors`` name each bad line."""

    def __init__(self, path: str, errors: list[RowError]) -> None:
        self.errors = errors
        shown = "\n".join(f"{path}: {e}" for e in errors[:50])
        more = f"\n... and {len(errors) - 50} more" if len(errors) > 50 else ""
        super().__init__(f"{len(errors)} bad rows; nothing imported:\n{shown}{more}")


@dataclass(frozen=True)
class TotalCheck:
    """A file's own total beside the sum the fleet read (an X12 820's BPR02
    against its RMR04s and loop-level adjustments)."""

    record: str
    stated: Decimal
    read: Decimal
    ok: bool
    note: str = ""


@dataclass
class ImportResult:
    kind: Kind
    records: int = 0
    created: int = 0
    changed: int = 0
    unchanged: int = 0
    rejected: list[RowError] = field(default_factory=list)
    rejects_file: Path | None = None
    transactions: int | None = None  # X12: transaction sets read
    checks: list[TotalCheck] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


# --------------------------------------------------------------------- reading


def detect_format(path: Path) -> Literal["csv", "json", "x12"]:
    with path.open("rb") as fh:
        head = fh.read(512).lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"ISA"):
        return "x12"
    if head[:1] in (b"[", b"{"):
        return "json"
    return "csv"


def _rows_csv(text: str, kind: Kind) -> Iterator[tuple[int, dict[str, str]]]:
    csv.field_size_limit(MAX_FIELD_CHARS)
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    header = [h.strip() for h in (reader.fieldnames or [])]
    twice = sorted({h for h in header if header.count(h) > 1})
    if twice:
        raise ImportRefused(
            "",
            [
                RowError(
                    1, f"column(s) named twice: {', '.join(twice)}; which one counts is unknown"
                )
            ],
        )
    missing = [c for c in REQUIRED[kind] if c not in header]
    if missing:
        raise ImportRefused(
            "",
            [
                RowError(
                    1,
                    f"missing column(s): {', '.join(missing)}; expected {', '.join(COLUMNS[kind])}",
                )
            ],
        )
    unknown = [h for h in header if h not in COLUMNS[kind]]
    if unknown:
        raise ImportRefused("", [RowError(1, f"unknown column(s): {', '.join(unknown)}")])
    reader.fieldnames = header
    try:
        for n, row in enumerate(reader):
            if n >= MAX_ROWS:
                raise ImportRefused("", [RowError(reader.line_num, f"more than {MAX_ROWS} rows")])
            if None in row:
                yield reader.line_num, {"__error__": "more fields than the header has"}
                continue
            yield reader.line_num, {k: (v or "").strip() for k, v in row.items()}
    except csv.Error as exc:
        raise ImportRefused("", [RowError(reader.line_num, f"unreadable CSV: {exc}")]) from None


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refusing a key given twice (json keeps the last silently)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(
                f"key {key!r} given twice in one object; which one counts is unknown"
            )
        out[key] = value
    return out


# Numbers stay exact: a JSON 0.125 is Decimal("0.125"), never a float.
_DECODER = json.JSONDecoder(object_pairs_hook=_unique_keys, parse_float=Decimal)


def _rows_json(text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Top-level array items (or an object's single list) with the line each starts on."""
    decoder = _DECODER
    try:
        check_depth(text)
    except JsonTooDeep as exc:
        raise ImportRefused("", [RowError(1, str(exc))]) from None
    i = _skip_ws(text, 0)
    if text.startswith("{", i):
        try:
            obj = decoder.decode(text)
        except json.JSONDecodeError as exc:
            raise ImportRefused("", [RowError(exc.lineno, f"invalid JSON: {exc.msg}")]) from None
        except _DuplicateKey as exc:
            raise ImportRefused("", [RowError(1, str(exc))]) from None
        lists = [v for v in obj.values() if isinstance(v, list)] if isinstance(obj, dict) else []
        if len(lists) != 1:
            raise ImportRefused(
                "", [RowError(1, "expected a JSON array of records (or an object holding one)")]
            )
        start = text.index("[", i)
        i = start
    if not text.startswith("[", i):
        raise ImportRefused("", [RowError(1, "expected a JSON array of records")])
    i = _skip_ws(text, i + 1)
    while i < len(text) and text[i] != "]":
        line = text.count("\n", 0, i) + 1
        try:
            item, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError as exc:
            raise ImportRefused("", [RowError(exc.lineno, f"invalid JSON: {exc.msg}")]) from None
        except _DuplicateKey as exc:
            raise ImportRefused("", [RowError(line, str(exc))]) from None
        yield line, item if isinstance(item, dict) else {"__error__": "not a JSON object"}
        i = _skip_ws(text, end)
        if i < len(text) and text[i] == ",":
            i = _skip_ws(text, i + 1)


def _skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


# --------------------------------------------------------------------- building records


# Each money column: the decimals it keeps and whether it may be negative.
MONEY_RULES: dict[str, tuple[int, bool]] = {
    "total": (2, True),  # a credit invoice is negative
    "unit_price": (4, False),
    "amount": (2, True),
    "rate_per_unit": (4, False),
    "max_amount": (2, False),
    "total_paid": (2, True),  # deductions can exceed what a remittance pays
    "invoice_amount": (2, True),
    "paid_amount": (2, True),
    "adjustment amount": (2, True),  # positive reduces the payment
}


def _money(value: Any, column: str) -> Decimal:
    """An ERP amount, exact, read by the one parser (records.parse.parse_amount):
    ``1234.56``, ``"1,234.56"``, ``$1,234.56``, ``-5.00``, ``5.00-`` and an
    accountant's ``(5.00)`` are all read; more decimals than ``column`` keeps,
    two signs, or a negative where it cannot be, is refused with the column's
    name; nothing is rounded. A binary float is refused outright."""
    places, signed = MONEY_RULES[column]
    if isinstance(value, bool | float):
        raise NormalizationError(f"{column}: {value!r} is not an exact amount")
    try:
        amount = parse_amount(value, places=places)
    except NormalizationError as exc:
        raise NormalizationError(f"{column}: {exc}") from None
    if amount < 0 and not signed:
        shown = str(value).strip()[:40]
        raise NormalizationError(f"{column}: {shown!r} is negative; {column} cannot be")
    return amount


def _opt_money(v: Any, column: str) -> Decimal | None:
    return None if v in (None, "") else _money(v, column)


def _opt_date(v: Any) -> Any:
    return None if v in (None, "") else parse_date(v)


def _int(v: Any, default: int = 0) -> int:
    if v in (None, ""):
        return default
    try:
        return int(str(v).replace(",", "").strip())
    except ValueError:
        raise NormalizationError(f"not a whole number: {str(v)[:40]!r}") from None


def _invoice_line(r: dict[str, Any]) -> ErpInvoiceLineRecord | None:
    if not r.get("sku"):
        return None
    return ErpInvoiceLineRecord(
        sku=r["sku"],
        description=clean_text(r.get("description")),
        quantity=_int(r.get("quantity")),
        unit_price=_money(r.get("unit_price") or 0, "unit_price"),
        amount=_money(r.get("amount") or 0, "amount"),
    )


def _invoice(r: dict[str, Any]) -> ErpInvoiceRecord:
    lines = r.get("lines")
    built = (
        [
            ErpInvoiceLineRecord(
                **{
                    **ln,
                    "unit_price": _money(ln.get("unit_price", 0), "unit_price"),
                    "amount": _money(ln.get("amount", 0), "amount"),
                }
            )
            for ln in lines
        ]
        if isinstance(lines, list)
        else [x for x in [_invoice_line(r)] if x]
    )
    return ErpInvoiceRecord(
        invoice_number=str(r.get("invoice_number", "")),
        customer=str(r.get("customer", "")),
        po_number=str(r.get("po_number") or ""),
        invoice_date=parse_date(r["invoice_date"]),
        due_date=_opt_date(r.get("due_date")),
        ship_to=clean_text(r.get("ship_to")),
        currency=str(r.get("currency") or "USD"),
        total=_money(r["total"], "total"),
        lines=built,
        raw=_raw(r),
    )


def _promotion(r: dict[str, Any]) -> ErpPromotionRecord:
    skus = r.get("skus") or []
    if isinstance(skus, str):
        skus = [s.strip() for s in skus.split(";") if s.strip()]
    return ErpPromotionRecord(
        promo_id=str(r.get("promo_id", "")),
        customer=str(r.get("customer", "")),
        description=clean_text(r.get("description")),
        skus=skus,
        start_date=parse_date(r["start_date"]),
        end_date=parse_date(r["end_date"]),
        rate_per_unit=_money(r["rate_per_unit"], "rate_per_unit"),
        max_amount=_opt_money(r.get("max_amount"), "max_amount"),
        raw=_raw(r),
    )


def _shipment(r: dict[str, Any]) -> ErpShipmentRecord:
    return ErpShipmentRecord(
        shipment_id=str(r.get("shipment_id", "")),
        invoice_number=str(r.get("invoice_number") or ""),
        po_number=str(r.get("po_number") or ""),
        customer=str(r.get("customer") or ""),
        carrier=str(r.get("carrier") or ""),
        pro_number=str(r.get("pro_number") or ""),
        bol_number=str(r.get("bol_number") or ""),
        ship_date=_opt_date(r.get("ship_date")),
        cases_shipped=_int(r.get("cases_shipped")),
        freight_terms=(r.get("freight_terms") or None),
        raw=_raw(r),
    )


def _remittance_json(r: dict[str, Any]) -> RemittanceRecord:
    lines = []
    for ln in r.get("lines") or []:
        adjs = [
            RemittanceAdjustmentRecord(
                reference=str(a.get("reference", "")),
                reason_code=str(a.get("reason_code") or ""),
                amount=_money(a["amount"], "adjustment amount"),
            )
            for a in ln.get("adjustments") or []
        ]
        lines.append(
            RemittanceLineRecord(
                invoice_number=str(ln.get("invoice_number", "")),
                invoice_amount=_money(ln["invoice_amount"], "invoice_amount"),
                paid_amount=_money(ln["paid_amount"], "paid_amount"),
                adjustments=adjs,
            )
        )
    return RemittanceRecord(
        remittance_id=str(r.get("remittance_id", "")),
        customer=str(r.get("customer", "")),
        payment_date=parse_date(r["payment_date"]),
        total_paid=_money(r["total_paid"], "total_paid"),
        currency=str(r.get("currency") or "USD"),
        lines=lines,
        raw=_raw(r),
    )


def _raw(r: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in r.items() if not k.startswith("__")}


def _explain(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'row'}: {e['msg']}" for e in exc.errors()[:5]
        )
    if isinstance(exc, KeyError):
        return f"missing value: {exc.args[0]}"
    return str(exc)


Built = tuple[int, BaseModel | None, RowError | None]


def _build(
    rows: Iterator[tuple[int, dict[str, Any]]], make: Callable[[dict[str, Any]], BaseModel]
) -> Iterator[Built]:
    for line, r in rows:
        if "__error__" in r:
            yield line, None, RowError(line, r["__error__"], json.dumps(r)[:500])
            continue
        try:
            yield line, make(r), None
        except (ValidationError, NormalizationError, KeyError, TypeError, ValueError) as exc:
            yield line, None, RowError(line, _explain(exc), json.dumps(r, default=str)[:500])


def _group_csv(kind: Kind, rows: Iterator[tuple[int, dict[str, str]]]) -> Iterator[Built]:
    """CSV rows to records: invoices and remittances span several rows each."""
    if kind == "promotions":
        yield from _build(rows, _promotion)
        return
    if kind == "shipments":
        yield from _build(rows, _shipment)
        return
    groups: dict[tuple[str, str], list[tuple[int, dict[str, str]]]] = {}
    key_col = "invoice_number" if kind == "invoices" else "remittance_id"
    bad: list[Built] = []
    for line, r in rows:
        if "__error__" in r:
            bad.append((line, None, RowError(line, r["__error__"])))
            continue
        groups.setdefault((r.get("customer", ""), r.get(key_col, "")), []).append((line, r))
    yield from bad
    for members in groups.values():
        first_line, first = members[0]
        header_cols = [c for c in REQUIRED[kind] if c != key_col] + (
            ["po_number", "invoice_date", "due_date", "currency"] if kind == "invoices" else []
        )
        clash = next(
            (
                (ln, c)
                for ln, r in members[1:]
                for c in header_cols
                if r.get(c, "") != first.get(c, "")
            ),
            None,
        )
        if clash:
            ln, col = clash
            yield (
                ln,
                None,
                RowError(
                    ln,
                    f"{col} differs from line {first_line} for the same "
                    f"{key_col} {first.get(key_col)!r}",
                ),
            )
            continue
        try:
            if kind == "invoices":
                lines = [x for x in (_invoice_line(r) for _, r in members) if x]
                rec: ErpInvoiceRecord | RemittanceRecord = _invoice(
                    {**first, "lines": [x.model_dump() for x in lines]}
                )
            else:
                rec = _remittance_json({**first, "lines": _remittance_lines(members)})
            if len(members) > 1:  # every row's text is kept, not only the first's
                member_rows = [{"line": ln, **r} for ln, r in members]
                rec = rec.model_copy(update={"raw": {**rec.raw, "rows": member_rows}})
            yield first_line, rec, None
        except (ValidationError, NormalizationError, KeyError, TypeError, ValueError) as exc:
            yield first_line, None, RowError(first_line, _explain(exc))


def _remittance_lines(members: list[tuple[int, dict[str, str]]]) -> list[dict[str, Any]]:
    by_invoice: dict[str, dict[str, Any]] = {}
    for _, r in members:
        inv = r.get("invoice_number", "")  # "" holds free-floating adjustments
        ln = by_invoice.setdefault(
            inv,
            {
                "invoice_number": inv,
                "invoice_amount": r.get("invoice_amount") or "0",
                "paid_amount": r.get("paid_amount") or "0",
                "adjustments": [],
            },
        )
        if r.get("adjustment_reference") or r.get("adjustment_amount"):
            ln["adjustments"].append(
                {
                    "reference": r.get("adjustment_reference", ""),
                    "reason_code": r.get("adjustment_reason", ""),
                    "amount": r.get("adjustment_amount") or "0",
                }
            )
    return list(by_invoice.values())


MAKERS: dict[Kind, Callable[[dict[str, Any]], BaseModel]] = {
    "invoices": _invoice,
    "promotions": _promotion,
    "shipments": _shipment,
    "remittances": _remittance_json,
}


@dataclass
class _Read:
    good: list[tuple[int, BaseModel]]
    bad: list[RowError]
    transactions: int | None = None
    checks: list[TotalCheck] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


def read_file(kind: Kind, path: Path) -> tuple[list[tuple[int, BaseModel]], list[RowError]]:
    """Parse and validate a whole file: (line, record) pairs and the bad lines."""
    read = _read(kind, path)
    return read.good, read.bad


def _read(kind: Kind, path: Path) -> _Read:
    if kind not in KINDS:
        raise ValueError(f"unknown import kind {kind!r}; one of {', '.join(KINDS)}")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ImportRefused(
            str(path), [RowError(0, f"file is {size} bytes, over the {MAX_FILE_BYTES} limit")]
        )
    fmt = detect_format(path)
    out = _Read([], [])
    try:
        if fmt == "x12":
            if kind != "remittances":
                raise ImportRefused(
                    str(path),
                    [RowError(1, "X12 files here are remittances (820); 812s: import adjustments")],
                )
            built: Iterator[Built] = iter(_x12_remittances(path, out))
        else:
            text = path.read_text(encoding="utf-8-sig")
            if fmt == "json":
                built = _build(_rows_json(text), MAKERS[kind])
            else:
                built = _group_csv(kind, _rows_csv(text, kind))
            built = iter(list(built))
    except UnicodeDecodeError as exc:
        raise ImportRefused(str(path), [RowError(0, f"not UTF-8 text: {exc.reason}")]) from None
    except ImportRefused as exc:
        raise ImportRefused(str(path), exc.errors) from None
    seen: dict[tuple[str, ...], int] = {}
    unit = "segment" if fmt == "x12" else "line"
    for line, rec, err in built:
        if err is not None:
            out.bad.append(err)
            continue
        assert rec is not None
        key = _key(kind, rec)
        if key in seen:
            out.bad.append(
                RowError(line, f"duplicate of the record on {unit} {seen[key]}", unit=unit)
            )
            continue
        seen[key] = line
        out.good.append((line, rec))
    out.bad.sort(key=lambda e: e.line)
    return out


def _x12_remittances(path: Path, out: _Read) -> list[Built]:
    """An 820 file through the X12 reader; totals checked and warnings kept in ``out``."""
    text, decoded = decode_x12(path.read_bytes())
    read = read_remittances(text)
    out.transactions = len(read.parsed.transactions)
    out.notices = ([decoded] if decoded else []) + [str(n) for n in read.notices]
    built: list[Built] = []
    for err in read.errors:
        seg = err.where.segment or 0
        built.append((seg, None, RowError(seg, str(err), err.text, "segment")))
    for rem in read.remittances:
        b = rem.balance
        note = "" if b.balanced else "; ".join(("flagged: BPR02 does not balance", *b.hints))
        out.checks.append(
            TotalCheck(
                f"remittance {rem.record.remittance_id}", b.bpr02, b.computed, b.balanced, note
            )
        )
        built.append((rem.where.segment or 0, rem.record, None))
    return built


def _key(kind: Kind, rec: BaseModel) -> tuple[str, ...]:
    if isinstance(rec, ErpInvoiceRecord):
        return (rec.customer, rec.invoice_number)
    if isinstance(rec, ErpPromotionRecord):
        return (rec.promo_id,)
    if isinstance(rec, ErpShipmentRecord):
        return (rec.shipment_id,)
    assert isinstance(rec, RemittanceRecord)
    return (rec.remittance_id,)


UPSERT: dict[Kind, Callable[[Session, Any], Any]] = {
    "invoices": erp.upsert_invoice,
    "promotions": erp.upsert_promotion,
    "shipments": erp.upsert_shipment,
    "remittances": erp.upsert_remittance,
}


def import_file(
    factory: sessionmaker[Session],
    kind: Kind,
    path: Path,
    *,
    skip_bad: bool = False,
    rejects_path: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Validate the whole file, then write it in one transaction."""
    read = _read(kind, path)
    good, bad = read.good, read.bad
    if bad and not skip_bad:
        raise ImportRefused(str(path), bad)
    result = ImportResult(
        kind=kind,
        records=len(good),
        rejected=bad,
        transactions=read.transactions,
        checks=read.checks,
        notices=read.notices,
    )
    with factory() as session, session.begin():
        for i, (_, rec) in enumerate(good, start=1):
            outcome = UPSERT[kind](session, rec)
            if outcome.created:
                result.created += 1
            elif outcome.changed:
                result.changed += 1
            else:
                result.unchanged += 1
            if progress is not None and (i % 500 == 0 or i == len(good)):
                progress(i, len(good))
    if bad:
        result.rejects_file = write_rejects(path, bad, rejects_path)
    return result


def write_rejects(path: Path, bad: list[RowError], rejects_path: Path | None = None) -> Path:
    """The refused rows beside the import (``FILE.rejects.csv``): where, why, raw."""
    out = rejects_path or path.with_name(path.name + ".rejects.csv")
    with out.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow([bad[0].unit if bad else "line", "error", "raw"])
        for e in bad:
            w.writerow([e.line, e.message, e.raw])
    return out
