"""Chaos at scale-out: the scheduler service and two Celery worker processes
on PostgreSQL and Redis, with faults on every portal, each process killed with
SIGKILL at seeded random moments and started again, end where a clean fleet
ends (tests/hostile/chaos_support.py: the same clean run the SQLite chaos test
compares with).

The work arrives as it does in production: ops' "run now" (the web app's
button, ``scheduler.ondemand.submit_task``) queues a sync of every retailer
account; the scheduler's feeder publishes it to the portals' Celery queues;
the workers run it and publish the pipeline's next jobs (documents, PODs,
matching, hand-over); the scheduler's housekeeping hands approved disputes to
filing. Killed workers' jobs come back after the broker's visibility timeout;
a killed scheduler's requests are picked up by the next one. After the kills
the faults stop and the fleet runs a sync again, as its schedule would, until
it settles. At the end:

* the same deductions, documents by hash, verdicts and disputes as the clean
  run, and exactly one dispute per claim on the portal side;
* no vault file without its row, no temp file left in the vault;
* no running run but the killed processes' ones, no killed process alive,
  no request left waiting;
* no secret in the temp dir or the data dir.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from subprocess import Popen
from typing import Any

import pytest
import redis
from sqlalchemy import select

from fixtures.scenario import RETAILER_PORTALS, Scenario
from records.schemas import ACTIVE_RETRIEVAL_STATUSES
from scheduler.housekeeping import reap_stale_runs
from scheduler.ondemand import submit_task
from store.models import BotRun, RetrievalRequest
from tests.hostile.chaos_support import (
    FAULTS,
    STATE_KEYS,
    CleanRun,
    differences,
    fleet_env,
    fleet_state,
    group_alive,
    kill_group,
    people_decide,
    start_fleet,
    vault_orphans,
    world_secrets,
)
from tests.hostile.test_killed_login_leaves_no_secret import _leaks
from tests.integration.store.conftest import empty_url, pg_admin  # noqa: F401  (fixtures)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.timeout(1500),
]

SEED = 20261204
REDIS = "redis://127.0.0.1:6379"
BROKER_DBS = range(1, 11)
"""Redis databases the broker may use (the other tests hold 11-15 by number)."""
SETTLE_SECONDS = 420.0


def _scale_out(config: Path) -> None:
    """fleet.toml for scale-out: Celery dispatch, a short visibility timeout (a
    dead worker's job back in under a minute; longer than a sync takes here, as
    it must be: Redis hands a job still running past it to a second worker),
    housekeeping every two seconds."""
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text
        + "\n[scheduler]\n"
        + 'dispatch = "celery"\n'
        + "celery_visibility_timeout_seconds = 45\n"
        + "account_lock_ttl_seconds = 10\n"
        + "housekeeping_seconds = 2\n"
        + "on_demand_poll_seconds = 0.2\n"
        + "standby_poll_seconds = 0.5\n",
        encoding="utf-8",
    )


class Processes:
    """The scheduler and two workers, each its own process group, started again after a kill."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.procs: dict[str, Popen[bytes]] = {}
        self.killed: list[int] = []

    def start(self, name: str) -> None:
        args = ["scheduler"] if name == "scheduler" else ["worker", "--name", f"{name}@chaos"]
        if name != "scheduler":
            args += ["--concurrency", "2"]
        self.procs[name] = start_fleet(self.env, *args, log=self.logs / f"{name}.log")

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        if proc.poll() is not None:
            raise AssertionError(f"{name} died on its own: {proc.returncode}; see {self.logs}")
        kill_group(proc)
        self.killed.append(proc.pid)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=60)
            except Exception:  # a stuck process is killed: nothing may outlive the test
                kill_group(proc)


def _queued_in_broker(r: redis.Redis) -> int:
    """Messages waiting in the portals' queues or delivered and not acknowledged."""
    waiting = sum(int(r.llen(k)) for k in r.scan_iter(match="fleet.*", count=500))
    return waiting + int(r.hlen("unacked"))


def _active_requests(db: Any) -> int:
    with db() as s:
        return len(
            s.scalars(
                select(RetrievalRequest.id).where(
                    RetrievalRequest.status.in_(ACTIVE_RETRIEVAL_STATUSES)
                )
            ).all()
        )


def _runs_seen(db: Any, since: datetime) -> tuple[int, int]:
    """(runs started since ``since``, of them alive: running, with a heartbeat
    in the last 45 s; a job beats every 30 s, a killed process's runs stop)."""
    alive_after = datetime.now(UTC) - timedelta(seconds=45)
    with db() as s:
        rows = s.execute(
            select(BotRun.status, BotRun.started_at, BotRun.heartbeat_at).where(
                BotRun.started_at >= since
            )
        ).all()
    alive = sum(1 for st, at, beat in rows if st == "running" and (beat or at) >= alive_after)
    return len(rows), alive


def _settle(db: Any, r: redis.Redis, since: datetime, what: str) -> None:
    """Wait until the fleet is idle: nothing in the broker, no request waiting,
    no run started since ``since`` still running, and nothing new for five seconds."""
    deadline = time.monotonic() + SETTLE_SECONDS
    quiet_since: float | None = None
    last: tuple[int, int] | None = None
    while time.monotonic() < deadline:
        seen = _runs_seen(db, since)
        idle = _queued_in_broker(r) == 0 and _active_requests(db) == 0 and seen[1] == 0
        if idle and seen == last:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= 5:
                return
        else:
            quiet_since = None
        last = seen
        time.sleep(0.5)
    raise AssertionError(f"the fleet did not settle ({what}) in {SETTLE_SECONDS} s")


def _run_now(db: Any, scenario: Scenario, task: str = "sync") -> None:
    """Ops' "run now" of ``task`` on every retailer account (a sync carries the
    pipeline after it)."""
    for a in scenario.accounts:
        if a.portal in RETAILER_PORTALS:
            submit_task(db, a.portal, a.username, task, requester="ops:chaos")


def _kills(
    procs: Processes, rng: random.Random, kills: int, within: float, then: Callable[[], None]
) -> None:
    """``kills`` SIGKILLs, each at a moment drawn from ``rng`` in ``(2, within)``
    seconds after the last, on the scheduler or a worker drawn from ``rng``;
    the killed process is started again at once (``then`` runs after each)."""
    for _ in range(kills):
        time.sleep(rng.uniform(2.0, within))
        victim = rng.choice(["scheduler", "w1", "w2"])
        procs.kill(victim)
        procs.start(victim)
        then()


def _claim_idle_db() -> redis.Redis:
    """A client on a Redis database that no other client is connected to and
    that holds no key: a fleet left running by another run (workers outlive a
    pytest killed mid-test) must not take this test's jobs off its queues."""
    for n in BROKER_DBS:
        r = redis.Redis.from_url(f"{REDIS}/{n}")
        r.ping()  # this client is now connected to db n: CLIENT LIST shows it
        clients = [c for c in r.client_list() if int(c.get("db", -1)) == n]
        if len(clients) == 1 and r.dbsize() == 0:
            return r
        r.close()
    raise AssertionError(f"every Redis database in {BROKER_DBS} is in use")


@pytest.fixture
def broker() -> Iterator[redis.Redis]:
    try:
        r = _claim_idle_db()
    except redis.ConnectionError:
        pytest.fail("Redis is not reachable on 127.0.0.1:6379 (make services starts it)")
    yield r
    r.flushdb()
    r.close()


async def test_celery_fleet_on_postgres_killed_ends_where_a_clean_one_does(
    make_demo,
    tiny_world: Scenario,
    clean_chaos_run: Callable[[], CleanRun],
    empty_url: Callable[[str], str],  # noqa: F811
    broker: redis.Redis,
    tmp_path: Path,
    short_tmp: Path,
) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(SEED)
    data_dir = tmp_path / "chaos"
    async with make_demo(
        data_dir=data_dir,
        faults=FAULTS,
        scenario=tiny_world,
        with_key_file=True,
        database_url=empty_url("postgresql"),
    ) as demo:
        db, running = demo.runtime.db, demo.world
        _scale_out(data_dir / "fleet.toml")
        env = fleet_env(data_dir, short_tmp, demo.today().isoformat())
        env["FLEET_BROKER_URL"] = f"{REDIS}/{broker.connection_pool.connection_kwargs['db']}"
        procs = Processes(env, tmp_path)
        try:
            for name in ("scheduler", "w1", "w2"):
                procs.start(name)
            started = datetime.now(UTC)

            # --- under faults: the syncs, three kills at random moments
            await asyncio.to_thread(_run_now, db, demo.scenario)
            await asyncio.to_thread(_kills, procs, rng, 3, 25.0, lambda: None)
            running.set_faults(None)  # the portals recover; the schedule runs on
            await asyncio.to_thread(_settle, db, broker, started, "after the sync's kills")
            await asyncio.to_thread(_run_now, db, demo.scenario)
            await asyncio.to_thread(_settle, db, broker, started, "a sync without faults")

            # --- the people decide; filing under faults, killed twice more
            await people_decide(demo)
            running.set_faults(FAULTS)
            await asyncio.to_thread(_kills, procs, rng, 2, 12.0, lambda: None)
            last_kill = datetime.now(UTC)
            running.set_faults(None)
            await asyncio.to_thread(_settle, db, broker, started, "after the filing's kills")
            # the schedule's status read (a sync now would read the portals'
            # "Disputed", which the clean run, ending at filing, never saw)
            await asyncio.to_thread(_run_now, db, demo.scenario, "dispute_status")
            await asyncio.to_thread(_settle, db, broker, started, "the status read")
        finally:
            procs.stop()

        # the clean run, computed meanwhile if another process took it on
        expected = (await asyncio.to_thread(clean_chaos_run)).state
        got = fleet_state(db, running.world)
        for key in STATE_KEYS:
            assert differences(got[key], expected[key]) == {}, key
        assert set(got["on_portals"].values()) == {1}, "exactly one dispute per claim"
        orphans, temps = vault_orphans(data_dir, db)
        assert orphans == [], "vault files without a document row"
        assert temps == [], "temp files of dead writers swept"
        assert _active_requests(db) == 0
        reaped = reap_stale_runs(db, timedelta(0))
        with db() as s:
            assert s.scalars(select(BotRun).where(BotRun.status == "running")).all() == []
            if reaped:
                when = s.scalars(select(BotRun.started_at).where(BotRun.run_id.in_(reaped))).all()
                assert max(when) <= last_kill, "only runs of killed processes were reaped"
        assert len(procs.killed) == 5
        assert [pid for pid in procs.killed if group_alive(pid)] == [], "a killed group lives on"
        assert _leaks([short_tmp, data_dir], world_secrets(tiny_world)) == []
        struck = {kind for _, kind in running.world.record.faults}
        assert struck >= {"5xx", "429", "session_expired"}, struck
