"""A backfill: a large world synced from empty by ``fleet run --task sync``.

    .venv/bin/python bench/backfill_bench.py [--size large] [--minutes 10]
        [--contexts 4] [--pages 2] [--latency-ms 150] [--requests-per-minute N]
        [--sample-seconds 30] [--keep]

The generated ``large`` world (20,000 deductions, 18,368 of them posted by
the world's date on four retailer accounts, 34,182 documents) is served with
the fleet bench's added latency, and the product's own command, ``fleet run
--task sync``, runs against it in a subprocess with ``max_contexts`` browser
contexts (one per account: the account lock allows one job per account, and
the large world has four), each working ``--pages`` pages of its login
(fleet.toml's ``pages_per_session``), as a user starting the fleet on a new supplier
would. A backfill of the whole world takes hours on two cores, so the bench
stops the command after ``--minutes`` (SIGINT, as Ctrl-C) and extrapolates.

Every ``--sample-seconds`` it prints the documents and deductions in the
store, the documents per minute over the last sample and since the start,
the resident memory of the fleet's process tree (Python plus every Chromium
process), and the size of the fleet's temp dir (live traces). A flat memory
line while documents grow is what a long backfill needs: the last third of
the samples is compared with the first third, in MB per 1,000 documents.

At the end: documents per minute, requests per document (as the portals
served them), CPU seconds per 100 documents (the fleet's process tree; the
in-process world apart), peak RSS; then the time for the rest of this world
and for 250,000 documents on this machine, and the three ceilings that
could bound it: the portals' allowed rate (fleet.toml's
``requests_per_minute``, default 120, per portal, at the measured requests
per document), latency (the contexts' measured rate, which is what latency
and the pages' work allow), and CPU (two cores at the measured CPU per
document).

The portals' request limit is lifted while measuring (``requests_per_minute
= 10000``), unless ``--requests-per-minute`` gives one: the rate a robot can
reach is measured, and the portal's allowance is applied in the arithmetic.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.fleet_bench import PAGE, Meter, _sample, _stat  # noqa: E402
from fixtures.generator import generate  # noqa: E402
from fixtures.scenario import Scenario  # noqa: E402
from fixtures.server import RunningWorld, start_world  # noqa: E402

DEFAULT_PORTAL_RATE = 120
"""fleet.toml's default ``requests_per_minute`` per portal (scheduler/config.py)."""
TARGET_DOCS = 250_000
RETAILERS = ("megamart", "shopright", "freshco")
"""The world's retailer portals: the ones a sync reads."""


@dataclass
class Point:
    """One sample: seconds since the start, what the store holds, memory, temp dir."""

    t: float
    docs: int
    deductions: int
    requests: int
    rss: int
    tmp_bytes: int


def write_config(
    root: Path, world: RunningWorld, scenario: Scenario, args: argparse.Namespace
) -> Path:
    """The fleet.toml a user would write for this world, limits as the bench asks."""
    q = json.dumps
    rate = args.requests_per_minute or 10_000
    lines = [f"data_dir = {q(str(root))}", f"max_contexts = {args.contexts}", ""]
    for portal, url in sorted(world.urls.items()):
        lines += [
            f"[portals.{portal}]",
            f"base_url = {q(url)}",
            f"requests_per_minute = {rate}",
            f"max_sessions = {args.contexts}",
            f"pages_per_session = {args.pages}",
            "",
        ]
    for a in scenario.accounts:
        lines += ["[[accounts]]", f"portal = {q(a.portal)}", f"username = {q(a.username)}", ""]
    path = root / "fleet.toml"
    path.write_text("\n".join(lines))
    return path


def dir_bytes(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                total += (Path(dirpath) / f).stat().st_size
    return total


def store_counts(url: str) -> tuple[int, int]:
    """Documents fetched (links from a deduction to a document) and deductions stored."""
    from sqlalchemy import create_engine, func, select

    from store.models import Deduction, DocumentLink

    engine = create_engine(url)
    try:
        with engine.connect() as c:
            docs = c.execute(select(func.count()).select_from(DocumentLink)).scalar_one()
            deds = c.execute(select(func.count()).select_from(Deduction)).scalar_one()
        return int(docs), int(deds)
    except Exception:  # the fleet has not created its tables yet
        return 0, 0
    finally:
        engine.dispose()


def fleet_rss(pid: int) -> int:
    """Resident memory of ``pid`` and its descendants (the fleet and its browsers)."""

    pairs: list[tuple[int, int]] = []
    for e in Path("/proc").iterdir():
        if e.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                pairs.append((int(e.name), int(_stat(f"/proc/{e.name}/stat")[1])))
    fam, frontier = {pid}, {pid}
    while frontier:
        frontier = {p for p, pp in pairs if pp in frontier} - fam
        fam |= frontier
    rss = 0
    for p in fam:
        with contextlib.suppress(OSError, ValueError, IndexError):
            rss += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * PAGE
    return rss


def say(text: str) -> None:
    print(text, flush=True)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Ctrl-C for the fleet (it closes its contexts and records its runs), then force."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=60)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def drift(points: list[Point]) -> str:
    """RSS change from the first third of the samples to the last, per 1,000
    items (claim pages read plus documents fetched)."""
    if len(points) < 6:
        return "too few samples for a memory trend"
    k = len(points) // 3
    first, last = points[1 : k + 1], points[-k:]  # the first sample is the start-up
    rss0 = sum(p.rss for p in first) / k
    rss1 = sum(p.rss for p in last) / k
    d0 = sum(p.docs + p.deductions for p in first) / k
    d1 = sum(p.docs + p.deductions for p in last) / k
    per = (rss1 - rss0) / max(d1 - d0, 1) * 1000 / 2**20
    return (
        f"RSS first third {rss0 / 2**20:,.0f} MB at {d0:,.0f} items, last third "
        f"{rss1 / 2**20:,.0f} MB at {d1:,.0f} items: {per:+.1f} MB per 1,000 items"
    )


def hours(items: float, per_minute: float) -> str:
    return f"{items / per_minute / 60:,.1f} h" if per_minute > 0 else "never"


def retailer_accounts(sc: Scenario) -> int:
    return sum(1 for a in sc.accounts if a.portal in RETAILERS)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--size", default="large", choices=("small", "medium", "large"))
    ap.add_argument("--minutes", type=float, default=10, help="stop the backfill after this long")
    ap.add_argument("--contexts", type=int, default=4, help="max_contexts in fleet.toml")
    ap.add_argument("--latency-ms", type=int, default=150)
    ap.add_argument(
        "--pages", type=int, default=1, help="pages_per_session in fleet.toml (its default: 1)"
    )
    ap.add_argument(
        "--requests-per-minute",
        type=int,
        default=None,
        help="the portals' limit in fleet.toml while measuring (default: lifted)",
    )
    ap.add_argument("--sample-seconds", type=float, default=30)
    ap.add_argument("--keep", action="store_true", help="keep the data dir (logs, store)")
    args = ap.parse_args()

    from fleet.demo import demo_keyring

    t_gen = time.monotonic()
    sc = generate(args.seed, args.size)
    visible = [d for d in sc.deductions if d.posted_date <= sc.as_of and d.portal in RETAILERS]
    world_docs = sum(len(d.documents) for d in visible)
    say(
        f"backfill_bench: seed {args.seed} {args.size}: {len(visible):,} deductions posted on "
        f"{retailer_accounts(sc)} retailer accounts, {world_docs:,} documents (generated in "
        f"{time.monotonic() - t_gen:.1f} s); {args.contexts} contexts, {args.pages} page(s) "
        "per session, "
        f"{args.latency_ms} ms added latency, portal limit "
        f"{args.requests_per_minute or 'lifted'}; cpus={os.cpu_count()}, "
        f"load average {os.getloadavg()[0]:.2f} at start"
    )
    root = Path(tempfile.mkdtemp(prefix="backfill-bench-"))
    proc: subprocess.Popen[bytes] | None = None
    try:
        with start_world(sc, f"latency_ms={args.latency_ms}") as world:
            demo_keyring(root, sc)
            env = {
                **os.environ,
                "FLEET_CONFIG": str(write_config(root, world, sc, args)),
                "FLEET_KEYRING_BACKEND": "file",
                "FLEET_KEYRING_KEY_FILE": str(root / "demo-keyring.key"),
                "PYTHONPATH": str(REPO),
            }
            url = f"sqlite:///{root / 'fleet.db'}"

            def served() -> int:
                return sum(world.world.record.requests.values())

            served0 = served()
            points: list[Point] = []
            fleet_cmd = [str(Path(sys.executable).parent / "fleet"), "run", "--task", "sync"]
            say(f"  $ fleet run --task sync   (FLEET_CONFIG={root / 'fleet.toml'})")
            with (root / "fleet-run.log").open("wb") as out, Meter() as m:
                t0 = time.monotonic()
                proc = subprocess.Popen(
                    fleet_cmd,
                    env=env,
                    cwd=root,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
                deadline = t0 + args.minutes * 60
                next_sample = t0 + args.sample_seconds
                while proc.poll() is None and time.monotonic() < deadline:
                    time.sleep(min(1.0, max(0.0, next_sample - time.monotonic())))
                    if time.monotonic() < next_sample:
                        continue
                    next_sample += args.sample_seconds
                    docs, deds = store_counts(url)
                    p = Point(
                        time.monotonic() - t0,
                        docs,
                        deds,
                        served() - served0,
                        fleet_rss(proc.pid),
                        dir_bytes(root / "tmp"),
                    )
                    prev = points[-1] if points else Point(0, 0, 0, 0, 0, 0)
                    points.append(p)
                    span = max(p.t - prev.t, 1e-9) / 60
                    claims_now = (p.deductions - prev.deductions) / span
                    say(
                        f"  {p.t:5.0f} s  claims {p.deductions:6,} ({claims_now:5.0f}/min)"
                        f"  docs {p.docs:6,} ({(p.docs - prev.docs) / span:5.0f}/min)"
                        f"  requests {p.requests:7,}  fleet RSS {p.rss / 2**20:5,.0f} MB"
                        f"  temp {p.tmp_bytes / 2**20:6.1f} MB  load {os.getloadavg()[0]:4.1f}"
                    )
                finished = proc.poll() is not None
                # the fleet's browsers are killed, not reaped by it, when it is
                # stopped: their CPU is read while they still live
                live = _sample()
                stop(proc)
            docs, deds = store_counts(url)
            requests = served() - served0
        m.children = max(m.children, live.children - m.start.children)
        m.cpu = m.python + m.children
        summary(args, sc, m, points, finished, docs, deds, requests, len(visible), world_docs)
        say(f"load average {os.getloadavg()[0]:.2f} at end")
    finally:
        if proc is not None:
            stop(proc)
        if args.keep:
            say(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def summary(
    args: argparse.Namespace,
    sc: Scenario,
    m: Meter,
    points: list[Point],
    finished: bool,
    docs: int,
    deds: int,
    requests: int,
    world_claims: int,
    world_docs: int,
) -> None:
    """Rates, memory, and the extrapolation with its three ceilings.

    A sync reads each claim's page, then fetches each claim's documents, so
    the unit of work here is an item: a claim page read or a document
    fetched. The world's own ratio of documents to claims turns 250,000
    documents into items."""
    items = docs + deds
    minutes = m.wall / 60
    rate = items / minutes
    per_item = requests / max(items, 1)
    cpu_item = m.cpu / max(items, 1)
    say(
        f"{'finished' if finished else 'stopped'} after {m.wall:.0f} s: {deds:,} claims and "
        f"{docs:,} documents ({deds / minutes:.1f} and {docs / minutes:.1f} a minute; "
        f"{rate:.1f} items/min), {per_item:.2f} requests/item, {m.figures(items)} (per 100 items)"
    )
    peak = max((p.rss for p in points), default=0) / 2**20
    temp = max((p.tmp_bytes for p in points), default=0) / 2**20
    say(f"  memory: {drift(points)}; peak {peak:,.0f} MB")
    say(f"  temp dir (live traces) at most {temp:,.1f} MB")
    portals = len({a.portal for a in sc.accounts if a.portal in RETAILERS})
    portal_cap = DEFAULT_PORTAL_RATE * portals / max(per_item, 1e-9)
    cpu_cap = (os.cpu_count() or 2) * 60 / max(cpu_item, 1e-9)
    say(
        f"  ceilings, items/min: the portals' allowance {portal_cap:,.0f} ({portals} portals x "
        f"{DEFAULT_PORTAL_RATE} requests/min / {per_item:.2f}); CPU {cpu_cap:,.0f} "
        f"({os.cpu_count()} cores / {cpu_item:.2f} CPU s/item); measured {rate:,.0f} "
        f"at {args.contexts} contexts"
    )
    bound = min(rate, portal_cap)
    left = world_claims + world_docs - items
    target_items = TARGET_DOCS * (1 + world_claims / max(world_docs, 1))
    why = "the portals' allowance" if portal_cap < rate else "the measured rate"
    say(
        f"  extrapolated at {bound:,.0f} items/min ({why}): the rest of this world "
        f"({left:,} items) {hours(left, bound)}; {TARGET_DOCS:,} documents "
        f"({target_items:,.0f} items at this world's {world_docs / max(world_claims, 1):.2f} "
        f"documents per claim) {hours(target_items, bound)}"
    )


if __name__ == "__main__":
    main()
