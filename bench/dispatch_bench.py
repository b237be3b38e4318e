"""Dispatch cost: the in-process pool against Celery workers, on the fixture world.

    .venv/bin/python bench/dispatch_bench.py [--broker redis|amqp] [--store sqlite|postgres]
        [--jobs 200] [--real-jobs 8] [--accounts 6] [--per-account 8] [--latency-ms 150]
        [--workers 1,2] [--concurrency 1] [--only overhead|docs] [--rounds 1] [--keep]

Part 1, overhead per job. Jobs go one at a time through ``LocalDispatcher``
(the scheduler's in-process pool) and through ``CeleryDispatcher`` to one real
``fleet worker`` process with one thread; each takes from submit to the job's
end (for Celery, the timestamp of the worker's ``worker.job_done`` line: one
machine, one clock). The job is a null job: a bench-only hook, installed in
this process and in the bench's own workers and nowhere else, makes
``FleetRuntime.run`` return at once for a target starting ``bench-null:``, so
everything around the job runs for real. "where" splits the Celery time by
the timestamps on the way: ``to thread`` (CeleryDispatcher's hop off the event
loop), ``publish`` (``send_job``: Celery builds and sends the message),
``broker`` (until the worker logs it received), ``celery`` (Celery's request
to a pool thread, up to ``worker.job_start``), ``job path`` (the hop onto the
worker's runtime loop, ``execute``, back, ``worker.job_done``).

Then the same null jobs back to back on one slot (a 1-slot pool; the 1-thread
worker): the gap between two ends is what a busy worker pays per job, split
into ``job path``, ``celery after`` (Celery's bookkeeping once the task has
returned), ``ack+next`` (acknowledging, fetching the next message) and
``celery before``. CPU is this process tree's (client and worker), not the
broker's. Last, the cheapest real job (``dispute_status`` on an account with
no disputes: account lock, browser context, saved session, one login-check
page, store) both ways, to set the overhead beside a job's own cost.

Part 2, documents per minute. Megamart accounts of bench/fleet_bench.py's
world are synced through Celery by 1, then 2 worker processes
(``--concurrency`` jobs each), each run into a fresh data dir and store.
The workers have started and opened their browser before the clock starts;
the first job of an account in a process still reads the keyring and logs
in, as after any worker restart. CPU and peak RSS are this process's tree:
the world, the workers and their browsers (not the broker).

Workers and the temp dir are removed on exit, Ctrl-C and SIGTERM included;
after an error the temp dir (worker logs) is kept, and ``--keep`` keeps it
anyway. With RabbitMQ the ``fleet.*`` queues live in the default vhost, as
the Celery integration tests' do: do not run the two at once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.fleet_bench import Meter, bench_world  # noqa: E402
from bench.store_bench import DEFAULT_PG  # noqa: E402
from bots.jobs import Job, JobResult  # noqa: E402
from fixtures.server import RunningWorld, start_world  # noqa: E402

BROKERS = {"redis": "redis://127.0.0.1:6379/14", "amqp": "amqp://guest:guest@127.0.0.1:5672//"}
NULL = "bench-null:"  # the runtime returns at once
WARM = "bench-warm:"  # ... after sleeping this many seconds (warms a worker up)
PORTAL, ACCOUNT = "megamart", "bench-0"  # part 1's account (bench_world's first)
_FLEET_ENV = (
    "FLEET_CONFIG",
    "FLEET_DATA_DIR",
    "FLEET_DATABASE_URL",
    "FLEET_BROKER_URL",
    "FLEET_PORTAL_URLS",
    "FLEET_MAX_CONTEXTS",
    "FLEET_LOG_LEVEL",  # the bench reads the workers' INFO lines
)


def say(text: str) -> None:
    print(text, flush=True)


# --------------------------------------------------------------------------- the null job


def install_null_jobs() -> None:
    """Bench-only: ``FleetRuntime.run`` returns at once for a ``bench-null:`` target."""
    from bots.runtime import FleetRuntime

    real_run = FleetRuntime.run
    if getattr(real_run, "_bench_null", False):
        return

    async def run(self: FleetRuntime, job: Job, *, lock_wait_seconds: float = 600) -> JobResult:
        target = job.target or ""
        if target.startswith(WARM):
            await asyncio.sleep(float(target.removeprefix(WARM)))
        if target.startswith((NULL, WARM)):
            return JobResult(job=job, run_id="bench-null", status="succeeded")
        return await real_run(self, job, lock_wait_seconds=lock_wait_seconds)

    run._bench_null = True  # type: ignore[attr-defined]
    FleetRuntime.run = run  # type: ignore[method-assign]


def null_job(i: int) -> Job:
    return Job(PORTAL, ACCOUNT, "dispute_status", f"{NULL}{i}")


def worker_main(argv: list[str]) -> None:
    """``fleet worker ARGV`` with the null-job hook: the process the bench starts."""
    import typer

    from fleet.commands.scheduler import register

    install_null_jobs()
    app = typer.Typer()
    register(app)
    app(args=["worker", *argv], prog_name="fleet")


# --------------------------------------------------------------------------- figures


def p95(xs: list[float]) -> float:
    s = sorted(xs)
    return s[max(0, math.ceil(0.95 * len(s)) - 1)]


def ms(xs: list[float]) -> str:
    return f"median {statistics.median(xs) * 1000:8.2f} ms  p95 {p95(xs) * 1000:8.2f} ms"


def gaps(t0: float, ends: list[float]) -> list[float]:
    ends = sorted(ends)
    return [b - a for a, b in zip([t0, *ends[:-1]], ends, strict=True)]


# --------------------------------------------------------------------------- a Celery fleet


class LogTail:
    """One worker's log, read as it grows: the times of each job's four lines.

    ``received`` and ``succeeded`` are Celery's own (its request taken off the
    broker; its bookkeeping done after the task returned), ``start`` and
    ``done`` the fleet's ``worker.job_start`` / ``worker.job_done``; ``failed``
    is Celery's line for a job that raised (it is acknowledged, not retried).
    """

    KINDS = ("received", "start", "done", "succeeded", "failed")

    def __init__(self, path: Path) -> None:
        self.path = path
        self._pos = 0
        self._rest = b""
        self._times: dict[str, list[float]] = {k: [] for k in self.KINDS}
        self._tasks: dict[str, list[str | None]] = {k: [] for k in self.KINDS}
        self.failures: list[str] = []

    @staticmethod
    def _kind(event: str) -> str | None:
        if event.startswith("worker.job_"):
            return event.removeprefix("worker.job_")
        if event.startswith("Task fleet.run_job[") and event.endswith("] received"):
            return "received"
        if event.startswith("Task fleet.run_job[") and " succeeded in " in event:
            return "succeeded"
        if event.startswith("Task fleet.run_job[") and " raised " in event:
            return "failed"
        return None

    def poll(self) -> None:
        with self.path.open("rb") as fh:
            fh.seek(self._pos)
            data = fh.read()
        self._pos += len(data)
        *lines, self._rest = (self._rest + data).split(b"\n")
        for line in lines:
            if line.startswith(b"{") and (
                b'"worker.job_' in line or b"Task fleet.run_job[" in line
            ):
                e = json.loads(line)
                kind = self._kind(e.get("event", ""))
                if kind in self._times:
                    self._times[kind].append(datetime.fromisoformat(e["timestamp"]).timestamp())
                    self._tasks[kind].append(e.get("task"))
                if kind == "failed":
                    self.failures.append(e["event"].split("] ", 1)[-1][:200])

    def times(self, kind: str, task: str | None = None) -> list[float]:
        """When each event of ``kind`` happened (of jobs of ``task`` only, if given:
        a sync's follow-ups end on the workers too; a Celery ``failed`` line
        names no task and always counts)."""
        self.poll()
        return [
            t
            for t, tk in zip(self._times[kind], self._tasks[kind], strict=True)
            if task is None or tk in (task, None)
        ]


class CeleryFleet:
    """A data dir with the world's keyring, a fleet.toml, a fresh store, worker processes."""

    def __init__(
        self,
        root: Path,
        world: RunningWorld,
        broker: str,
        keyring: Path,
        *,
        concurrency: int,
        database_url: str | None,
        pages: int,
    ) -> None:
        from fleet.config_loader import settings_for
        from scheduler.config import load_config
        from scheduler.worker import celery_for
        from store.db import init_db, session_factory
        from store.repositories import accounts as accounts_repo

        self.root, self.concurrency = root, concurrency
        shutil.copytree(keyring, root, dirs_exist_ok=True)
        scenario = world.world.scenario
        q = json.dumps
        lines = [f"data_dir = {q(str(root))}", f"broker_url = {q(broker)}"]
        lines.append(f"max_contexts = {concurrency}")
        if database_url:
            lines.append(f"database_url = {q(database_url)}")
        for p, u in world.urls.items():
            # The portal's own rate limit is not what this bench measures: lift it.
            lines += [f"[portals.{p}]", f"base_url = {q(u)}", "requests_per_minute = 10000"]
            lines.append(f"pages_per_session = {pages}")
        for a in scenario.accounts:
            lines += ["[[accounts]]", f"portal = {q(a.portal)}", f"username = {q(a.username)}"]
        lines += ["[scheduler]", 'dispatch = "celery"']
        self.config_file = root / "fleet.toml"
        self.config_file.write_text("\n".join(lines) + "\n")
        self.config = load_config(self.config_file, required=True)
        self.settings = settings_for(self.config)
        self.engine = init_db(self.settings.resolved_database_url)
        self.db = session_factory(self.engine)
        with self.db() as s, s.begin():
            for a in scenario.accounts:
                accounts_repo.upsert_account(s, a.portal, a.username)
        self.app = celery_for(self.config, self.settings)
        self.app.control.purge()
        self.keyring_env = {
            "FLEET_KEYRING_BACKEND": "file",
            "FLEET_KEYRING_KEY_FILE": str(root / "demo-keyring.key"),
        }
        self.env = {
            **os.environ,
            **self.keyring_env,
            "FLEET_CONFIG": str(self.config_file),
            "FLEET_LOG_JSON_CONSOLE": "true",
            "PYTHONPATH": str(REPO),
        }
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, LogTail] = {}

    def credentials(self) -> Any:
        from credentials.backends import select_backend
        from credentials.keyring_vault import CredentialVault

        return CredentialVault(select_backend(self.root, env=self.keyring_env), self.root)

    def hostname(self, name: str) -> str:
        return f"{name}@dispatch-bench-{os.getpid()}"

    def start_workers(self, names: list[str], queues: str | None = None) -> None:
        """Start ``fleet worker`` processes (on ``queues`` only, if given)."""
        for name in names:
            path = self.root / f"{name}.log"
            with path.open("wb") as out:
                self.workers[name] = subprocess.Popen(
                    [
                        *(sys.executable, __file__, "_worker"),
                        *("--name", self.hostname(name), "--concurrency", str(self.concurrency)),
                        *(("--queues", queues) if queues else ()),
                    ],
                    env=self.env,
                    cwd=self.root,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # Ctrl-C reaches the bench only; it stops them
                )
            self.logs[name] = LogTail(path)
        for name, proc in self.workers.items():
            deadline = time.monotonic() + 90
            while not self.app.control.ping(destination=[self.hostname(name)], timeout=0.5):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"worker {name} did not start: see {self.root / name}.log")

    def ended(self, task: str | None = None) -> list[float]:
        """When each job (of ``task``, if given) ended on these workers, done or failed."""
        return [
            t
            for tail in self.logs.values()
            for k in ("done", "failed")
            for t in tail.times(k, task)
        ]

    def failures(self) -> list[str]:
        return [f for tail in self.logs.values() for f in tail.failures]

    def wait_done(
        self,
        n: int,
        timeout: float,
        progress: Callable[[int], None] | None = None,
        task: str | None = None,
    ) -> list[float]:
        """Wait until ``n`` jobs (of ``task``) have ended on these workers; their end times."""
        deadline, next_say = time.monotonic() + timeout, time.monotonic() + 10
        while len(ends := self.ended(task)) < n:
            dead = [name for name, proc in self.workers.items() if proc.poll() is not None]
            if dead or time.monotonic() > deadline:
                why = f"worker {', '.join(dead)} exited" if dead else f"after {timeout:.0f} s"
                raise RuntimeError(f"{len(ends)}/{n} jobs ended, {why}: see {self.root}/*.log")
            if progress and time.monotonic() > next_say:
                progress(len(ends))
                next_say += 10
            time.sleep(0.05)
        return sorted(ends)

    def warm_up(self) -> None:
        """One slow null job per worker, so each has opened its runtime (its browser)."""
        from scheduler.dispatch import send_job

        warm = Job(PORTAL, ACCOUNT, "dispute_status", f"{WARM}1.5")
        for _attempt in range(5):
            cold = [n for n, tail in self.logs.items() if not tail.times("done")]
            if not cold:
                return
            before, count = len(self.ended()), len(cold) * self.concurrency
            for _ in range(count):
                send_job(self.app, warm, on_demand=False)
            self.wait_done(before + count, 120)
        raise RuntimeError("a worker took no warm-up job")

    def close(self, *, fast: bool) -> None:
        for proc in self.workers.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # warm shutdown: the browser closes
        for proc in self.workers.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5 if fast else 30)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of it (its browser)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        self.workers.clear()
        with contextlib.suppress(Exception):
            self.app.control.purge()
        self.app.close()
        self.engine.dispose()


@contextlib.contextmanager
def fresh_database(store: str, pg_url: str) -> Iterator[str | None]:
    """None (SQLite in the data dir) or a throw-away PostgreSQL schema's URL."""
    if store == "sqlite":
        yield None
        return
    from sqlalchemy import create_engine, text

    admin = create_engine(pg_url, connect_args={"connect_timeout": 3})
    schema = f"dispatch_bench_{uuid.uuid4().hex[:8]}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        sep = "&" if "?" in pg_url else "?"
        yield f"{pg_url}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@contextlib.contextmanager
def celery_fleet(
    root: Path, world: RunningWorld, keyring: Path, args: argparse.Namespace, concurrency: int
) -> Iterator[CeleryFleet]:
    with fresh_database(args.store, args.pg_url) as url:
        fleet = CeleryFleet(
            root,
            world,
            args.broker_url,
            keyring,
            concurrency=concurrency,
            database_url=url,
            pages=args.pages,
        )
        fast = True
        try:
            yield fleet
            fast = False
        finally:
            fleet.close(fast=fast)


# --------------------------------------------------------------------------- part 1


async def local_overhead(fleet: CeleryFleet, n: int, n_real: int) -> dict[str, Any]:
    """Null jobs one at a time, back to back, then real ones, through LocalDispatcher."""
    from fleet.runtime_factory import open_runtime
    from scheduler.dispatch import LocalDispatcher, execute
    from scheduler.worker import account_lock_for

    install_null_jobs()
    cfg = fleet.config.scheduler
    locks = account_lock_for(fleet.settings, fleet.config)
    out: dict[str, Any] = {}
    async with open_runtime(fleet.settings, credentials=fleet.credentials(), locks=locks) as rt:

        async def runner(job: Job) -> JobResult:
            return await execute(rt, job)

        pool = LocalDispatcher(
            runner,
            workers=cfg.workers,
            reserved=cfg.reserved_for_on_demand,
            portal_limits={p: c.max_sessions for p, c in fleet.config.portals.items()},
        )

        async def timed(job: Job) -> float:
            t0 = time.perf_counter()
            await pool.enqueue(job)
            return time.perf_counter() - t0

        say("  in-process: warm-up (one real job: keyring, login)")
        await timed(Job(PORTAL, ACCOUNT, "dispute_status"))
        for i in range(3):
            await timed(null_job(-1 - i))
        out["null"] = [await timed(null_job(i)) for i in range(n)]
        one = LocalDispatcher(runner, workers=1, reserved=0)
        ends: list[float] = []
        cpu0, t0 = time.process_time(), time.perf_counter()
        futures = [one.enqueue(null_job(n + i)) for i in range(n)]
        for f in futures:
            f.add_done_callback(lambda _f: ends.append(time.perf_counter()))
        await asyncio.gather(*futures)
        out["b2b"], out["b2b_cpu"] = gaps(t0, ends), (time.process_time() - cpu0) / n
        say(f"  in-process: {n_real} real jobs")
        out["real"] = [await timed(Job(PORTAL, ACCOUNT, "dispute_status")) for _ in range(n_real)]
        closer = getattr(rt.locks, "aclose", None)
        if closer is not None:
            await closer()
    return out


async def polled(cond: Callable[[], bool], interval: float) -> None:
    """Until ``cond()``: the worker's log is written by another process, nothing to await."""
    while not cond():  # noqa: ASYNC110
        await asyncio.sleep(interval)


@contextlib.contextmanager
def publish_times() -> Iterator[list[tuple[float, float]]]:
    """When each ``send_job`` call began and ended (in CeleryDispatcher's thread)."""
    import scheduler.worker

    real_send = scheduler.worker.send_job
    marks: list[tuple[float, float]] = []

    def send_job(app: Any, job: Job, *, on_demand: bool) -> str:
        t = time.time()
        try:
            return real_send(app, job, on_demand=on_demand)
        finally:
            marks.append((t, time.time()))

    scheduler.worker.send_job = send_job  # type: ignore[assignment]
    try:
        yield marks
    finally:
        scheduler.worker.send_job = real_send


async def celery_overhead(fleet: CeleryFleet, n: int, n_real: int) -> dict[str, Any]:
    """The same through CeleryDispatcher to one worker with one thread."""
    with publish_times() as marks:
        return await _celery_overhead(fleet, n, n_real, marks)


async def _celery_overhead(
    fleet: CeleryFleet, n: int, n_real: int, marks: list[tuple[float, float]]
) -> dict[str, Any]:
    from scheduler.dispatch import CeleryDispatcher

    dispatcher = CeleryDispatcher(fleet.app)
    log = fleet.logs["p1"].times
    split: dict[str, list[float]] = {
        "to thread": [],
        "publish": [],
        "broker": [],
        "celery": [],
        "job path": [],
    }

    async def timed(job: Job) -> float:
        k, failed = len(log("done")), len(log("failed"))
        t0 = time.time()
        await dispatcher.submit(job)  # returns once published; the job runs meanwhile
        await polled(lambda: len(log("done")) > k or len(log("failed")) > failed, 0.002)
        if len(log("failed")) > failed:
            raise RuntimeError(f"a job failed in the worker: {fleet.failures()[-1]}")
        sent, published = marks[-1]
        received, start, end = log("received")[k], log("start")[k], log("done")[k]
        steps = (sent - t0, published - sent, received - published, start - received, end - start)
        for key, value in zip(split, steps, strict=True):
            split[key].append(value)
        return end - t0

    out: dict[str, Any] = {}
    say("  celery: warm-up (one real job: the worker's browser, keyring, session)")
    await timed(Job(PORTAL, ACCOUNT, "dispute_status"))
    for i in range(3):
        await timed(null_job(-1 - i))
    for v in split.values():
        v.clear()
    out["null"] = [await timed(null_job(i)) for i in range(n)]
    out["split"] = {k: list(v) for k, v in split.items()}
    kinds = ("received", "start", "done", "succeeded")
    await polled(lambda: len({len(log(kind)) for kind in kinds}) == 1, 0.005)  # worker idle
    k, failed = len(log("done")), len(log("failed"))
    with Meter() as m:
        t0 = time.time()
        for i in range(n):
            await dispatcher.submit(null_job(n + i))
        await polled(lambda: len(log("succeeded")) >= k + n or len(log("failed")) > failed, 0.005)
    if len(log("failed")) > failed:
        raise RuntimeError(f"a job failed in the worker: {fleet.failures()[-1]}")
    rec, start, done, ok = (log(kind)[k : k + n] for kind in kinds)
    out["b2b"], out["b2b_cpu"] = gaps(t0, done), m.cpu / n
    out["b2b_split"] = {
        "job path": [b - a for a, b in zip(start, done, strict=True)],
        "celery after": [b - a for a, b in zip(done, ok, strict=True)],
        "ack+next": [b - a for a, b in zip(ok[:-1], rec[1:], strict=True)],
        "celery before": [b - a for a, b in zip(rec[1:], start[1:], strict=True)],
    }
    say(f"  celery: {n_real} real jobs")
    out["real"] = [await timed(Job(PORTAL, ACCOUNT, "dispute_status")) for _ in range(n_real)]
    return out


def part_overhead(args: argparse.Namespace, world: RunningWorld, keyring: Path, tmp: Path) -> None:
    say(f"part 1: overhead per job, {args.jobs} null jobs one at a time, then back to back")
    with celery_fleet(tmp / "overhead", world, keyring, args, 1) as fleet:
        local = asyncio.run(local_overhead(fleet, args.jobs, args.real_jobs))
        say("  celery: starting one worker process (1 thread)")
        fleet.start_workers(["p1"])
        celery = asyncio.run(celery_overhead(fleet, args.jobs, args.real_jobs))
    ratio = statistics.median(celery["null"]) / statistics.median(local["null"])
    say(f"  null job, in-process      : {ms(local['null'])}")
    say(f"  null job, celery          : {ms(celery['null'])}  ratio {ratio:,.0f}x")
    parts = ", ".join(f"{k} {statistics.median(v) * 1000:.2f}" for k, v in celery["split"].items())
    say(f"    where, median ms        : {parts}")
    b2b = statistics.median(celery["b2b"]) / statistics.median(local["b2b"])
    say(
        f"  back to back, in-process  : {ms(local['b2b'])}  "
        f"cpu {local['b2b_cpu'] * 1000:.2f} ms/job"
    )
    say(
        f"  back to back, celery      : {ms(celery['b2b'])}  "
        f"cpu {celery['b2b_cpu'] * 1000:.2f} ms/job (broker not counted)  ratio {b2b:,.0f}x"
    )
    parts = ", ".join(
        f"{k} {statistics.median(v) * 1000:.2f}" for k, v in celery["b2b_split"].items()
    )
    say(f"    where, median ms        : {parts}")
    extra = statistics.median(celery["real"]) - statistics.median(local["real"])
    say(f"  real dispute_status, in-process: {ms(local['real'])}")
    say(f"  real dispute_status, celery    : {ms(celery['real'])}  {extra * 1000:+.1f} ms")


# --------------------------------------------------------------------------- part 2


def sync_runs(fleet: CeleryFleet) -> tuple[int, float, dict[str, int]]:
    """Documents the sync runs fetched, their mean run time, and runs by status."""
    from sqlalchemy import select

    from store.models import BotRun

    with fleet.db() as s:
        runs = s.execute(
            select(BotRun.status, BotRun.counts, BotRun.started_at, BotRun.finished_at).where(
                BotRun.task == "sync"
            )
        ).all()
    docs = sum(
        (r.counts or {}).get("documents.new", 0) + (r.counts or {}).get("documents.known", 0)
        for r in runs
    )
    seconds = [(r.finished_at - r.started_at).total_seconds() for r in runs if r.finished_at]
    statuses: dict[str, int] = {}
    for r in runs:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    return docs, statistics.mean(seconds) if seconds else 0.0, statuses


SyncHistory = list[tuple[str, datetime, datetime]]
"""(account, started, finished) of each finished sync: the store's BotRun rows."""


def sync_history(fleet: CeleryFleet) -> SyncHistory:
    from sqlalchemy import select

    from store.models import BotRun

    with fleet.db() as s:
        rows = s.execute(
            select(BotRun.account, BotRun.started_at, BotRun.finished_at).where(
                BotRun.task == "sync", BotRun.finished_at.is_not(None)
            )
        ).all()
    return [(r.account, r.started_at, r.finished_at) for r in rows]


def seed_history(fleet: CeleryFleet, history: SyncHistory) -> None:
    """Yesterday's runs in today's fresh store: what ``largest_first`` reads."""
    from datetime import timedelta

    from records.schemas import RunStatus
    from store.db import transaction
    from store.models import BotRun

    with transaction(fleet.db) as s:
        for account, started, finished in history:
            s.add(
                BotRun(
                    run_id=uuid.uuid4().hex, portal=PORTAL, account=account, task="sync",
                    status=RunStatus.succeeded, started_at=started - timedelta(days=1),
                    finished_at=finished - timedelta(days=1),
                )
            )  # fmt: skip


def part_docs(args: argparse.Namespace, world: RunningWorld, keyring: Path, tmp: Path) -> None:
    from scheduler.balance import largest_first
    from scheduler.dispatch import CeleryDispatcher

    jobs = [Job(PORTAL, f"bench-{i}", "sync") for i in range(args.accounts)]
    sizes = ", ".join(
        str(sum(1 for d in world.world.scenario.deductions if d.account == j.account)) for j in jobs
    )
    say(
        f"part 2: {len(jobs)} megamart accounts synced through Celery (deductions: {sizes}), "
        f"{args.concurrency} thread(s) per worker, {args.pages} page(s) per session, "
        f"workers on fleet.{PORTAL} only"
    )
    one_worker: float | None = None  # this round's one-worker rate
    by_label: dict[str, list[float]] = {}
    history: SyncHistory = []
    orders = args.order.split(",")
    runs = [(n, o) for n in (int(x) for x in args.workers.split(",")) for o in orders]
    runs = [(n, o) for n, o in runs if n > 1 or o == orders[0]]  # one worker: order moot
    runs = runs * args.rounds  # rounds alternate: a slow spell of the machine hits both
    for i, (n, order) in enumerate(runs):
        label = f"{n} worker{'s' if n > 1 else ' '} x{args.concurrency}"
        if n > 1 and len(orders) > 1:
            label += f" {order}"
        with celery_fleet(tmp / f"docs-{i}", world, keyring, args, args.concurrency) as fleet:
            say(f"  {label}: starting and warming up (browser open)")
            fleet.start_workers([f"w{i}" for i in range(1, n + 1)], queues=PORTAL)
            fleet.warm_up()
            batch = jobs
            if order == "largest":
                seed_history(fleet, history)
                batch = largest_first(fleet.db, jobs)  # as the scheduler orders a batch
                say(f"    order: {', '.join(j.account for j in batch)}")
            before, failed = len(fleet.ended("sync")), len(fleet.failures())
            per_worker0 = {k: len(t.times("done", "sync")) for k, t in fleet.logs.items()}
            served0 = world.world.record.requests[PORTAL]
            dispatcher = CeleryDispatcher(fleet.app)
            with Meter() as m:
                t0 = time.time()
                for job in batch:
                    asyncio.run(dispatcher.submit(job))
                ends = fleet.wait_done(
                    before + len(jobs),
                    args.timeout,
                    lambda k, t0=t0, before=before: say(
                        f"    {k - before}/{len(jobs)} jobs done, {time.time() - t0:.0f} s"
                    ),
                    task="sync",
                )
            wall = ends[-1] - t0
            split = [len(t.times("done", "sync")) - per_worker0[k] for k, t in fleet.logs.items()]
            docs, job_seconds, statuses = sync_runs(fleet)
            history = history or sync_history(fleet)
            served = world.world.record.requests[PORTAL] - served0
            lost = fleet.failures()[failed:]
        rate = docs / wall * 60
        one_worker = rate if n == 1 else one_worker
        by_label.setdefault(label, []).append(rate)
        ratio = f" ratio to 1 worker {rate / one_worker:4.2f}" if one_worker and n != 1 else ""
        bad: dict[str, Any] = {
            k: v for k, v in statuses.items() if k not in ("succeeded", "partial")
        }
        if lost:
            bad["raised, no run recorded"] = lost
        per_doc, cpu = served / max(docs, 1), m.cpu / max(docs, 1) * 100
        say(
            f"  {label}: {docs:4d} docs {wall:6.1f}s {rate:7.1f} docs/min "
            f"job {job_seconds:4.1f}s mean {per_doc:4.2f} req/doc cpu {cpu:6.1f}s/100docs "
            f"(world {m.world / max(docs, 1) * 100:4.1f}) "
            f"peak RSS {m.peak / 2**20:6.0f} MB stolen {m.stolen:.0%}{ratio}"
            + (f" jobs per worker {'/'.join(map(str, split))}" if n > 1 else "")
            + (f" NOT OK: {bad}" if bad else "")
        )
    if args.rounds > 1:
        ones = [r for label, got in by_label.items() if label.startswith("1 ") for r in got]
        one = statistics.median(ones) if ones else None  # no one-worker run: no ratio
        say(f"  median of {args.rounds} rounds:")
        for label, got in by_label.items():
            mid = statistics.median(got)
            spread = ", ".join(f"{r:.1f}" for r in got)
            say(
                f"    {label}: {mid:7.1f} docs/min ({spread})"
                + (
                    f" ratio to 1 worker {mid / one:4.2f}"
                    if one and not label.startswith("1 ")
                    else ""
                )
            )


# --------------------------------------------------------------------------- main


def _interrupt(*_: object) -> None:
    """SIGTERM stops the bench the way Ctrl-C does (asyncio.run cancels its task)."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        raise KeyboardInterrupt
    signal.raise_signal(signal.SIGINT)


def main() -> None:
    if sys.argv[1:2] == ["_worker"]:
        worker_main(sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--broker", choices=sorted(BROKERS), default="redis")
    ap.add_argument("--broker-url", help="instead of --broker's local default")
    ap.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--pg-url", default=os.environ.get("FLEET_TEST_PG_URL", DEFAULT_PG))
    ap.add_argument("--jobs", type=int, default=200, help="null jobs per measurement")
    ap.add_argument("--real-jobs", type=int, default=8, help="real dispute_status jobs each way")
    ap.add_argument("--accounts", type=int, default=6, help="megamart accounts to sync (max 8)")
    ap.add_argument("--per-account", type=int, default=8, help="deductions per account")
    ap.add_argument(
        "--sizes",
        help="deductions per account, comma-separated (bench-0 first; the rest --per-account): "
        "unequal accounts, e.g. 4,4,4,4,8,24",
    )
    ap.add_argument(
        "--order",
        default="given",
        help="order of part 2's batch with 2+ workers: given (bench-0 first), largest "
        "(scheduler.balance.largest_first on the 1-worker run's times), or both: given,largest",
    )
    ap.add_argument("--latency-ms", type=int, default=150, help="added to every portal request")
    ap.add_argument("--workers", default="1,2", help="worker processes per run")
    ap.add_argument("--concurrency", type=int, default=1, help="jobs at once per worker")
    ap.add_argument(
        "--pages", type=int, default=1, help="pages_per_session in fleet.toml (its default: 1)"
    )
    ap.add_argument("--timeout", type=float, default=300, help="seconds per sync run at most")
    ap.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="part 2 this many times over, alternating; medians printed (the machine's own "
        "speed wanders by 10-20%% from one run to the next)",
    )
    ap.add_argument("--only", choices=("overhead", "docs"))
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (worker logs)")
    args = ap.parse_args()
    args.broker_url = args.broker_url or BROKERS[args.broker]
    if not 1 <= args.accounts <= 8:
        ap.error("--accounts: 1 to 8 (bench_world has 8 megamart accounts)")
    for key in _FLEET_ENV:
        os.environ.pop(key, None)
    signal.signal(signal.SIGTERM, _interrupt)

    from fleet.demo import demo_keyring
    from fleet.logging_setup import configure_logging

    configure_logging(level="WARNING")
    load = os.getloadavg()[0]
    say(
        f"dispatch_bench: broker {args.broker_url}, store {args.store}, "
        f"{args.latency_ms} ms added latency, {os.cpu_count()} cores (the world, broker, "
        f"workers and browsers all share them), load average {load:.1f} at start"
    )
    sizes = [int(x) for x in args.sizes.split(",")] if args.sizes else None
    if sizes and len(sizes) > 8:
        ap.error("--sizes: 8 accounts at most")
    if not set(args.order.split(",")) <= {"given", "largest"}:
        ap.error("--order: given, largest, or given,largest")
    if "largest" in args.order and not args.workers.startswith("1"):
        ap.error("--order largest needs the 1-worker run first (--workers 1,...): its times")
    sc = bench_world(args.per_account, sizes)
    tmp = Path(tempfile.mkdtemp(prefix="dispatch-bench-"))
    try:
        with start_world(sc, f"latency_ms={args.latency_ms}") as world:
            t = time.monotonic()
            used = [a for a in sc.accounts_on(PORTAL) if a.username.startswith("bench-")]
            used = used[: args.accounts]  # part 1 uses bench-0
            demo_keyring(tmp / "keyring", sc.model_copy(update={"accounts": used}))
            say(f"keyring: {len(used)} logins encrypted in {time.monotonic() - t:.1f} s")
            if args.only in (None, "overhead"):
                part_overhead(args, world, tmp / "keyring", tmp)
            if args.only in (None, "docs"):
                part_docs(args, world, tmp / "keyring", tmp)
        say(f"load average {os.getloadavg()[0]:.1f} at end")
    except KeyboardInterrupt:
        say("interrupted: workers stopped, cleaning up")
        raise SystemExit(130) from None
    except Exception:
        args.keep = True  # the worker logs say what went wrong
        raise
    finally:
        if args.keep:
            say(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
