"""Matching speed and accuracy.

    .venv/bin/python bench/matching_bench.py scale      # 10k/100k deductions x 100k/1M invoices
    .venv/bin/python bench/matching_bench.py accuracy   # medium scenarios, two seeds, via the store
    .venv/bin/python bench/matching_bench.py incremental  # full vs incremental runs on a store
    .venv/bin/python bench/matching_bench.py robot [SEED] [SIZE]  # a store the robots filled

``scale`` times the matcher itself (index + judge) on synthetic snapshots, one
child process per size so peak RSS is per size; building the synthetic data is
not timed. ``accuracy`` loads generated medium scenarios into a SQLite store
through the store's write paths (tests/integration/matching/loader.py), runs
the matcher on what the store holds, and prints agreement with the truth and
the confusion table by category. ``robot`` serves the generated world (medium,
seed 5, by default), fills a store only through the fleet's own jobs (sync,
per-account extraction, PODs, the retrievals the matcher queues;
tests/browser/fleet/robot_store.py), and prints agreement on the deductions
whose evidence the portals serve by the world's day, every wrong decided
verdict, and the loader's figure for the same world next to it.
"""

from __future__ import annotations

import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SIZES = [(10_000, 100_000), (100_000, 1_000_000)]
PROMOS = 20_000


def _synthetic(n_ded: int, n_inv: int):  # type: ignore[no-untyped-def]
    from matching.model import CarrierShip, Ded, ErpShip, Invoice, Line, PaidLine, Promo, Snapshot

    r = random.Random(7)
    base = date(2026, 1, 1)
    skus = [f"SKU-{i:05d}" for i in range(4000)]
    invoices, erp, carrier, paid = [], [], [], []
    for i in range(n_inv):
        sku = skus[i % len(skus)]
        qty = r.randint(10, 400)
        price = Decimal(r.randint(500, 5000)) / 100
        day = base + timedelta(days=i % 300)
        invoices.append(
            Invoice(i, f"INV{i:08d}", f"CUST{i % 3}", day, price * qty, [(sku, qty, price)])
        )
        if i % 4 == 0:
            erp.append(
                ErpShip(
                    i, f"S{i}", f"INV{i:08d}", "haulstar", f"{i + 10**7}", f"B{i}", qty, "prepaid"
                )
            )
            carrier.append(
                CarrierShip(
                    i,
                    "haulstar",
                    f"{i + 10**7}",
                    f"B{i}",
                    day + timedelta(days=2),
                    qty,
                    qty,
                    [],
                    "prepaid",
                    "fetched",
                )
            )
        paid.append(
            PaidLine(
                f"R{i // 50}", day + timedelta(days=30), f"INV{i:08d}", price * qty, price * qty
            )
        )
    promos = [
        Promo(
            i,
            f"DL-{i}",
            f"CUST{i % 3}",
            [skus[i % len(skus)]],
            base + timedelta(days=(i * 7) % 300),
            base + timedelta(days=(i * 7) % 300 + 6),
            Decimal("0.50"),
        )
        for i in range(PROMOS)
    ]
    deds = []
    for k in range(n_ded):
        i = r.randrange(0, n_inv, 4) if k % 3 == 1 else r.randrange(n_inv)
        inv = invoices[i]
        sku, qty, price = inv.lines[0]
        kind = k % 5
        common = {
            "id": k,
            "portal": "megamart",
            "external_id": f"{4 * 10**9 + k}",
            "invoice_number": inv.invoice_number,
            "amount": Decimal("30.00"),
            "claimed_amount": Decimal("30.00"),
            "deduction_date": inv.invoice_date + timedelta(days=40),
            "invoice_date": inv.invoice_date,
        }
        if kind == 0:
            d = Ded(**common, reason_code="50", promo_id=f"DL-{r.randrange(PROMOS)}")
        elif kind == 1:
            d = Ded(
                **common,
                reason_code="24",
                carrier="HaulStar",
                pro_number=f"{i + 10**7}",
                lines=[Line(sku, "", 3, Decimal("10.00"), Decimal("30.00"))],
            )
        elif kind == 2:
            d = Ded(
                **common,
                reason_code="11",
                lines=[
                    Line(
                        sku,
                        f"INV COST {price + 1} / PO COST {price}",
                        30,
                        Decimal("1.00"),
                        Decimal("30.00"),
                    )
                ],
            )
        elif kind == 3:
            d = Ded(**common, reason_code="92", lines=[Line(sku, "", 3, price, price * 3)])
        else:
            d = Ded(**common, reason_code="73")
        deds.append(d)
    return lambda: Snapshot(
        deductions=deds,
        invoices=invoices,
        promotions=promos,
        erp_shipments=erp,
        carrier_shipments=carrier,
        paid_lines=paid,
        carrier_portals=["haulstar"],
    )


def _one(n_ded: int, n_inv: int) -> None:
    from matching.config import load_config
    from matching.rules import match_all

    make = _synthetic(n_ded, n_inv)
    t0 = time.perf_counter()
    snap = make()
    t1 = time.perf_counter()
    verdicts = match_all(snap, load_config(), date(2026, 11, 1))
    t2 = time.perf_counter()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "deductions": n_ded,
                "invoices": n_inv,
                "index_s": round(t1 - t0, 2),
                "judge_s": round(t2 - t1, 2),
                "total_s": round(t2 - t0, 2),
                "peak_rss_mb": round(rss),
                "verdicts": len(verdicts),
            }
        )
    )


def scale() -> None:
    results = []
    for n_ded, n_inv in SIZES:
        res = subprocess.run(
            [sys.executable, __file__, "one", str(n_ded), str(n_inv)],
            capture_output=True,
            text=True,
            check=True,
        )
        row = json.loads(res.stdout.strip().splitlines()[-1])
        results.append(row)
        print(
            f"{row['deductions']:>7} deductions x {row['invoices']:>9} invoices + {PROMOS} "
            f"promotions: index {row['index_s']:6.2f} s, judge {row['judge_s']:6.2f} s, "
            f"total {row['total_s']:6.2f} s, peak RSS {row['peak_rss_mb']} MB"
        )
    if len(results) == 2:
        ratio = results[1]["total_s"] / results[0]["total_s"]
        print(f"10x the data took {ratio:.1f}x the time (target: within 12x)")


def accuracy(seeds: tuple[int, ...] = (5, 8)) -> None:
    from fixtures.generator import generate
    from matching.config import load_config
    from matching.service import compute
    from store.db import make_engine, session_factory
    from store.migrate import upgrade
    from tests.integration.matching.accuracy import compare
    from tests.integration.matching.loader import load_scenario

    for seed in seeds:
        sc = generate(seed, "medium")
        for evidence in ("complete", "as_of"):
            with tempfile.TemporaryDirectory() as tmp:
                url = f"sqlite:///{tmp}/bench.db"
                upgrade(url)
                engine = make_engine(url)
                factory = session_factory(engine)
                t0 = time.perf_counter()
                load_scenario(factory, sc, evidence=evidence)  # type: ignore[arg-type]
                t1 = time.perf_counter()
                with factory() as s:
                    verdicts = compute(s, sc.as_of, load_config())
                t2 = time.perf_counter()
                engine.dispose()
            a = compare(sc, verdicts)
            print(
                f"seed {seed} medium, evidence {evidence}: {a.total} deductions; verdicts agree "
                f"{a.verdict_rate:.2%}, amounts agree {a.amount_rate:.2%}; decided {a.decided} "
                f"of which right {a.decided_agree}; load {t1 - t0:.1f} s, match {t2 - t1:.2f} s"
            )
            if evidence == "complete":
                print(a.table())


def _loader_agreement(sc, evidence: str):  # type: ignore[no-untyped-def]
    from matching.config import load_config
    from matching.service import compute
    from store.db import make_engine, session_factory
    from store.migrate import upgrade
    from tests.integration.matching.loader import load_scenario

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        engine = make_engine(url)
        load_scenario(session_factory(engine), sc, evidence=evidence)  # type: ignore[arg-type]
        with session_factory(engine)() as s:
            verdicts = compute(s, sc.as_of, load_config())
        engine.dispose()
    return verdicts


def robot(seed: int = 5, size: str = "medium") -> None:
    """Agreement on what the robots fetched, next to the loader's figure."""
    import asyncio
    import logging

    import structlog

    from fixtures.generator import generate
    from tests.browser.fleet.robot_store import fill_and_match
    from tests.integration.matching.accuracy import compare, evidence_on_portals

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    sc = generate(seed, size)  # type: ignore[arg-type]
    available = evidence_on_portals(sc)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        store = asyncio.run(fill_and_match(sc, Path(tmp) / "fleet", say=print))
        took = time.perf_counter() - t0
    a = compare(sc, store.verdicts, available)
    every = compare(sc, store.verdicts)
    print(
        f"seed {seed} {size}, robot-filled store ({took:.0f} s: sync, extraction "
        f"{dict(sorted(store.extraction.items()))}, {store.retrievals} retrievals): "
        f"{len(store.verdicts)} deductions, {len(available)} with their evidence on the "
        f"portals by {sc.as_of}"
    )
    print(
        f"  robot, evidence on the portals: verdicts agree {a.verdict_rate:.2%}, amounts "
        f"{a.amount_rate:.2%}; decided {a.decided}, wrong decided anywhere "
        f"{len(a.wrong_decided)}; all deductions: verdicts agree {every.verdict_rate:.2%}"
    )
    for evidence in ("as_of", "complete"):
        b = compare(sc, _loader_agreement(sc, evidence), available if evidence == "as_of" else None)
        print(
            f"  loader ({evidence}{', same set' if evidence == 'as_of' else ', every deduction'}"
            f"): verdicts agree {b.verdict_rate:.2%}, amounts {b.amount_rate:.2%}; wrong "
            f"decided {len(b.wrong_decided)}"
        )
    print(a.report())


def incremental(seed: int = 5, size: str = "large") -> None:
    """`fleet match` on a store: first (full) run, an unchanged re-run, a run after
    one promotion changed, and a forced full run; the same store, one process."""
    from datetime import timedelta as td

    from fixtures.generator import generate
    from matching.service import run_matching
    from store.db import make_engine, session_factory
    from store.migrate import upgrade
    from tests.integration.matching.loader import load_scenario

    sc = generate(seed, size)  # type: ignore[arg-type]
    named = {d.promo_id for d in sc.deductions if d.promo_id}
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        engine = make_engine(url)
        factory = session_factory(engine)
        load_scenario(factory, sc, evidence="complete")

        def timed(label: str, **kw) -> None:  # type: ignore[no-untyped-def]
            t0 = time.perf_counter()
            r = run_matching(factory, sc.as_of, margin=td(0), **kw)
            dt = time.perf_counter() - t0
            print(
                f"{label:<34} {r.mode:<12} judged {r.judged:>6} of {r.total:>6}  "
                f"written {r.created + r.changed:>6}  {dt:7.2f} s"
            )

        timed("first run")
        timed("nothing changed")
        i = next(i for i, p in enumerate(sc.erp.promotions) if p.promo_id in named)
        p = sc.erp.promotions[i]
        sc.erp.promotions[i] = p.model_copy(update={"rate_per_unit": p.rate_per_unit + 1})
        load_scenario(factory, sc, evidence="complete")
        timed("one promotion re-rated in the ERP")
        timed("forced full run (--full)", full=True)
        engine.dispose()


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else "scale"
    if cmd == "one":
        _one(int(sys.argv[2]), int(sys.argv[3]))
    elif cmd == "accuracy":
        accuracy()
    elif cmd == "robot":
        robot(*(sys.argv[2:3] and [int(sys.argv[2])]), *sys.argv[3:4])
    elif cmd == "incremental":
        incremental(*(sys.argv[2:3] and [int(sys.argv[2])]))
    else:
        scale()
