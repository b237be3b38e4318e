"""The scheduler service on a real SQLite fleet database: persistence, misfires,
pauses, on-demand requests and the hot standby. Jobs run through the real job
function (scheduler.dispatch.execute) on a runtime that records instead of
driving a browser; browser jobs are covered in test_celery_workers.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bots.jobs import Job, JobResult
from fleet.settings import get_settings
from scheduler import state
from scheduler.config import FleetConfig, parse_config
from scheduler.dispatch import execute
from scheduler.ondemand import claim_job, submit, submit_task
from scheduler.service import SchedulerService, job_id
from store.db import init_db, session_factory
from store.models import RetrievalRequest
from store.repositories import accounts as accounts_repo
from store.repositories import deductions as deductions_repo
from store.repositories import runs as runs_repo
from tests.integration.store.factories import deduction

CONFIG = """
[portals.megamart]
base_url = "http://127.0.0.1:1"
[portals.haulstar]
base_url = "http://127.0.0.1:2"

[[accounts]]
portal = "megamart"
username = "ar@supplier.example"
schedule.cron = "0 * * * *"
schedule.task = "sync"

[[accounts]]
portal = "haulstar"
username = "SUP01"
schedule.cron = "30 2 * * *"
schedule.task = "pods"

[scheduler]
workers = 2
reserved_for_on_demand = 1
misfire_grace_minutes = 360
jitter_seconds = 0
standby_poll_seconds = 0.2
on_demand_poll_seconds = 0.1
shutdown_grace_seconds = 5
"""


class RecordingRuntime:
    """Stands in for FleetRuntime.run (no browser); the store is real."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self.jobs: list[Job] = []
        self.changed = asyncio.Event()

    async def run(self, job: Job) -> JobResult:
        self.jobs.append(job)
        self.changed.set()
        return JobResult(job=job, run_id=f"run{len(self.jobs)}", status="succeeded")

    async def until(self, cond: Callable[[], bool], timeout: float = 10) -> None:
        async with asyncio.timeout(timeout):
            while not cond():
                self.changed.clear()
                await self.changed.wait()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, Any]:
    settings = get_settings(data_dir=tmp_path, database_url=None)
    config = parse_config(CONFIG, tmp_path / "fleet.toml")
    db = session_factory(init_db(settings.resolved_database_url))
    return {"settings": settings, "config": config, "db": db, "rt": RecordingRuntime(db)}


class Running:
    def __init__(self, service: SchedulerService, task: asyncio.Task[None], stop: asyncio.Event):
        self.service, self.task, self.stop = service, task, stop

    async def close(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, timeout=15)


async def start(env: dict[str, Any], config: FleetConfig | None = None) -> Running:
    rt = env["rt"]
    svc = SchedulerService(
        config or env["config"], env["settings"], runner=lambda job: execute(rt, job)
    )
    stop = asyncio.Event()
    task = asyncio.create_task(svc.run(stop))
    done, _ = await asyncio.wait(
        [
            task,
            asyncio.create_task(svc.is_active.wait()),
            asyncio.create_task(svc.is_standby.wait()),
        ],
        return_when=asyncio.FIRST_COMPLETED,
        timeout=15,
    )
    if task in done:
        task.result()
    return Running(svc, task, stop)


@pytest.fixture
async def running(env: dict[str, Any]) -> AsyncIterator[Callable[..., Any]]:
    started: list[Running] = []

    async def make(config: FleetConfig | None = None) -> Running:
        r = await start(env, config)
        started.append(r)
        return r

    yield make
    for r in started:
        if not r.task.done():
            await r.close()


MEGA = job_id("megamart", "ar@supplier.example")


async def test_schedules_persist_across_a_restart(env, running) -> None:
    first = await running()
    assert first.service.is_active.is_set()
    stored = first.service.scheduler.get_job(MEGA).next_run_time
    assert stored > datetime.now(UTC)
    await first.close()

    second = await running()
    job = second.service.scheduler.get_job(MEGA)
    assert job.next_run_time == stored  # kept from the store, not recomputed
    assert {j.id for j in second.service.scheduler.get_jobs()} == {
        MEGA,
        job_id("haulstar", "SUP01"),
    }


async def test_a_changed_schedule_replaces_and_a_removed_one_goes(env, running) -> None:
    first = await running()
    await first.close()
    text = CONFIG.replace('"0 * * * *"', '"15 * * * *"').replace('"30 2 * * *"', '"30 2 1 1 *"')
    text = text.replace(
        'username = "SUP01"\nschedule.cron = "30 2 1 1 *"\nschedule.task = "pods"',
        'username = "SUP01"',
    )
    second = await running(parse_config(text, Path("fleet.toml")))
    assert second.service.scheduler.get_job(MEGA).next_run_time.minute == 15
    assert second.service.scheduler.get_job(job_id("haulstar", "SUP01")) is None


async def _simulate_downtime(env: dict[str, Any], missed_since: timedelta) -> None:
    """Move the stored next run into the past, as if the service had been down."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    sched = AsyncIOScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=env["settings"].resolved_database_url)}
    )
    sched.start(paused=True)
    sched.modify_job(MEGA, next_run_time=datetime.now(UTC) - missed_since)
    sched.shutdown(wait=False)


async def test_a_misfire_after_downtime_runs_once(env, running) -> None:
    first = await running()
    await first.close()
    await _simulate_downtime(env, timedelta(hours=3, minutes=5))  # 3 hourly runs missed

    rt = env["rt"]
    second = await running()
    await rt.until(lambda: len(rt.jobs) >= 1)
    nxt = second.service.scheduler.get_job(MEGA).next_run_time
    assert nxt > datetime.now(UTC)  # no further catch-up run is due
    assert rt.jobs == [Job("megamart", "ar@supplier.example", "sync")]
    assert second.service.fired == rt.jobs


async def test_a_run_missed_beyond_the_grace_time_is_skipped(env, running) -> None:
    first = await running()
    await first.close()
    await _simulate_downtime(env, timedelta(hours=7))  # grace is 6 hours
    second = await running()
    nxt = second.service.scheduler.get_job(MEGA).next_run_time
    assert nxt > datetime.now(UTC)
    assert env["rt"].jobs == []


async def test_pause_and_resume_take_effect_without_a_restart(env, running) -> None:
    r = await running()
    svc, rt = r.service, env["rt"]
    state.pause(svc.engine, "megamart", "ar@supplier.example", by="test")
    svc.scheduler.modify_job(MEGA, next_run_time=datetime.now(UTC))
    async with asyncio.timeout(10):
        while not svc.skipped_paused:  # noqa: ASYNC110  (a condition polled, not a delay)
            await asyncio.sleep(0.05)
    assert rt.jobs == []
    state.resume(svc.engine, "megamart", "ar@supplier.example")
    svc.scheduler.modify_job(MEGA, next_run_time=datetime.now(UTC))
    await rt.until(lambda: len(rt.jobs) == 1)
    assert rt.jobs[0].account == "ar@supplier.example"


async def test_on_demand_request_runs_and_identical_requests_merge(env, running) -> None:
    db = env["db"]
    with db() as s, s.begin():
        accounts_repo.upsert_account(s, "megamart", "ap@supplier.example")
        deductions_repo.upsert(s, deduction("CB-7"))
    first = submit(db, "CB-7", requester="analyst1")
    again = submit(db, " CB-7 ", requester="analyst2")
    assert first[0].request_id == again[0].request_id
    assert again[0].merged
    by_invoice = submit(db, "INV-5001", requester="analyst3")
    assert by_invoice[0].request_id == first[0].request_id

    rt = env["rt"]
    await running()
    await rt.until(lambda: len(rt.jobs) == 1)
    assert rt.jobs == [Job("megamart", "ap@supplier.example", "retrieve", "CB-7")]
    async with asyncio.timeout(10):
        while True:
            with db() as s:
                row = s.get(RetrievalRequest, first[0].request_id)
                if row.status == "done":
                    break
            await asyncio.sleep(0.05)
    assert row.run_id == "run1"
    assert row.attempts == 1


async def test_a_second_scheduler_waits_and_takes_over(env, running) -> None:
    active = await running()
    standby = await running()
    assert active.service.is_active.is_set()
    assert standby.service.is_standby.is_set()
    assert not standby.service.is_active.is_set()
    await active.close()
    await asyncio.wait_for(standby.service.is_active.wait(), timeout=10)
    assert standby.service.scheduler.get_job(MEGA) is not None


async def test_the_active_scheduler_reaps_runs_whose_process_died(env, running) -> None:
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    with env["db"]() as s, s.begin():
        runs_repo.start(s, "dead-worker-run", "megamart", "sync", account="a", started_at=long_ago)
        runs_repo.start(s, "live-run", "megamart", "sync", account="b")
    r = await running()
    async with asyncio.timeout(10):
        while not r.service.reaped:  # noqa: ASYNC110  (a condition polled, not a delay)
            await asyncio.sleep(0.05)
    assert r.service.reaped == ["dead-worker-run"]
    with env["db"]() as s:
        dead, live = runs_repo.get(s, "dead-worker-run"), runs_repo.get(s, "live-run")
        assert dead is not None
        assert live is not None
        assert (dead.status.value, dead.error_class) == ("failed", "WorkerLost")
        assert live.status.value == "running"


def test_a_claim_whose_publish_fails_leaves_the_request_queued(env) -> None:
    """Celery dispatch publishes inside the claim: a broker that refuses (or a
    scheduler killed before the job is out) leaves the request queued for the
    next claim, not running with nothing running it."""
    db = env["db"]
    with db() as s, s.begin():
        accounts_repo.upsert_account(s, "megamart", "ap@supplier.example")
    asked = submit_task(db, "megamart", "ap@supplier.example", "sync", requester="ops1")

    def refuse(job: Job) -> None:
        raise ConnectionError("broker down")

    with pytest.raises(ConnectionError):
        claim_job(db, publish=refuse)
    with db() as s:
        row = s.get(RetrievalRequest, asked.request_id)
        assert row is not None
        assert row.status == "queued"

    published: list[Job] = []
    claimed = claim_job(db, publish=published.append)
    assert claimed is not None
    assert claimed[0] == asked.request_id
    assert published == [Job("megamart", "ap@supplier.example", "sync")]
    with db() as s:
        row = s.get(RetrievalRequest, asked.request_id)
        assert row is not None
        assert row.status == "running"
