"""Remittance advice as EDI X12 820 (4010/5010 retail use).

pyx12's reader does the envelope work (delimiters from ISA, segment counts,
control numbers); this module maps the segments that matter for deductions:
one ST..SE transaction is one remittance:

    BPR02  total paid            BPR16 / DTM  payment date
    TRN02  trace (check/EFT) number, the remittance id
    N1*PR  payer (the retailer, our customer)
    RMR    RMR02 invoice, RMR04 amount paid, RMR05 invoice amount
    ADX    ADX01 amount (positive reduces the payment), ADX02 reason, ADX04 reference

An ADX before any RMR is "free-floating" (e.g. reference CB12345): it is kept
on a line with no invoice, since that is exactly what the robots look up.
Control numbers are never used to de-duplicate: interchanges reuse them.
"""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyx12.x12file
from pydantic import ValidationError

from records.normalize import NormalizationError, parse_amount, parse_date
from records.schemas import (
    RemittanceAdjustmentRecord,
    RemittanceLineRecord,
    RemittanceRecord,
)

MAX_SEGMENTS = 2_000_000


def _el(seg: Any, n: int) -> str:
    """Element n (1-based) of a segment, or '' when absent."""
    try:
        value = seg.get_value(f"{seg.get_seg_id()}{n:02d}")
    except (IndexError, AttributeError, KeyError):
        return ""
    return (value or "").strip()


def read_820(path: Path) -> list[tuple[int, Any, Any]]:
    """(segment number, RemittanceRecord | None, RowError | None) per transaction."""
    from store.erp_import import RowError

    text = path.read_text(encoding="utf-8-sig", errors="strict")
    try:
        reader = pyx12.x12file.X12Reader(io.StringIO(text))
        segments = []
        for n, seg in enumerate(reader, start=1):
            if n > MAX_SEGMENTS:
                return [(n, None, RowError(n, f"more than {MAX_SEGMENTS} segments"))]
            segments.append((n, seg))
        errors = reader.pop_errors() if hasattr(reader, "pop_errors") else []
    except Exception as exc:  # pyx12 raises its own and plain errors on broken envelopes
        return [(1, None, RowError(1, f"unreadable X12: {exc}"))]
    out: list[tuple[int, Any, Any]] = []
    for err in errors or []:
        out.append((1, None, RowError(1, f"X12 envelope: {err}")))
    current: dict[str, Any] | None = None
    for n, seg in segments:
        sid = seg.get_seg_id()
        if sid == "ST":
            if _el(seg, 1) != "820":
                out.append((n, None, RowError(n, f"transaction set {_el(seg, 1)}, not 820")))
                current = None
                continue
            current = {"start": n, "lines": [], "free": [], "line": None, "bad": None}
        elif current is None:
            continue
        elif sid == "BPR":
            current["total_paid"] = _el(seg, 2)
            current["currency"] = "USD"
            if _el(seg, 16):
                current["payment_date"] = _el(seg, 16)
        elif sid == "TRN":
            current["remittance_id"] = _el(seg, 2)
        elif sid == "CUR":
            current["currency"] = _el(seg, 2) or "USD"
        elif sid == "DTM" and "payment_date" not in current and _el(seg, 1) in ("097", "234"):
            current["payment_date"] = _el(seg, 2)
        elif sid == "N1" and _el(seg, 1) == "PR":
            current["customer"] = _el(seg, 2)
        elif sid == "RMR":
            line = {
                "invoice_number": _el(seg, 2),
                "paid_amount": _el(seg, 4) or "0",
                "invoice_amount": _el(seg, 5) or _el(seg, 4) or "0",
                "adjustments": [],
                "segment": n,
            }
            current["lines"].append(line)
            current["line"] = line
        elif sid == "ADX":
            adj = {
                "amount": _el(seg, 1),
                "reason_code": _el(seg, 2),
                "reference": _el(seg, 4),
                "segment": n,
            }
            (current["line"]["adjustments"] if current["line"] else current["free"]).append(adj)
        elif sid == "SE":
            out.append(_finish(current, RowError))
            current = None
    if current is not None:
        out.append((current["start"], None, RowError(current["start"], "transaction without SE")))
    return out


def _finish(t: dict[str, Any], row_error: Any) -> tuple[int, Any, Any]:
    start = t["start"]
    try:
        lines = [
            RemittanceLineRecord(
                invoice_number=ln["invoice_number"],
                invoice_amount=parse_amount(ln["invoice_amount"]),
                paid_amount=parse_amount(ln["paid_amount"]),
                adjustments=[_adjustment(a) for a in ln["adjustments"]],
            )
            for ln in t["lines"]
        ]
        if t["free"]:
            lines.append(
                RemittanceLineRecord(
                    invoice_number="",
                    invoice_amount=Decimal("0"),
                    paid_amount=Decimal("0"),
                    adjustments=[_adjustment(a) for a in t["free"]],
                )
            )
        payment = _x12_date(t.get("payment_date", ""))
        record = RemittanceRecord(
            remittance_id=t.get("remittance_id", ""),
            customer=t.get("customer", ""),
            payment_date=payment,
            total_paid=parse_amount(t.get("total_paid", "")),
            currency=t.get("currency", "USD"),
            lines=lines,
            raw={"format": "x12-820", "segment": start},
        )
    except (ValidationError, NormalizationError, ValueError) as exc:
        msg = (
            "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3])
            if isinstance(exc, ValidationError)
            else str(exc)
        )
        return start, None, row_error(start, f"820 transaction at segment {start}: {msg}")
    return start, record, None


def _adjustment(a: dict[str, Any]) -> RemittanceAdjustmentRecord:
    return RemittanceAdjustmentRecord(
        reference=a["reference"], reason_code=a["reason_code"], amount=parse_amount(a["amount"])
    )


def _x12_date(value: str) -> date:
    if len(value) == 6 and value.isdigit():  # YYMMDD in 4010 headers
        value = "20" + value
    return parse_date(value)
