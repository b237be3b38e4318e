"""Fleet retrieval speed against the simulated megamart portal.

    .venv/bin/python bench/fleet_bench.py [--per-account 15] [--latency-ms 150]
                                           [--contexts 1,2,4,8]

A generated medium world whose megamart deductions are spread over 8 vendor
accounts (the account lock allows one job per account, so contexts scale with
accounts). For each concurrency it syncs N accounts at once into a fresh
store and prints documents per minute, requests per document (as the portal
served them), CPU seconds and peak RSS per 100 documents, browser processes
included. First, the same retrieval by a minimal hand-written Playwright
script (one context: log in, read each claim page, fetch each document) is
the baseline, in the same process and world.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import tempfile
import threading
import time
from pathlib import Path

from fixtures.generator import generate
from fixtures.scenario import Scenario
from fixtures.server import start_world

PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


def _tree() -> list[int]:
    me, pairs = os.getpid(), []
    for e in Path("/proc").iterdir():
        if e.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = (e / "stat").read_text().rsplit(")", 1)[1].split()
                pairs.append((int(e.name), int(stat[1])))
    fam, frontier = {me}, {me}
    while frontier:
        frontier = {p for p, pp in pairs if pp in frontier} - fam
        fam |= frontier
    return sorted(fam)


def _cpu_and_rss() -> tuple[float, int]:
    cpu, rss = 0.0, 0
    for pid in _tree():
        try:
            f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            cpu += (int(f[11]) + int(f[12])) / TICKS
            rss += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
        except (OSError, ValueError, IndexError):
            pass
    return cpu, rss


class Meter:
    """CPU seconds and peak RSS of this process and its children while running."""

    def __enter__(self) -> Meter:
        self.cpu0, _ = _cpu_and_rss()
        self.peak = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._sample, daemon=True)
        self._t.start()
        self.t0 = time.monotonic()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.25):
            self.peak = max(self.peak, _cpu_and_rss()[1])

    def __exit__(self, *exc: object) -> None:
        self.wall = time.monotonic() - self.t0
        self._stop.set()
        self._t.join()
        cpu1, rss = _cpu_and_rss()
        self.cpu = cpu1 - self.cpu0
        self.peak = max(self.peak, rss)


def bench_world(per_account: int) -> Scenario:
    """Medium world; megamart's deductions spread over 8 accounts, N each."""
    sc = generate(7, "medium")
    mm = sc.accounts_on("megamart")[0]
    accounts = [mm.model_copy(update={"username": f"bench-{i}"}) for i in range(8)]
    visible = [
        d for d in sc.deductions_on("megamart") if d.posted_date <= sc.as_of and d.documents
    ][: 8 * per_account]
    moved = [
        d.model_copy(update={"account": accounts[i % 8].username}) for i, d in enumerate(visible)
    ]
    others = [a for a in sc.accounts if a.portal != "megamart"]
    rest = [d for d in sc.deductions if d.portal != "megamart"]
    return sc.model_copy(
        update={"accounts": others + accounts, "deductions": rest + moved, "truth": sc.truth}
    )


async def baseline(sc: Scenario, url: str, account: str) -> int:
    """The minimal script: one context, log in, each claim page, each document."""
    import pyotp
    from playwright.async_api import async_playwright

    from fleet.settings import get_settings

    settings = get_settings()
    acct = next(a for a in sc.accounts if a.portal == "megamart" and a.username == account)
    claims = [d.deduction_id for d in sc.deductions if d.account == account]
    docs = 0
    async with async_playwright() as pw:
        path = settings.resolved_browser_path
        browser = await pw.chromium.launch(
            executable_path=str(path) if path else None, args=settings.browser_args()
        )
        ctx = await browser.new_context()
        page = await ctx.new_page()
        await page.goto(url + "/login")
        await page.get_by_label("User ID", exact=True).fill(acct.username)
        await page.get_by_label("Password", exact=True).fill(acct.password)
        await page.get_by_role("button", name="Sign in").click()
        await page.get_by_label("Authenticator code", exact=True).fill(
            pyotp.TOTP(acct.totp_secret).now()
        )
        await page.get_by_role("button", name="Verify").click()
        await page.get_by_role("heading", name="Deductions").wait_for()
        for claim in claims:
            await page.goto(f"{url}/deductions/{claim}")
            links = await page.get_by_role("link", name="Download").evaluate_all(
                "els => els.map(e => e.href)"
            )
            for href in links:
                body = await (await ctx.request.get(href)).body()
                docs += body.startswith(b"%PDF-")
        await browser.close()
    return docs


async def fleet(
    sc: Scenario, latency: int, contexts: int, trace: bool = True
) -> tuple[int, int, Meter]:
    from bots.jobs import Job
    from bots.politeness import PortalLimits
    from fleet.demo import fleet_demo

    with tempfile.TemporaryDirectory() as tmp:
        async with fleet_demo(
            sc, Path(tmp), faults=f"latency_ms={latency}", max_contexts=contexts
        ) as demo:
            demo.runtime.politeness.default = PortalLimits(concurrent_jobs=contexts)
            demo.runtime.trace_jobs = trace
            jobs = [Job("megamart", f"bench-{i}", "sync") for i in range(contexts)]
            served0 = demo.world.world.record.requests["megamart"]
            with Meter() as m:
                results = await demo.run_jobs(jobs)
            docs = sum(
                r.counts.get("documents.new", 0) + r.counts.get("documents.known", 0)
                for r in results
            )
            served = demo.world.world.record.requests["megamart"] - served0
    return docs, served, m


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-account", type=int, default=15)
    ap.add_argument("--latency-ms", type=int, default=150)
    ap.add_argument("--contexts", default="1,2,4,8")
    ap.add_argument("--no-trace", action="store_true", help="jobs record no Playwright trace")
    args = ap.parse_args()
    sc = bench_world(args.per_account)
    print(
        f"fleet_bench: megamart, {args.per_account} deductions per account, "
        f"{args.latency_ms} ms added latency, cpus={os.cpu_count()}"
    )
    with start_world(sc, f"latency_ms={args.latency_ms}") as running:
        served0 = running.world.record.requests["megamart"]
        with Meter() as m:
            docs = asyncio.run(baseline(sc, running.urls["megamart"], "bench-0"))
        served = running.world.record.requests["megamart"] - served0
    base_rate = docs / m.wall * 60
    print(
        f"baseline script : {docs:4d} docs {m.wall:6.1f}s {base_rate:7.1f} docs/min "
        f"{served / docs:4.2f} req/doc cpu {m.cpu / docs * 100:6.1f}s/100docs "
        f"peak RSS {m.peak / 2**20:6.0f} MB"
    )
    for n in (int(x) for x in args.contexts.split(",")):
        docs, served, m = asyncio.run(fleet(sc, args.latency_ms, n, not args.no_trace))
        rate = docs / m.wall * 60
        print(
            f"fleet {n} context{'s' if n > 1 else ' '}: {docs:4d} docs {m.wall:6.1f}s "
            f"{rate:7.1f} docs/min {served / max(docs, 1):4.2f} req/doc cpu "
            f"{m.cpu / max(docs, 1) * 100:6.1f}s/100docs peak RSS {m.peak / 2**20:6.0f} MB "
            f"ratio to baseline {rate / base_rate:4.2f}"
        )


if __name__ == "__main__":
    main()
