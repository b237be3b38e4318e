"""Deduction upsert rate on SQLite and PostgreSQL.

Run:
    .venv/bin/python bench/store_bench.py                 # 100,000 records, both databases
    .venv/bin/python bench/store_bench.py -n 20000 --no-pg
    FLEET_TEST_PG_URL=postgresql+psycopg://... .venv/bin/python bench/store_bench.py

For each database, on a fresh migrated database (SQLite: a temp file; PostgreSQL:
a throw-away schema, dropped afterwards), it prints records/s for:

* per-row   create:    ``deductions.upsert`` one record at a time, commit every --batch
* batched   create:    ``deductions.upsert_many`` --batch records per call and commit
* batched   unchanged: the same records again (what a daily re-sync mostly is)
* batched   10% changed: every tenth record has a new status (history rows written)
* per-row   unchanged: ``upsert`` of records already stored

On PostgreSQL the tables are ANALYZEd after the create phases (what autovacuum
does on a normal server).

Records are validated (pydantic) before the clock starts; that cost is printed
separately. Each record has two lines and a small raw payload.

After the upserts it prints the other two store figures: extraction pages per
second over shared/testdata/real-pdfs (bench/extraction_bench.py has the
detail) and field accuracy on the fixture world's documents
(bench/field_accuracy.py); ``--no-docs`` skips both.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import create_engine, func, select, text

from records.schemas import Category, DeductionLineRecord, DeductionRecord
from store.db import make_engine, session_factory, transaction
from store.migrate import upgrade
from store.models import Deduction, DeductionHistory
from store.repositories import deductions

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PORTALS = ("megamart", "shopright", "freshco")
CATEGORIES = list(Category)


def make_records(n: int, prefix: str, seed: int = 7) -> list[DeductionRecord]:
    rng = random.Random(seed)
    base = date(2025, 1, 1)
    out = []
    for i in range(n):
        amount = Decimal(rng.randint(100, 2_000_000)) / 100
        out.append(
            DeductionRecord(
                portal=PORTALS[i % 3],
                external_id=f"{prefix}-{i:07d}",
                account=f"ap{i % 4}@supplier.example",
                invoice_number=f"INV-{rng.randint(1, 10**6):07d}",
                po_number=f"PO-{rng.randint(1, 10**6):07d}",
                location=f"DC {rng.randint(1000, 9999)}",
                amount=amount,
                reason_code=str(rng.choice([22, 24, 25, 10, 99])),
                reason_text="Carton shortage / freight bill signed short",
                category=CATEGORIES[i % len(CATEGORIES)],
                deduction_date=base + timedelta(days=i % 300),
                invoice_date=base + timedelta(days=i % 300 - 20),
                status="Open",
                memo="",
                lines=[
                    DeductionLineRecord(sku="SKU-1", quantity=2, amount=Decimal("1.00")),
                    DeductionLineRecord(sku="SKU-2", quantity=1, amount=Decimal("2.00")),
                ],
                raw={"Claim #": f"{prefix}-{i:07d}", "Amount": f"${amount:,}"},
            )
        )
    return out


def chunks(seq: Sequence[DeductionRecord], size: int) -> list[Sequence[DeductionRecord]]:
    return [seq[i : i + size] for i in range(0, len(seq), size)]


def timed(label: str, n: int, fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - start
    rate = n / elapsed
    print(f"  {label:<28} {n:>8,} records in {elapsed:7.2f} s = {rate:>9,.0f} records/s")
    return rate


def run_backend(name: str, url: str, n: int, batch: int) -> None:
    print(f"\n{name}: {url.split('?')[0]}")
    upgrade(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    t0 = time.perf_counter()
    per_row = make_records(n, "ROW")
    batched = make_records(n, "BAT")
    print(
        f"  {'(pydantic validation)':<28} {2 * n:>8,} records in {time.perf_counter() - t0:7.2f} s"
    )

    def row_by_row(records: Sequence[DeductionRecord]) -> Callable[[], None]:
        def go() -> None:
            for chunk in chunks(records, batch):
                with transaction(sessions) as s:
                    for r in chunk:
                        deductions.upsert(s, r)

        return go

    def in_batches(records: Sequence[DeductionRecord]) -> Callable[[], None]:
        def go() -> None:
            for chunk in chunks(records, batch):
                with transaction(sessions) as s:
                    deductions.upsert_many(s, chunk)

        return go

    changed = [
        r.model_copy(update={"status": "Denied"}) if i % 10 == 0 else r
        for i, r in enumerate(batched)
    ]

    def analyze() -> None:
        # Autovacuum would do this after a bulk load; a server running with
        # autovacuum=off (like the test one) otherwise plans on empty-table
        # statistics and scans a whole portal per batch look-up.
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:
                conn.execute(text("ANALYZE"))

    timed("per-row   create", n, row_by_row(per_row))
    timed("batched   create", n, in_batches(batched))
    analyze()
    timed("batched   unchanged", n, in_batches(batched))
    timed("batched   10% changed", n, in_batches(changed))
    timed("per-row   unchanged", n, row_by_row(per_row))

    with transaction(sessions, write=False) as s:
        rows = s.execute(select(func.count()).select_from(Deduction)).scalar_one()
        hist = s.execute(select(func.count()).select_from(DeductionHistory)).scalar_one()
    print(f"  check: {rows:,} deductions (expected {2 * n:,}), {hist:,} history rows")
    engine.dispose()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("-n", type=int, default=100_000, help="records per phase (default 100000)")
    ap.add_argument("--batch", type=int, default=1000, help="records per transaction")
    ap.add_argument("--pg-url", default=os.environ.get("FLEET_TEST_PG_URL", DEFAULT_PG))
    ap.add_argument("--no-pg", action="store_true", help="SQLite only")
    ap.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    ap.add_argument("--no-docs", action="store_true", help="skip extraction and field accuracy")
    args = ap.parse_args()
    try:
        return _upserts(args)
    finally:
        if not args.no_docs:
            _documents()


def _documents() -> None:
    """Extraction pages/s on the real PDFs, and field accuracy on the world's documents."""
    import time

    from field_accuracy import measure  # bench/ is on sys.path when run as a script

    from store.extraction import PdfExtractor

    real = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "real-pdfs"
    pdfs = [p.read_bytes() for p in sorted(real.rglob("*.pdf"))] if real.is_dir() else []
    if pdfs:
        with PdfExtractor() as ex:
            ex.extract_many([b"%PDF-1.4"])
            started = time.perf_counter()
            results = ex.extract_many(pdfs)
            wall = time.perf_counter() - started
        pages = sum(len(r.pages) for r in results)
        print(
            f"\nextraction: {len(pdfs)} real PDFs, {pages} pages in {wall:.2f}s = "
            f"{pages / wall:.1f} pages/s"
        )
    else:
        print(f"\nextraction: real PDFs not found at {real}")
    results_by_field = measure(7, "small")
    hit = sum(h for h, _ in results_by_field.values())
    total = sum(t for _, t in results_by_field.values())
    print(
        f"field accuracy (seed 7 small, {len(results_by_field)} fields): "
        f"{hit}/{total} = {100 * hit / max(total, 1):.1f}%"
    )
    for name, (h, t) in results_by_field.items():
        if h != t:
            print(f"  {name}: {h}/{t}")


def _upserts(args: argparse.Namespace) -> int:

    print(f"store_bench: n={args.n:,} batch={args.batch}, python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as tmp:
        if not args.no_sqlite:
            run_backend("SQLite (WAL)", f"sqlite:///{Path(tmp) / 'bench.db'}", args.n, args.batch)

    if args.no_pg:
        return 0
    admin = create_engine(args.pg_url, connect_args={"connect_timeout": 3})
    try:
        with admin.begin() as conn:
            schema = f"fleet_bench_{uuid.uuid4().hex[:8]}"
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # report and go on: SQLite figures are still useful
        print(f"\nPostgreSQL: skipped, unreachable at {args.pg_url}: {type(exc).__name__}")
        return 0
    sep = "&" if "?" in args.pg_url else "?"
    try:
        url = f"{args.pg_url}{sep}options={quote(f'-csearch_path={schema}')}"
        run_backend("PostgreSQL", url, args.n, args.batch)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
