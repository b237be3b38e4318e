"""Field accuracy of document extraction on the fixture world's documents.

Renders every text-PDF backup and POD and every CSV line detail of a generated
world, reads it through the same worker and readers the fleet uses, and
compares each field with the scenario's own data. Lines count as read when the
reader trusts them (confidence at the matcher's threshold) and they equal the
claim's lines exactly (item, quantity, unit cost, amount; the CSV's
description too: a PDF table may cut it short). Prints accuracy per field.

    .venv/bin/python bench/field_accuracy.py [--seed 7] [--size small|medium] [--limit N]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from decimal import Decimal
from typing import Any

from fixtures.documents import render_deduction_document, render_pod
from fixtures.generator import generate
from fixtures.scenario import DocumentForm, DocumentKind
from matching.model import MIN_FIELD_CONFIDENCE
from store.extraction import (
    LineItem,
    PdfExtractor,
    extract_backup_fields,
    extract_pod_fields,
    read_line_detail,
)


def _value(fields: Any, name: str) -> Any:
    f = getattr(fields, name, None)
    return getattr(f, "value", None)


def _same_lines(got: list[LineItem], want: list[Any], *, descriptions: bool) -> bool:
    if len(got) != len(want) or any(g.confidence < MIN_FIELD_CONFIDENCE for g in got):
        return False
    return all(
        (g.sku, g.quantity, g.unit_cost, g.amount) == (w.sku, w.quantity, w.unit_cost, w.amount)
        and (not descriptions or g.description == " ".join(w.description.split()))
        for g, w in zip(got, want, strict=True)
    )


def measure(seed: int, size: str, limit: int | None = None) -> dict[str, tuple[int, int]]:
    sc = generate(seed, size)  # type: ignore[arg-type]
    hits: Counter[str] = Counter()
    tries: Counter[str] = Counter()
    extractor = PdfExtractor()
    try:
        backups = [
            (d, s)
            for d in sc.deductions
            for s in d.documents
            if s.kind is DocumentKind.backup and s.form is DocumentForm.pdf
        ]
        for d, spec in backups[:limit]:
            text = extractor.extract(render_deduction_document(sc, d, spec)).text
            got = extract_backup_fields(text)
            expected: dict[str, Any] = {
                "claim_number": d.deduction_id,
                "invoice_number": d.invoice_number,
                "po_number": d.po_number or None,
                "amount": d.amount,
                "reason_code": d.reason_code or None,
                "invoice_date": d.invoice_date,
            }
            for name, want in expected.items():
                if want is None:
                    continue
                tries[f"backup.{name}"] += 1
                have = _value(got, name)
                if isinstance(want, Decimal) and have is not None:
                    have = Decimal(have)
                hits[f"backup.{name}"] += have == want
            if d.lines:
                tries["backup.lines"] += 1
                hits["backup.lines"] += _same_lines(got.lines, d.lines, descriptions=False)
        details = [
            (d, s)
            for d in sc.deductions
            for s in d.documents
            if s.kind is DocumentKind.line_detail and s.form is DocumentForm.csv
        ]
        for d, spec in details[:limit]:
            detail = read_line_detail(render_deduction_document(sc, d, spec))
            tries["line_detail.lines"] += 1
            hits["line_detail.lines"] += not detail.problems and _same_lines(
                detail.lines, d.lines, descriptions=True
            )
        pods = [s for s in sc.shipments if s.pod_form is DocumentForm.pdf]
        for s in pods[:limit]:
            got = extract_pod_fields(extractor.extract(render_pod(sc, s)).text)
            expected = {
                "pro_number": s.pro_number,
                "bol_number": s.bol_number,
                "pieces_shipped": s.pieces_shipped,
                "pieces_delivered": s.pieces_delivered,
                "delivery_date": s.delivery_date,
                "signer": s.signer or None,
            }
            for name, want in expected.items():
                if want is None:
                    continue
                tries[f"pod.{name}"] += 1
                hits[f"pod.{name}"] += _value(got, name) == want
            tries["pod.exceptions"] += 1
            hits["pod.exceptions"] += sorted(got.exceptions) == sorted(s.exceptions)
    finally:
        extractor.close()
    return {k: (hits[k], tries[k]) for k in sorted(tries)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--size", default="small", choices=("small", "medium"))
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args()
    started = time.perf_counter()
    results = measure(args.seed, args.size, args.limit)
    print(f"field accuracy, seed {args.seed} {args.size} ({time.perf_counter() - started:.1f} s)")
    for name, (hit, total) in results.items():
        print(f"  {name:<24} {hit:>5}/{total:<5} {100 * hit / max(total, 1):6.1f}%")
    hit = sum(h for h, _ in results.values())
    total = sum(t for _, t in results.values())
    print(f"  {'all fields':<24} {hit:>5}/{total:<5} {100 * hit / max(total, 1):6.1f}%")


if __name__ == "__main__":
    main()
