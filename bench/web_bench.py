"""The web app's latency with 100,000 deductions and 10 concurrent users, on
SQLite and PostgreSQL: worklist pages, searches and deduction pages, through
the whole stack (uvicorn, FastAPI, session check, the shared queries, Jinja2).

Run:
    .venv/bin/python bench/web_bench.py                     # 100,000 deductions, both
    .venv/bin/python bench/web_bench.py -n 20000 --no-pg
    FLEET_TEST_PG_URL=postgresql+psycopg://... .venv/bin/python bench/web_bench.py
    .venv/bin/python bench/web_bench.py --workers 2          # fleet serve --workers 2
    .venv/bin/python bench/web_bench.py --think 1            # people, not scripts

The store is loaded as ``bench/worklist_bench.py`` loads it (verdicts,
invoices, documents, proposals, disputes). The app is served by ``fleet serve
--workers N`` on a local port, as a user runs it; ``--users`` clients, each
signed in with its own session, request in a loop: a worklist page (sorts and
filters in turn), a search by claim, invoice or PRO number, and a deduction
page. ``--think S`` makes each user pause a random time (exponential, mean S
seconds) after each page, as a person reading it would; 0 (the default) sends
the next request at once, which measures saturation rather than ten people.
Each request's wall time is measured at the client; the median and p95 per
kind are printed. Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.worklist_bench import DEFAULT_PG, TODAY, load, p95
from credentials.passwords import hash_password
from matching import approvals
from store.db import make_engine, session_factory, transaction
from store.migrate import upgrade
from store.repositories import approvals as approvals_repo

# one per run: the bench's users live only in its temporary store
PASSWORD = secrets.token_urlsafe(18)
WORKLISTS = (
    "/worklist",
    "/worklist?sort=-amount",
    "/worklist?sort=age&page=20",
    "/worklist?portal=megamart&status=open",
    "/worklist?verdict=invalid&closes_within=30",
    "/worklist?customer=fresh&sort=-amount",
    "/worklist?min_amount=1000&max_amount=5000&min_age=30&max_age=180&category=shortage",
)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(url: str, data_dir: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    """``fleet serve`` on the bench's store, up and answering."""
    env = {
        **os.environ,
        "FLEET_DATABASE_URL": url,
        "FLEET_DATA_DIR": str(data_dir),
        "FLEET_BUSINESS_DAY": TODAY.isoformat(),
        "FLEET_CONFIG": str(data_dir / "absent.toml"),
    }
    fleet = Path(sys.executable).with_name("fleet")
    proc = subprocess.Popen(
        [str(fleet), "serve", "--port", str(port), "--workers", str(workers)], env=env
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"fleet serve ended with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/login", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("fleet serve did not answer within 60 s")


async def _login(base: str, user: str) -> httpx.AsyncClient:
    c = httpx.AsyncClient(base_url=base, timeout=30)
    page = await c.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    r = await c.post("/login", data={"username": user, "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 303, r.text[:200]
    return c


async def _user(
    c: httpx.AsyncClient,
    rounds: int,
    probe: dict[str, Any],
    ids: list[int],
    seed: int,
    think: float = 0.0,
) -> dict[str, list[float]]:
    rng = random.Random(seed)
    out: dict[str, list[float]] = {"worklist": [], "search": [], "deduction": []}
    searches = (probe["claim"], probe["invoice_prefix"], probe["pro"], probe["claim"].lower())
    for i in range(rounds):
        for kind, url in (
            ("worklist", WORKLISTS[(i + seed) % len(WORKLISTS)]),
            ("search", f"/worklist?q={quote(searches[(i + seed) % len(searches)])}"),
            ("deduction", f"/deductions/{rng.choice(ids)}"),
        ):
            t0 = time.perf_counter()
            r = await c.get(url)
            out[kind].append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200, (url, r.status_code)
            if think:
                await asyncio.sleep(rng.expovariate(1 / think))
    return out


async def _drive(
    base: str, users: int, rounds: int, probe: dict[str, Any], n: int, think: float
) -> None:
    clients = [await _login(base, f"user{u}") for u in range(users)]
    ids = random.Random(7).sample(range(1, n + 1), 200)
    for c in clients[:1]:  # warm the caches once
        await _user(c, 2, probe, ids, 0)
    t0 = time.perf_counter()
    results = await asyncio.gather(
        *(_user(c, rounds, probe, ids, seed, think) for seed, c in enumerate(clients))
    )
    wall = time.perf_counter() - t0
    for c in clients:
        await c.aclose()
    total = sum(len(v) for r in results for v in r.values())
    pause = f", think time {think:g} s" if think else ", back to back"
    print(f"  {users} users x {rounds} rounds{pause}: {total} requests in {wall:.1f} s")
    print(f"  {'page':<12} {'median ms':>9} {'p95 ms':>8} {'requests':>8}")
    for kind in ("worklist", "search", "deduction"):
        samples = [x for r in results for x in r[kind]]
        print(
            f"  {kind:<12} {statistics.median(samples):9.1f} {p95(samples):8.1f} {len(samples):8d}"
        )


def run_backend(
    name: str, url: str, n: int, users: int, rounds: int, tmp: Path, workers: int, think: float
) -> None:
    print(f"\n{name}: {url.split('?')[0]}  ({n:,} deductions, fleet serve --workers {workers})")
    upgrade(url)
    engine = make_engine(url, pool_size=users + 2)
    try:
        t0 = time.perf_counter()
        probe = load(engine, n)
        db = session_factory(engine)
        hashed = hash_password(PASSWORD)
        with transaction(db) as s:
            for u in range(users):
                approvals.add_user(s, f"user{u}", "analyst", "bench")
                approvals_repo.set_password_hash(s, f"user{u}", hashed)
        print(f"  (load {time.perf_counter() - t0:.1f} s)")
        port = _port()
        server = _serve(url, tmp, port, workers)
        try:
            asyncio.run(_drive(f"http://127.0.0.1:{port}", users, rounds, probe, n, think))
        finally:
            server.terminate()
            server.wait(timeout=30)
    finally:
        engine.dispose()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("-n", type=int, default=100_000, help="deductions (default 100000)")
    ap.add_argument("--users", type=int, default=10, help="concurrent users (default 10)")
    ap.add_argument("--rounds", type=int, default=20, help="rounds per user (default 20)")
    ap.add_argument("--pg-url", default=os.environ.get("FLEET_TEST_PG_URL", DEFAULT_PG))
    ap.add_argument("--no-pg", action="store_true", help="SQLite only")
    ap.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    ap.add_argument("--workers", type=int, default=1, help="fleet serve processes (default 1)")
    ap.add_argument(
        "--think", type=float, default=0.0, help="mean pause after each page, s (default 0)"
    )
    args = ap.parse_args()
    more = (args.workers, args.think)
    with tempfile.TemporaryDirectory(prefix="web-bench-") as tmp:
        if not args.no_sqlite:
            url = f"sqlite:///{Path(tmp) / 'fleet.db'}"
            run_backend("SQLite", url, args.n, args.users, args.rounds, Path(tmp), *more)
        if not args.no_pg:
            admin = create_engine(args.pg_url)
            schema = f"fleet_bench_{uuid.uuid4().hex[:8]}"
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            try:
                sep = "&" if "?" in args.pg_url else "?"
                url = f"{args.pg_url}{sep}options={quote(f'-csearch_path={schema}')}"
                run_backend("PostgreSQL", url, args.n, args.users, args.rounds, Path(tmp), *more)
            finally:
                with admin.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
                admin.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
