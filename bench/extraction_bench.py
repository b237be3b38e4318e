"""Extraction throughput: pages per second over the real-world PDFs and a generated set.

    .venv/bin/python bench/extraction_bench.py [--rounds 3] [--workers 1] [--layout]
        [--generated 50]

Prints one line per set: documents, pages, wall seconds, pages/s and docs/s, plus the
outcome mix. One reusable worker pool per run (its start-up is reported apart), so the
figures are the steady state a batch of fetched documents sees. Field extraction
(backup/POD/invoice regexes) is timed separately on the text produced.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from store.extraction import (  # noqa: E402
    PdfExtractor,
    extract_backup_fields,
    extract_invoice_fields,
    extract_pod_fields,
)

SHARED = Path(os.environ.get("FLEET_SHARED_DIR", REPO.parent / "shared"))
REAL_PDFS = SHARED / "testdata" / "real-pdfs"


def generated_set(n: int) -> list[bytes]:
    """Backup memos and delivery receipts like the fixture world's (fpdf2, 1-3 pages)."""
    from fpdf import FPDF

    docs = []
    for i in range(n):
        pdf = FPDF()
        pdf.set_font("Helvetica", size=10)
        for page in range(1 + i % 3):
            pdf.add_page()
            lines = [
                f"Claim Number: MM-{i:06d}",
                f"Invoice Number: INV-{i:07d}",
                f"PO Number: 45{i:08d}",
                f"Amount: ${i * 13.37:,.2f}",
                "Reason Code: 426",
                f"PRO Number: {40000000 + i}",
                f"BOL Number: B{i:06d}",
                f"Pieces Shipped: {20 + i % 7}",
                f"Pieces Delivered: {18 + i % 7}",
                "Exceptions: SHORT 2 CS",
                "Signed: J. DOE",
                f"Page {page + 1}",
            ]
            lines += [
                f"SKU-{k:04d}   Item {k}   {k % 9 + 1}   9.99   {9.99 * (k % 9 + 1):.2f}"
                for k in range(30)
            ]
            for line in lines:
                pdf.cell(0, 5, line, new_x="LMARGIN", new_y="NEXT")
        docs.append(bytes(pdf.output()))
    return docs


def run(name: str, docs: list[bytes], ex: PdfExtractor, rounds: int, layout: bool) -> list[str]:
    best = None
    texts: list[str] = []
    for _ in range(rounds):
        start = time.perf_counter()
        results = ex.extract_many(docs, layout=layout)
        wall = time.perf_counter() - start
        if best is None or wall < best[0]:
            best = (wall, results)
    assert best is not None
    wall, results = best
    pages = sum(len(r.pages) for r in results)
    mix = Counter(r.status.value for r in results)
    print(
        f"{name:12s} docs={len(docs):4d} pages={pages:5d} wall={wall:6.2f}s "
        f"pages/s={pages / wall:8.1f} docs/s={len(docs) / wall:7.1f}  "
        f"outcomes={dict(sorted(mix.items()))}"
    )
    for r in results:
        texts.append(r.layout_text if layout else r.text)
    return texts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="best of N rounds")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--layout", action="store_true", help="also extract layout-mode text")
    ap.add_argument("--generated", type=int, default=50, help="generated documents (0: none)")
    args = ap.parse_args()

    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(
        f"python {sys.version.split()[0]}, cpus={os.cpu_count()}, workers={args.workers}, "
        f"layout={args.layout}, rounds={args.rounds} (best shown)"
    )
    start = time.perf_counter()
    with PdfExtractor(workers=args.workers) as ex:
        ex.extract_many([b"%PDF-1.4"] * args.workers)  # start the workers
        print(f"worker start-up: {time.perf_counter() - start:.2f}s for {args.workers}")
        texts: list[str] = []
        if REAL_PDFS.is_dir():
            real = [p.read_bytes() for p in sorted(REAL_PDFS.rglob("*.pdf"))]
            texts += run("real-pdfs", real, ex, args.rounds, args.layout)
        else:
            print(f"real-pdfs: not found at {REAL_PDFS}")
        if args.generated:
            texts += run("generated", generated_set(args.generated), ex, args.rounds, args.layout)
        print(f"worker processes started in total: {ex.worker_starts}")
    start = time.perf_counter()
    for t in texts:
        extract_backup_fields(t)
        extract_pod_fields(t)
        extract_invoice_fields(t)
    wall = time.perf_counter() - start
    chars = sum(len(t) for t in texts)
    print(
        f"fields       docs={len(texts):4d} chars={chars:8d} wall={wall:6.2f}s "
        f"docs/s={len(texts) / wall if wall else 0:7.1f} (backup+POD+invoice each)"
    )


if __name__ == "__main__":
    main()
