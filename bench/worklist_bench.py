"""The analyst's worklist and deduction page on 100,000 deductions, SQLite and PostgreSQL.

Run:
    .venv/bin/python bench/worklist_bench.py                  # 100,000 deductions, both
    .venv/bin/python bench/worklist_bench.py -n 20000 --no-pg
    FLEET_TEST_PG_URL=postgresql+psycopg://... .venv/bin/python bench/worklist_bench.py

For each database, on a fresh migrated database (SQLite: a temp file; PostgreSQL:
a throw-away schema, dropped afterwards), it loads ``-n`` deductions over three
retailer portals with what a store that has been running a while holds: verdicts
for 90% (a deadline on most), ERP invoices for 80% (three customers), backup
documents for half, a proposal on 2% and a dispute on 1%. PostgreSQL is then
vacuumed and analysed (what autovacuum does after a load); SQLite is left as
the fleet leaves it (no ANALYZE).

Then it times each query ``--repeat`` times through ``store.queries``, the
code the CLI and the web app call, and prints the median and p95 in ms with
the row count it found (a page is 50 rows; "total" is the count the page
reports). Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, text

from records.schemas import Category
from store.db import make_engine, session_factory
from store.migrate import upgrade
from store.models import (
    Account,
    Decision,
    DecisionStep,
    Deduction,
    Dispute,
    Document,
    DocumentLink,
    ErpInvoice,
    Portal,
    Verdict,
)
from store.queries.detail import deduction_detail
from store.queries.worklist import Filters, Sort, list_deductions

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
RETAILERS = {
    "megamart": "MegaMart Stores, Inc.",
    "shopright": "ShopRight Corporation",
    "freshco": "FreshCo Grocers",
}
STATUSES = ("Open", "Open", "Open", "In research", "Disputed", "Reversed", "Paid")
VALIDITIES = ("valid", "valid", "valid", "invalid", "partial", "needs_review")
TODAY = date(2026, 3, 1)
CHUNK = 5_000


def load(engine: Engine, n: int, seed: int = 7) -> dict[str, Any]:
    """Bulk-load the store (Core inserts: the load is not what is measured)."""
    rng = random.Random(seed)
    now = datetime(2026, 3, 1, tzinfo=UTC)
    cats = [c.value for c in Category]
    deds, verdicts, invoices, docs, links = [], [], [], [], []
    for i in range(1, n + 1):
        portal = list(RETAILERS)[i % 3]
        day = TODAY - timedelta(days=rng.randint(0, 720))
        amount = Decimal(rng.randint(100, 5_000_000)) / 100
        inv = f"INV-{i:07d}"
        deds.append(
            {
                "id": i,
                "portal": portal,
                "external_id": f"{portal[:2].upper()}-{i:07d}",
                "account": f"ap{i % 2}@supplier.example",
                "invoice_number": inv,
                "po_number": f"PO-{rng.randint(1, 10**7):08d}",
                "location": "DC 6094",
                "amount": amount,
                "currency": "USD",
                "reason_code": rng.choice(("22", "24", "A030", "99")),
                "reason_text": "Carton shortage",
                "category": cats[i % len(cats)],
                "deduction_date": day,
                "status": rng.choice(STATUSES),
                "pro_number": f"{rng.randint(10**8, 10**9 - 1)}" if i % 3 == 0 else None,
                "bol_number": f"BOL-{i:08d}" if i % 4 == 0 else None,
                "memo": "short 3 cs",
                "raw": {"Claim #": str(i)},
                "content_hash": f"{i:064d}",
                "first_seen_at": now,
                "last_seen_at": now,
                "updated_at": now,
            }
        )
        if i % 10:
            closes = day + timedelta(days=rng.randint(30, 720)) if i % 7 else None
            verdicts.append(
                {
                    "deduction_id": i,
                    "validity": rng.choice(VALIDITIES),
                    "category": cats[i % len(cats)],
                    "claimed_amount": amount,
                    "current_amount": amount,
                    "window_closes": closes,
                    "reasons": ["bench"],
                    "evidence": [],
                    "missing": [],
                    "fingerprint": f"{i:064d}",
                    "computed_at": now,
                    "updated_at": now,
                }
            )
        if i % 5:
            invoices.append(
                {
                    "customer": RETAILERS[portal],
                    "invoice_number": inv,
                    "invoice_date": day - timedelta(days=20),
                    "total": amount * 10,
                    "raw": {},
                    "content_hash": f"{i:064d}",
                    "imported_at": now,
                    "updated_at": now,
                }
            )
        if i % 2:
            docs.append(
                {
                    "id": i,
                    "sha256": f"{i:064x}",
                    "size_bytes": 40_000,
                    "media_type": "application/pdf",
                    "original_filename": f"claim {i}.pdf",
                    "vault_path": f"{i:064x}",
                    "first_seen_at": now,
                }
            )
            links.append({"document_id": i, "deduction_id": i, "role": "backup", "created_at": now})
    decisions = [
        {
            "id": k,
            "deduction_id": i,
            "kind": "dispute",
            "accept_amount": Decimal("0.00"),
            "dispute_amount": Decimal("10.00"),
            "status": "pending",
            "proposed_by": "ana",
            "created_at": now,
        }
        for k, i in enumerate(range(50, n + 1, 50), start=1)
    ]
    steps = [
        {"decision_id": d["id"], "level": 1, "role": "manager", "created_at": now}
        for d in decisions
    ]
    disputes = [
        {
            "portal": deds[i - 1]["portal"],
            "deduction_id": i,
            "status": "submitted",
            "amount": Decimal("10.00"),
            "idempotency_key": f"k{i}",
            "created_at": now,
            "updated_at": now,
        }
        for i in range(100, n + 1, 100)
    ]
    with engine.begin() as conn:
        conn.execute(
            Portal.__table__.insert(),
            [
                {"name": p, "kind": "retailer", "display_name": p, "created_at": now}
                for p in RETAILERS
            ],
        )
        conn.execute(
            Account.__table__.insert(),
            [
                {
                    "portal": p,
                    "username": f"ap{k}@supplier.example",
                    "created_at": now,
                    "updated_at": now,
                }
                for p in RETAILERS
                for k in range(2)
            ],
        )
        for table, rows in (
            (Deduction.__table__, deds),
            (Verdict.__table__, verdicts),
            (ErpInvoice.__table__, invoices),
            (Document.__table__, docs),
            (DocumentLink.__table__, links),
            (Decision.__table__, decisions),
            (DecisionStep.__table__, steps),
            (Dispute.__table__, disputes),
        ):
            for k in range(0, len(rows), CHUNK):
                conn.execute(table.insert(), rows[k : k + CHUNK])
    if engine.dialect.name == "postgresql":  # what autovacuum does after a load
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    probe = deds[n // 2]
    return {
        "claim": probe["external_id"],
        "ref": f"{probe['portal']}:{probe['external_id']}",
        "invoice_prefix": probe["invoice_number"][:-2],
        "pro": next(d["pro_number"] for d in deds[n // 2 :] if d["pro_number"]),
    }


def cases(probe: dict[str, Any]) -> list[tuple[str, Filters, Sort, int]]:
    f = Filters
    return [
        ("list: all, by deadline", f(today=TODAY), Sort("deadline"), 1),
        ("list: all, by -amount", f(today=TODAY), Sort("amount", True), 1),
        ("list: all, by age, page 20", f(today=TODAY), Sort("age"), 20),
        ("list: all, by claim", f(today=TODAY), Sort("claim"), 1),
        ("list: all, by -deadline", f(today=TODAY), Sort("deadline", True), 1),
        ("list: all, by portal", f(today=TODAY), Sort("portal"), 1),
        (
            "list: portal+status",
            f(portals=("megamart",), statuses=("open",), today=TODAY),
            Sort("deadline"),
            1,
        ),
        (
            "list: invalid, closes in 30 d",
            f(
                validities=("invalid",),
                closes_from=TODAY,
                closes_by=TODAY + timedelta(days=30),
                today=TODAY,
            ),
            Sort("deadline"),
            1,
        ),
        ("list: customer 'fresh'", f(customer="fresh", today=TODAY), Sort("amount", True), 1),
        (
            "list: amount+age+category",
            f(
                min_amount=Decimal("1000"),
                max_amount=Decimal("5000"),
                min_age_days=30,
                max_age_days=180,
                categories=("shortage", "damage"),
                today=TODAY,
            ),
            Sort("age", True),
            1,
        ),
        ("list: account", f(accounts=("ap1@supplier.example",), today=TODAY), Sort("amount"), 1),
        ("search: claim exact", f(text=probe["claim"], today=TODAY), Sort("deadline"), 1),
        ("search: invoice prefix", f(text=probe["invoice_prefix"], today=TODAY), Sort(), 1),
        ("search: PRO exact", f(text=probe["pro"], today=TODAY), Sort("deadline"), 1),
        ("search: lower-case claim", f(text=probe["claim"].lower(), today=TODAY), Sort(), 1),
    ]


def timed(fn: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    fn()  # warm the caches and the statement cache once
    samples, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return samples, result


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def run_backend(name: str, url: str, n: int, repeat: int) -> None:
    print(f"\n{name}: {url.split('?')[0]}  ({n:,} deductions)")
    upgrade(url)
    engine = make_engine(url)
    try:
        t0 = time.perf_counter()
        probe = load(engine, n)
        print(f"  (load {time.perf_counter() - t0:.1f} s)")
        sessions = session_factory(engine)
        print(f"  {'query':<34} {'median ms':>9} {'p95 ms':>8} {'rows':>5} {'total':>7}")
        for label, filters, sort, page in cases(probe):

            def go(filters: Filters = filters, sort: Sort = sort, page: int = page) -> Any:
                with sessions() as s:
                    return list_deductions(s, filters, sort, page, 50)

            samples, result = timed(go, repeat)
            print(
                f"  {label:<34} {statistics.median(samples):9.1f} {p95(samples):8.1f} "
                f"{len(result.items):5d} {result.total:7d}"
            )

        def detail() -> Any:
            with sessions() as s:
                return deduction_detail(s, probe["ref"])

        samples, result = timed(detail, repeat)
        print(
            f"  {'detail: ' + probe['ref']:<34} {statistics.median(samples):9.1f} "
            f"{p95(samples):8.1f} {len(result.timeline):5d} {'events':>7}"
        )
    finally:
        engine.dispose()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("-n", type=int, default=100_000, help="deductions (default 100000)")
    ap.add_argument("--repeat", type=int, default=30, help="runs per query (default 30)")
    ap.add_argument("--pg-url", default=os.environ.get("FLEET_TEST_PG_URL", DEFAULT_PG))
    ap.add_argument("--no-pg", action="store_true", help="SQLite only")
    ap.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    args = ap.parse_args()
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory(prefix="worklist-bench-") as tmp:
            run_backend("SQLite", f"sqlite:///{Path(tmp) / 'fleet.db'}", args.n, args.repeat)
    if not args.no_pg:
        admin = create_engine(args.pg_url)
        schema = f"fleet_bench_{uuid.uuid4().hex[:8]}"
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            sep = "&" if "?" in args.pg_url else "?"
            url = f"{args.pg_url}{sep}options={quote(f'-csearch_path={schema}')}"
            run_backend("PostgreSQL", url, args.n, args.repeat)
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
