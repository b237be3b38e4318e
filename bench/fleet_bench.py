"""Fleet retrieval speed against the simulated megamart portal.

    .venv/bin/python bench/fleet_bench.py [--per-account 15] [--latency-ms 150]
        [--contexts 1,2,4,8] [--no-trace] [--no-baseline]
        [--requests-per-minute N] [--profile FILE] [--rounds N] [--compare-trace]

A generated medium world whose megamart deductions are spread over 8 vendor
accounts (the account lock allows one job per account, so contexts scale with
accounts). For each concurrency it syncs N accounts at once into a fresh
store and prints documents per minute, requests per document (as the portal
served them), CPU seconds per 100 documents split into the Python process and
the browser processes (exited ones included), the fixture world's own CPU
apart, peak RSS, and the load average (the machine is shared: a figure means
little without it). First, the same retrieval by a minimal hand-written
Playwright script (one context: log in, read each claim page, fetch each
document) is the baseline, in the same process and world; for both, the
clock runs from the browser context's creation to its close (a browser launch
is not counted: the fleet's pool starts its browser once per process). The
fleet runs without a request budget, as the script does, unless
``--requests-per-minute`` gives one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import os
import resource
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import median

from fixtures.generator import generate
from fixtures.scenario import Scenario
from fixtures.server import start_world

PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")
WORLD_THREADS = ("fixture-world", "AnyIO worker thread")
"""Thread names of the in-process fixture world (its server loop, and the pool
a sync endpoint would run on): their CPU is the world's, not the fleet's."""


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


def _stat(path: str) -> list[str]:
    return Path(path).read_text().rsplit(")", 1)[1].split()


@dataclass
class CpuSample:
    """CPU seconds so far, split by who spent them, and resident memory now."""

    python: float  # this process's own threads, the world's excepted
    children: float  # every child process, live or exited (browsers, the Playwright driver)
    rss: int

    @property
    def total(self) -> float:
        return self.python + self.children


def _sample() -> CpuSample:
    """This process and its children, exited ones included.

    A live process's ``/proc`` times hold its own CPU and that of the children
    it has reaped (cutime, cstime), so summing utime+stime+cutime+cstime over
    the live tree counts a Chromium renderer that exited, or a whole browser
    that was closed, exactly once: in its parent's figure, or in this
    process's RUSAGE_CHILDREN. (Counting only the live processes' own times,
    as this bench once did, lost every exited child: a hand-written script
    that closes its browser looked ten times cheaper than it was.)
    """
    me = os.getpid()
    own = resource.getrusage(resource.RUSAGE_SELF)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    python = own.ru_utime + own.ru_stime
    children = reaped.ru_utime + reaped.ru_stime
    rss = 0
    for pid in _tree():
        with contextlib.suppress(OSError, ValueError, IndexError):
            rss += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
            if pid != me:
                f = _stat(f"/proc/{pid}/stat")
                children += sum(int(x) for x in f[11:15]) / TICKS
    return CpuSample(python, children, rss)


def _world_cpu() -> dict[int, float]:
    """CPU seconds of each live world thread, by native thread id."""
    out: dict[int, float] = {}
    for t in threading.enumerate():
        if t.name.startswith(WORLD_THREADS) and t.native_id is not None:
            with contextlib.suppress(OSError, ValueError, IndexError):
                f = _stat(f"/proc/self/task/{t.native_id}/stat")
                out[t.native_id] = (int(f[11]) + int(f[12])) / TICKS
    return out


def _cpu_jiffies() -> tuple[int, int]:
    """(stolen, all) CPU time of the whole machine so far, from /proc/stat: the
    share the virtual machine's host gave to others, which slows a run without
    anything here being busier."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (fields[7] if len(fields) > 7 else 0), sum(fields[:8])


class Meter:
    """Wall time, CPU seconds and peak RSS of this process and its children
    while running; CPU split into the fleet's Python (or the script's), the
    children (browser, driver) and the in-process fixture world."""

    def __enter__(self) -> Meter:
        self.start = _sample()
        self._world0 = _world_cpu()
        self._world1 = dict(self._world0)
        self.peak = self.start.rss
        self.load0 = os.getloadavg()
        self._jiffies0 = _cpu_jiffies()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._watch, daemon=True)
        self._t.start()
        self.t0 = time.monotonic()
        return self

    def _watch(self) -> None:
        while not self._stop.wait(0.25):
            self.peak = max(self.peak, _sample().rss)
            self._world1.update(_world_cpu())  # a thread that ends keeps its last figure

    def __exit__(self, *exc: object) -> None:
        self.wall = time.monotonic() - self.t0
        self._stop.set()
        self._t.join()
        end = _sample()
        self._world1.update(_world_cpu())
        self.load1 = os.getloadavg()
        stolen, every = (b - a for a, b in zip(self._jiffies0, _cpu_jiffies(), strict=True))
        self.stolen = stolen / every if every else 0.0  # the host's share, while measuring
        self.peak = max(self.peak, end.rss)
        self.world = sum(v - self._world0.get(k, 0.0) for k, v in self._world1.items())
        self.python = end.python - self.start.python - self.world
        self.children = end.children - self.start.children
        self.cpu = self.python + self.children  # the world is served to both: not counted

    def figures(self, docs: int) -> str:
        """CPU per 100 documents (python + browser; the world apart) and load."""
        per = 100 / max(docs, 1)
        return (
            f"cpu {self.cpu * per:5.1f}s/100docs (python {self.python * per:4.1f}, "
            f"browser {self.children * per:4.1f}; world {self.world * per:4.1f}) "
            f"peak RSS {self.peak / 2**20:5.0f} MB load {self.load0[0]:.2f}->{self.load1[0]:.2f} "
            f"stolen {self.stolen:.0%}"
        )


def bench_world(per_account: int, sizes: list[int] | None = None, accounts: int = 8) -> Scenario:
    """Medium world; megamart's deductions spread over ``accounts`` accounts
    (``bench-0`` on; the medium world has 831 to share), N each, or
    ``sizes[i]`` for ``bench-i``: unequal accounts, as real ones are."""
    sc = generate(7, "medium")
    mm = sc.accounts_on("megamart")[0]
    bench = [mm.model_copy(update={"username": f"bench-{i}"}) for i in range(accounts)]
    counts = (sizes or []) + [per_account] * (accounts - len(sizes or []))
    visible = [
        d for d in sc.deductions_on("megamart") if d.posted_date <= sc.as_of and d.documents
    ][: sum(counts)]
    owners = [
        bench[i % accounts].username
        for i in range(accounts * max(counts))
        if (i // accounts) < counts[i % accounts]
    ]
    moved = [
        d.model_copy(update={"account": owner}) for d, owner in zip(visible, owners, strict=False)
    ]
    others = [a for a in sc.accounts if a.portal != "megamart"]
    rest = [d for d in sc.deductions if d.portal != "megamart"]
    return sc.model_copy(
        update={"accounts": others + bench, "deductions": rest + moved, "truth": sc.truth}
    )


async def baseline(sc: Scenario, url: str, account: str, meter: Meter) -> tuple[int, float]:
    """The minimal script: one context, log in, each claim page, each document.

    ``meter`` runs from the new context to its close, as the fleet's does
    around its jobs: a browser launch (returned, in seconds) is not counted
    for either, since the fleet's pool starts its browser once per process.
    """
    import pyotp
    from playwright.async_api import async_playwright

    from fleet.settings import get_settings

    settings = get_settings()
    acct = next(a for a in sc.accounts if a.portal == "megamart" and a.username == account)
    claims = [d.deduction_id for d in sc.deductions if d.account == account]
    docs = 0
    async with async_playwright() as pw:
        path = settings.resolved_browser_path
        t0 = time.monotonic()
        browser = await pw.chromium.launch(
            executable_path=str(path) if path else None, args=settings.browser_args()
        )
        launch = time.monotonic() - t0
        with meter:
            ctx = await browser.new_context()
            page = await ctx.new_page()
            await page.goto(url + "/login")
            await page.get_by_label("User ID", exact=True).fill(acct.username)
            await page.get_by_label("Password", exact=True).fill(acct.password)
            await page.get_by_role("button", name="Sign in").click()
            await page.get_by_label("Authenticator code", exact=True).fill(
                pyotp.TOTP(acct.totp_secret or "").now()
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
            await ctx.close()
        await browser.close()
    return docs, launch


async def fleet(
    sc: Scenario,
    latency: int,
    contexts: int,
    *,
    trace: bool = True,
    requests_per_minute: float | None = None,
    profile: Path | None = None,
    pages: int = 1,
) -> tuple[int, int, Meter]:
    """N accounts synced at once through the fleet's runtime (one context each).

    The portal's politeness limits are the bench's: ``contexts`` jobs at once
    and, unless ``requests_per_minute`` is given, no request budget, because
    the baseline script has none (fleet.toml's default of 120 a minute would
    hold one context near 60 documents a minute and measure the budget, not
    the robot). ``profile``: the jobs run under cProfile, stats written there.
    """
    from bots.jobs import Job
    from bots.politeness import PortalLimits
    from fleet.demo import fleet_demo

    with tempfile.TemporaryDirectory() as tmp:
        async with fleet_demo(
            sc, Path(tmp), faults=f"latency_ms={latency}", max_contexts=contexts
        ) as demo:
            limits = PortalLimits(
                concurrent_jobs=contexts, requests_per_minute=requests_per_minute, pages=pages
            )
            demo.runtime.politeness.limits["megamart"] = limits
            demo.runtime.politeness.default = limits
            demo.runtime.trace_jobs = trace
            jobs = [Job("megamart", f"bench-{i}", "sync") for i in range(contexts)]
            served0 = demo.world.world.record.requests["megamart"]
            prof = cProfile.Profile() if profile else None
            with Meter() as m:
                if prof is not None:
                    prof.enable()
                results = await demo.run_jobs(jobs)
                if prof is not None:
                    prof.disable()
            if prof is not None and profile is not None:
                prof.dump_stats(profile)
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
    ap.add_argument(
        "--pages",
        type=int,
        default=1,
        help="pages of one login a job works at once (fleet.toml's default: 1)",
    )
    ap.add_argument("--no-trace", action="store_true", help="jobs record no Playwright trace")
    ap.add_argument("--no-baseline", action="store_true", help="skip the hand-written script")
    ap.add_argument(
        "--requests-per-minute",
        type=float,
        default=None,
        help="the fleet's request budget on the portal (default: none, as the baseline)",
    )
    ap.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="cProfile the first fleet run's jobs (the event loop's thread) into this file",
    )
    ap.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="repeat baseline and fleet runs, interleaved, and print medians "
        "(the machine is shared: one round says little)",
    )
    ap.add_argument(
        "--compare-trace",
        action="store_true",
        help="also run one context with the trace off (on if --no-trace) each round",
    )
    args = ap.parse_args()
    sc = bench_world(args.per_account)
    budget = f"{args.requests_per_minute:g} requests/min" if args.requests_per_minute else "none"
    print(
        f"fleet_bench: megamart, {args.per_account} deductions per account, "
        f"{args.latency_ms} ms added latency, cpus={os.cpu_count()}, "
        f"trace {'off' if args.no_trace else 'on'}, fleet request budget {budget}, "
        f"{args.pages} page(s) per session, "
        f"load average {os.getloadavg()[0]:.2f} at start"
    )
    print("  (cpu: python + browser processes, exited ones included; the world's own apart)")
    runs = [(int(x), not args.no_trace) for x in args.contexts.split(",")]
    if args.compare_trace:
        runs.append((1, args.no_trace))
    rates: dict[str, list[float]] = {}
    ratios: dict[str, list[float]] = {}
    peaks: dict[int, list[float]] = {}
    profile = args.profile
    for _ in range(args.rounds):
        base_rate = 0.0 if args.no_baseline else run_baseline(sc, args.latency_ms)
        if base_rate:
            rates.setdefault("baseline script", []).append(base_rate)
        for n, trace in runs:
            docs, served, m = asyncio.run(
                fleet(
                    sc,
                    args.latency_ms,
                    n,
                    trace=trace,
                    requests_per_minute=args.requests_per_minute,
                    profile=profile,
                    pages=args.pages,
                )
            )
            profile = None  # the first fleet run only
            label = f"fleet {n} context{'s' if n > 1 else ' '}" + ("" if trace else ", no trace")
            rate = docs / m.wall * 60
            rates.setdefault(label, []).append(rate)
            if trace != args.no_trace:  # the main trace setting: the RSS comparison
                peaks.setdefault(n, []).append(m.peak)
            ratio = ""
            if base_rate:
                ratios.setdefault(label, []).append(rate / base_rate)
                ratio = f" ratio to baseline {rate / base_rate:4.2f}"
            print(
                f"{label}: {docs:4d} docs {m.wall:6.1f}s "
                f"{rate:7.1f} docs/min {served / max(docs, 1):4.2f} req/doc "
                f"{m.figures(docs)}{ratio}",
                flush=True,
            )
    if args.rounds > 1:
        print(f"medians of {args.rounds} rounds:")
        for label, values in rates.items():
            r = ""
            if label in ratios:
                r = f", ratio to its round's baseline {median(ratios[label]):4.2f}"
            print(f"  {label}: {median(values):7.1f} docs/min{r}")
    if 1 in peaks:
        one = median(peaks[1])
        for n, values in sorted(peaks.items()):
            if n > 1:
                print(
                    f"peak RSS per extra context, 1 -> {n}: "
                    f"{(median(values) - one) / (n - 1) / 2**20:5.0f} MB"
                )
    if args.profile:
        print(f"profile of the first fleet run: {args.profile} (python -m pstats)")
    print(f"load average {os.getloadavg()[0]:.2f} at end")


def run_baseline(sc: Scenario, latency: int) -> float:
    """The hand-written script on a world of its own; prints its line, returns docs/min."""
    with start_world(sc, f"latency_ms={latency}") as running:
        served0 = running.world.record.requests["megamart"]
        m = Meter()
        docs, launch = asyncio.run(baseline(sc, running.urls["megamart"], "bench-0", m))
        served = running.world.record.requests["megamart"] - served0
    rate = docs / m.wall * 60
    print(
        f"baseline script : {docs:4d} docs {m.wall:6.1f}s {rate:7.1f} docs/min "
        f"{served / docs:4.2f} req/doc {m.figures(docs)} (browser launch {launch:.1f}s apart)",
        flush=True,
    )
    return rate


if __name__ == "__main__":
    main()
