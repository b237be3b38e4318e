"""On-demand retrieval: an analyst's request to the document in the vault, scheduler busy.

    .venv/bin/python bench/ondemand_bench.py [--requests 10] [--kinds warm,cold,busy]
        [--request-accounts 4] [--load-accounts 24] [--per-account 15] [--latency-ms 150]
        [--workers 4] [--reserved 1] [--max-sessions N] [--requests-per-minute 10000]
        [--store sqlite|postgres] [--cli] [--keep]

A real ``fleet scheduler`` process (in-process dispatch, fleet.toml's
``[scheduler]`` with ``--workers`` and ``--reserved``) serves megamart accounts
of bench/fleet_bench.py's world, 150 ms added to every portal request. The
``--load-accounts`` accounts have never been synced and a schedule that fires
every minute (no jitter): from the first minute on the scheduler is busy with
their syncs, first full ones (every claim and document), then incremental
ones, running and queued behind the pool's scheduled slots.

The ``--request-accounts`` accounts have no schedule. Their "yesterday's"
sync (in the bench's own process, before the scheduler starts) stored their
claims and the documents the portal had; for some claims the portal posts
the backup a day later (``available_from``), then the world's clock moves on
a day. Those claims are the references asked for: in the store, their
documents not in the vault, on the portal now.

Then ``--requests`` requests of each kind, one at a time, kinds interleaved:

- ``warm``: a request account whose saved session is there (yesterday's job,
  or a previous request, signed in);
- ``cold``: a request account whose saved session the bench deleted first
  (the job signs in: password and TOTP);
- ``busy``: a claim of a load account whose sync is running at that moment,
  listed by it but its documents not in the vault yet (the last such claim:
  the sync gets to it last). The request meets that sync's account lock.

Each is submitted by ``scheduler.ondemand.submit`` (what ``fleet retrieve REF``
and the web API call; ``--cli`` runs ``fleet retrieve REF`` as a process
instead, so the clock also holds a Python start and the command's imports).
The clock runs from just before the submit until the bench, polling the store
every 20 ms, sees the request's ``retrieval_requests`` row ``done`` and the
claim's every document linked in the vault. Printed per request: where the
time went (to the feeder's claim, the row turning ``running``; to the job's
start, its ``bot_runs`` row, which is written once the account lock and a
portal session are held; the job; after it), the scheduled syncs running at
the submit, and whether the request's own job downloaded the documents. Per
kind p50, p95 and max (of 10 requests the p95 is the slowest), and the load
average at the first request and the last. The two
cores are shared by the world, the scheduler, its browser and this process.

``--max-sessions`` (default: ``--workers``) is megamart's ``max_sessions``;
at fleet.toml's default of 2 the scheduled syncs hold both and an on-demand
job waits for one of them to end. ``--requests-per-minute`` (default 10000,
lifted as in bench/dispatch_bench.py) is megamart's request budget; at
fleet.toml's 120 the request shares it with the syncs. The temp dir (the
scheduler's log) is removed at the end unless ``--keep`` or an error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.dispatch_bench import _FLEET_ENV, DEFAULT_PG, _interrupt, fresh_database, p95, say  # noqa: E402
from bench.fleet_bench import bench_world  # noqa: E402
from fixtures.scenario import Scenario  # noqa: E402
from fixtures.server import RunningWorld, start_world  # noqa: E402

PORTAL = "megamart"
KINDS = ("warm", "cold", "busy")
POLL = 0.02
"""How often the bench reads the store while it waits (seconds)."""


# --------------------------------------------------------------------------- the world


def ondemand_world(
    per_account: int, request_accounts: int, load_accounts: int, targets: int
) -> tuple[Scenario, dict[str, list[str]]]:
    """bench_world with ``request_accounts + load_accounts`` accounts; on each
    request account, ``targets`` claims whose documents the portal posts a day
    after ``as_of``. Returns the world and those claims by account."""
    sc = bench_world(per_account, accounts=request_accounts + load_accounts)
    later = sc.as_of + timedelta(days=1)
    wanted = {f"bench-{i}" for i in range(request_accounts)}
    picked: dict[str, list[str]] = {a: [] for a in sorted(wanted)}
    deductions = []
    for d in sc.deductions:
        if d.portal == PORTAL and d.account in wanted and len(picked[d.account]) < targets:
            picked[d.account].append(d.deduction_id)
            docs = [doc.model_copy(update={"available_from": later}) for doc in d.documents]
            d = d.model_copy(update={"documents": docs})
        deductions.append(d)
    short = [a for a, refs in picked.items() if len(refs) < targets]
    if short:
        raise SystemExit(f"--per-account too small: {short[0]} has {len(picked[short[0]])} claims")
    return sc.model_copy(update={"deductions": deductions}), picked


# --------------------------------------------------------------------------- the fleet


class Fleet:
    """A data dir with the world's keyring and a fleet.toml, and a ``fleet scheduler``."""

    def __init__(
        self,
        root: Path,
        world: RunningWorld,
        args: argparse.Namespace,
        request_accounts: list[str],
        load_accounts: list[str],
        database_url: str | None,
    ) -> None:
        from fleet.config_loader import settings_for
        from fleet.demo import demo_keyring
        from scheduler.config import load_config
        from store.db import init_db, session_factory

        self.root = root
        q = json.dumps
        lines = [f"data_dir = {q(str(root))}", f"max_contexts = {args.workers}"]
        if database_url:
            lines.append(f"database_url = {q(database_url)}")
        lines += [
            f"[portals.{PORTAL}]",
            f"base_url = {q(world.urls[PORTAL])}",
            f"max_sessions = {args.max_sessions}",
            f"requests_per_minute = {args.requests_per_minute}",
        ]
        for name in request_accounts:
            lines += ["[[accounts]]", f"portal = {q(PORTAL)}", f"username = {q(name)}"]
        for name in load_accounts:
            lines += ["[[accounts]]", f"portal = {q(PORTAL)}", f"username = {q(name)}"]
            lines += ['schedule.cron = "* * * * *"', "schedule.jitter_seconds = 0"]
        lines += [
            "[scheduler]",
            'dispatch = "local"',
            f"workers = {args.workers}",
            f"reserved_for_on_demand = {args.reserved}",
            "jitter_seconds = 0",
            "shutdown_grace_seconds = 5",
        ]
        self.config_file = root / "fleet.toml"
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.config_file.write_text("\n".join(lines) + "\n")
        scenario = world.world.scenario
        used = set(request_accounts) | set(load_accounts)
        t = time.monotonic()
        demo_keyring(
            root,
            scenario.model_copy(
                update={
                    "accounts": [
                        a for a in scenario.accounts if a.portal == PORTAL and a.username in used
                    ]
                }
            ),
        )
        say(f"keyring: {len(used)} logins encrypted in {time.monotonic() - t:.1f} s")
        self.keyring_env = {
            "FLEET_KEYRING_BACKEND": "file",
            "FLEET_KEYRING_KEY_FILE": str(root / "demo-keyring.key"),
        }
        os.environ.update(self.keyring_env)
        self.config = load_config(self.config_file, required=True)
        self.settings = settings_for(self.config)
        self.engine = init_db(self.settings.resolved_database_url)
        self.db = session_factory(self.engine)
        self.env = {
            **os.environ,
            "FLEET_CONFIG": str(self.config_file),
            "FLEET_LOG_JSON_CONSOLE": "true",
            "PYTHONPATH": str(REPO),
        }
        self.scheduler: subprocess.Popen[bytes] | None = None

    async def sync_yesterday(self, accounts: list[str]) -> None:
        """The request accounts' first sync, in this process (each saves its session)."""
        from bots.jobs import Job
        from fleet.accounts import follow_fleet_toml
        from fleet.runtime_factory import open_runtime

        follow_fleet_toml(self.settings.resolved_database_url, self.config_file)
        async with open_runtime(self.settings) as rt:
            results = await asyncio.gather(*(rt.run(Job(PORTAL, a, "sync")) for a in accounts))
        bad = [f"{r.job.account}: {r.status} {r.error_class}" for r in results if r.error_class]
        if bad:
            raise RuntimeError(f"yesterday's sync failed: {bad}")

    def start_scheduler(self) -> None:
        log = (self.root / "scheduler.log").open("wb")
        self.scheduler = subprocess.Popen(
            [sys.executable, "-m", "fleet.cli", "scheduler"],
            env=self.env,
            cwd=self.root,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the bench only; it stops the scheduler
        )

    def check_scheduler(self) -> None:
        if self.scheduler is not None and self.scheduler.poll() is not None:
            raise RuntimeError(f"fleet scheduler exited: see {self.root / 'scheduler.log'}")

    def close(self) -> None:
        proc = self.scheduler
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # stops firing, drains, closes its browser
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=20)
        if proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of it
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        self.engine.dispose()


@contextlib.contextmanager
def started_fleet(
    root: Path,
    world: RunningWorld,
    args: argparse.Namespace,
    request_accounts: list[str],
    load_accounts: list[str],
) -> Iterator[Fleet]:
    with fresh_database(args.store, args.pg_url) as url:
        fleet = Fleet(root, world, args, request_accounts, load_accounts, url)
        try:
            yield fleet
        finally:
            fleet.close()


# --------------------------------------------------------------------------- the store, read


def syncs_running(fleet: Fleet) -> list[str]:
    """Accounts whose scheduled sync is running now."""
    from sqlalchemy import select

    from records.schemas import RunStatus
    from store.models import BotRun

    with fleet.db() as s:
        return list(
            s.scalars(
                select(BotRun.account).where(
                    BotRun.task == "sync", BotRun.status == RunStatus.running
                )
            )
        )


def busy_target(
    fleet: Fleet, asked: set[str], wanted: dict[str, int], *, wait: float
) -> str | None:
    """The last claim a running sync has listed and not fetched documents for
    yet; None when there is none for ``wait`` seconds."""
    deadline = time.monotonic() + wait
    while (ref := _busy_target(fleet, asked, wanted)) is None and time.monotonic() < deadline:
        fleet.check_scheduler()
        time.sleep(0.2)
    return ref


def _busy_target(fleet: Fleet, asked: set[str], wanted: dict[str, int]) -> str | None:
    from sqlalchemy import exists, select

    from store.models import Deduction, DocumentLink

    running = syncs_running(fleet)
    if not running:
        return None
    has_docs = exists().where(DocumentLink.deduction_id == Deduction.id)
    with fleet.db() as s:
        rows = s.execute(
            select(Deduction.account, Deduction.external_id)
            .where(Deduction.portal == PORTAL, Deduction.account.in_(running), ~has_docs)
            .order_by(Deduction.id.desc())
        ).all()
    left: dict[str, list[str]] = {}
    for account, ref in rows:
        if wanted.get(str(ref)):  # the portal shows it a document now
            left.setdefault(str(account), []).append(str(ref))
    # the account with the most claims still to fetch, its last one (asked once only)
    for refs in sorted(left.values(), key=len, reverse=True):
        if refs[0] not in asked:
            return refs[0]
    return None


@dataclass
class Seen:
    """One request as the bench saw it (wall-clock seconds)."""

    kind: str
    ref: str
    account: str
    loaded: int  # scheduled syncs running at the submit
    t0: float
    request_id: int | None = None
    claimed: float | None = None  # first seen running (or later)
    done: float | None = None
    started: float | None = None  # its job's bot_runs row
    finished: float | None = None
    fetched: int = 0  # documents the request's own job downloaded
    status: str = ""
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return (self.done or self.t0) - self.t0

    @property
    def claimed_at(self) -> float | None:
        """When the feeder claimed it: seen running, or its job's start if the
        bench's poll saw that first."""
        marks = [t for t in (self.claimed, self.started) if t is not None]
        return min(marks) if marks else None


def _ts(when: datetime | None) -> float | None:
    return None if when is None else when.timestamp()


def watch(fleet: Fleet, seen: Seen, want_docs: int, timeout: float) -> None:
    """Poll until the request is done and the claim's documents are in the vault."""
    from sqlalchemy import func, select

    from store.models import BotRun, Deduction, DocumentLink, RetrievalRequest

    deadline = time.time() + timeout
    while time.time() < deadline:
        fleet.check_scheduler()
        with fleet.db() as s:
            if seen.request_id is None:  # --cli: the row the command wrote
                seen.request_id = s.scalars(
                    select(RetrievalRequest.id)
                    .where(RetrievalRequest.target_value == seen.ref)
                    .order_by(RetrievalRequest.id.desc())
                    .limit(1)
                ).first()
            row = s.get(RetrievalRequest, seen.request_id) if seen.request_id else None
            docs = s.scalar(
                select(func.count(DocumentLink.id))
                .join(Deduction, DocumentLink.deduction_id == Deduction.id)
                .where(Deduction.portal == PORTAL, Deduction.external_id == seen.ref)
            )
            now = time.time()
            status = "" if row is None else str(getattr(row.status, "value", row.status))
            if status and status != "queued" and seen.claimed is None:
                seen.claimed = now
            if status in ("failed", "needs_human"):
                seen.status = f"{status} ({row.error_class if row else ''})"
                seen.done = now
                return
            if row is not None and status == "done" and (docs or 0) >= want_docs:
                seen.status, seen.done = "done", now
                run = s.scalars(select(BotRun).where(BotRun.run_id == row.run_id)).first()
                if run is not None:
                    seen.started, seen.finished = _ts(run.started_at), _ts(run.finished_at)
                    seen.fetched = int((run.counts or {}).get("documents.new", 0))
                return
        time.sleep(POLL)
    seen.status, seen.done = f"timed out after {timeout:.0f} s", time.time()


def submit(fleet: Fleet, seen: Seen, cli: bool) -> None:
    if cli:
        subprocess.Popen(
            [sys.executable, "-m", "fleet.cli", "retrieve", seen.ref],
            env=fleet.env,
            cwd=fleet.root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return
    from scheduler.ondemand import submit as submit_request

    [one] = submit_request(fleet.db, seen.ref, requester="cli:ondemand-bench")
    seen.request_id = one.request_id


# --------------------------------------------------------------------------- main


def line(seen: Seen) -> str:
    def gap(a: float | None, b: float | None) -> str:
        return "   -  " if a is None or b is None else f"{b - a:6.2f}"

    claimed = seen.claimed_at
    fetched = "own job fetched" if seen.fetched else "already fetched"
    return (
        f"  {seen.kind:4} {seen.ref:>12} {seen.account:9} {seen.total:6.2f}s"
        f"  claim {gap(seen.t0, claimed)} start {gap(claimed, seen.started)}"
        f" job {gap(seen.started, seen.finished)} after {gap(seen.finished, seen.done)}"
        f"  syncs running {seen.loaded}  {fetched}  {seen.status}"
    )


def run(args: argparse.Namespace) -> None:
    from credentials.session_state import session_file

    per_request_account = -(-2 * args.requests // args.request_accounts)
    sc, targets = ondemand_world(
        args.per_account, args.request_accounts, args.load_accounts, per_request_account
    )
    requesting = sorted(targets)
    loading = [f"bench-{i}" for i in range(args.request_accounts, len(sc.accounts_on(PORTAL)))]
    tmp = Path(tempfile.mkdtemp(prefix="ondemand-bench-"))
    args.tmp = tmp
    with (
        start_world(sc, f"latency_ms={args.latency_ms}") as world,
        started_fleet(tmp / "fleet", world, args, requesting, loading) as fleet,
    ):
        t = time.monotonic()
        asyncio.run(fleet.sync_yesterday(requesting))
        world.world.clock.advance(days=1)
        wanted = {  # documents the portal shows today (some come later still)
            d.deduction_id: len(world.world.available_documents(d))
            for d in sc.deductions
            if d.portal == PORTAL
        }
        say(
            f"yesterday: {len(requesting)} request accounts synced in "
            f"{time.monotonic() - t:.1f} s; the world's clock moved a day"
        )
        fleet.start_scheduler()
        want = min(len(loading), args.workers - args.reserved, args.max_sessions)
        t, deadline = time.monotonic(), time.monotonic() + 90
        while len(syncs_running(fleet)) < want:
            fleet.check_scheduler()
            if time.monotonic() > deadline:
                raise RuntimeError(f"no load after 90 s: see {fleet.root / 'scheduler.log'}")
            time.sleep(0.2)
        load0 = os.getloadavg()
        say(
            f"load: {want} scheduled syncs running {time.monotonic() - t:.0f} s after the "
            f"scheduler started ({len(loading)} accounts due every minute); "
            f"load average {load0[0]:.2f}"
        )
        results: dict[str, list[Seen]] = {k: [] for k in args.kinds}
        asked: set[str] = set()
        pending = {a: list(refs) for a, refs in targets.items()}
        for i in range(args.requests):
            for kind in args.kinds:
                if kind == "busy":
                    found = busy_target(fleet, asked, wanted, wait=60)
                    if found is None:
                        say("  busy: no sync with a claim still to fetch for 60 s; skipped")
                        continue
                    ref = found
                    account = next(d.account for d in sc.deductions if d.deduction_id == ref)
                else:
                    # warm and cold on different accounts in a round
                    account = requesting[(2 * i + (kind == "cold")) % len(requesting)]
                    ref = pending[account].pop(0)
                    saved = session_file(fleet.root, PORTAL, account)
                    if kind == "cold":
                        saved.unlink(missing_ok=True)
                    elif not saved.exists():
                        say(f"  warm: {account} has no saved session (not warm)")
                asked.add(ref)
                seen = Seen(kind, ref, account, len(syncs_running(fleet)), time.time())
                submit(fleet, seen, args.cli)
                watch(fleet, seen, wanted[ref], args.timeout)
                results[kind].append(seen)
                say(line(seen))
        load1 = os.getloadavg()
    say(
        f"per kind ({args.requests} each, submit to the documents in the vault; "
        f"p95 of 10 is the slowest):"
    )
    for kind, seens in results.items():
        ok = [s.total for s in seens if s.status == "done"]
        bad = len(seens) - len(ok)
        if not ok:
            say(f"  {kind:4}: nothing done ({bad} failed)")
            continue
        parts = {
            "claim": [c - s.t0 for s in seens if (c := s.claimed_at)],
            "start": [s.started - c for s in seens if s.started and (c := s.claimed_at)],
            "job": [s.finished - s.started for s in seens if s.started and s.finished],
        }
        medians = ", ".join(f"{k} {statistics.median(v):.2f}" for k, v in parts.items() if v)
        say(
            f"  {kind:4}: p50 {statistics.median(ok):6.2f} s  p95 {p95(ok):6.2f} s  "
            f"max {max(ok):6.2f} s  (medians: {medians})" + (f"  {bad} NOT done" if bad else "")
        )
    say(f"load average {load0[0]:.2f} at the first request, {load1[0]:.2f} at the last")


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--requests", type=int, default=10, help="requests of each kind")
    ap.add_argument("--kinds", default=",".join(KINDS), help="any of warm,cold,busy")
    ap.add_argument("--request-accounts", type=int, default=4)
    ap.add_argument("--load-accounts", type=int, default=24)
    ap.add_argument("--per-account", type=int, default=15, help="claims per account")
    ap.add_argument("--latency-ms", type=int, default=150, help="added to every portal request")
    ap.add_argument("--workers", type=int, default=4, help="[scheduler] workers")
    ap.add_argument("--reserved", type=int, default=1, help="[scheduler] reserved_for_on_demand")
    ap.add_argument("--max-sessions", type=int, help="megamart's (default: --workers)")
    ap.add_argument("--requests-per-minute", type=int, default=10_000, help="megamart's budget")
    ap.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--pg-url", default=os.environ.get("FLEET_TEST_PG_URL", DEFAULT_PG))
    ap.add_argument("--cli", action="store_true", help="submit by running `fleet retrieve REF`")
    ap.add_argument("--timeout", type=float, default=120, help="seconds per request at most")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (the scheduler's log)")
    args = ap.parse_args()
    args.kinds = [k for k in args.kinds.split(",") if k]
    if not set(args.kinds) <= set(KINDS):
        ap.error(f"--kinds: of {','.join(KINDS)}")
    args.max_sessions = args.max_sessions or args.workers
    for key in _FLEET_ENV:
        os.environ.pop(key, None)
    signal.signal(signal.SIGTERM, _interrupt)

    from fleet.logging_setup import configure_logging

    configure_logging(level="WARNING")
    say(
        f"ondemand_bench: megamart, {args.latency_ms} ms added latency, store {args.store}, "
        f"fleet scheduler with in-process dispatch: workers {args.workers}, "
        f"{args.reserved} reserved for on-demand, max_sessions {args.max_sessions}, "
        f"{args.requests_per_minute} requests/min; {args.load_accounts} load accounts, "
        f"{args.request_accounts} request accounts, {args.per_account} claims each; "
        f"submitted by {'`fleet retrieve REF`' if args.cli else 'scheduler.ondemand.submit'}; "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start"
    )
    args.tmp = None
    try:
        run(args)
    except KeyboardInterrupt:
        say("interrupted: scheduler stopped, cleaning up")
        raise SystemExit(130) from None
    except Exception:
        args.keep = True  # the scheduler's log says what went wrong
        raise
    finally:
        if args.tmp is not None:
            if args.keep:
                say(f"kept {args.tmp}")
            else:
                shutil.rmtree(args.tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
