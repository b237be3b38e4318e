"""``fleet scheduler``: the long-lived service that runs bots on their schedules.

What it promises:

- Schedules live in the fleet database (APScheduler's SQLAlchemy job store),
  so they survive restarts. At start the store is reconciled with fleet.toml:
  a schedule that did not change is left alone (its stored next run time is
  kept, so a run missed while the service was down still happens), a changed
  one is replaced, a removed one is deleted.
- Missed runs: ``misfire_grace_time`` is minutes (fleet.toml), never
  APScheduler's one-second default; ``coalesce=True`` turns six missed runs
  into one catch-up run; ``max_instances=1``; each run is jittered.
- One active scheduler per database: others wait as hot standbys on a
  database lock (scheduler/leader.py) and take over when it dies.
- On-demand requests (retrieval_requests rows) are claimed and dispatched
  ahead of scheduled work, within ``on_demand_poll_seconds``.
- SIGTERM/SIGINT: stop firing schedules and claiming requests, let running
  jobs finish within ``shutdown_grace_seconds`` (then cancel them: jobs are
  idempotent and resume), release the lock, exit 0.
- A paused account (scheduler/state.py) is skipped when its run fires.
- Housekeeping (scheduler/housekeeping.py): runs whose process died are
  reaped, approval reminders sent, work people left (approved decisions,
  released disputes) dispatched, and new health events people must see sent
  by webhook and e-mail (the ``notifier`` given, scheduler/notify.py), every
  ``housekeeping_seconds``.
- The pipeline (scheduler/pipeline.py): each finished job's follow-ups are
  dispatched like any scheduled job, so a sync carries an account's work
  through documents, PODs, matching and filing.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from datetime import UTC, timedelta
from typing import Any

import structlog

from bots.jobs import CORE, Job, task_named
from scheduler import state
from scheduler.config import FleetConfig, trigger_for
from scheduler.dispatch import (
    CeleryDispatcher,
    Dispatcher,
    DispatcherClosed,
    JobRunner,
    LocalDispatcher,
    RuntimeFactory,
    execute,
)
from scheduler.leader import LeaderLock, leader_lock_for, wait_for_leadership
from scheduler.notify import Notifier

log = structlog.get_logger(__name__)

JOB_ID_PREFIX = "account:"
JOBSTORE_TABLE = "apscheduler_jobs"

_active: SchedulerService | None = None


async def scheduled_job(portal: str, account: str, task: str) -> None:
    """What the job store calls when a schedule fires (a stable, importable name)."""
    service = _active
    if service is None:
        log.warning("scheduler.fired_without_service", portal=portal, task=task)
        return
    await service.fire(Job(portal, account, task_named(task)))


def job_id(portal: str, account: str) -> str:
    return f"{JOB_ID_PREFIX}{portal}:{account}"


def default_task(portal: str) -> str:
    """``sync`` for a retailer, ``pods`` for a carrier (from the adapter's kind)."""
    try:
        from portal_adapters.registry import adapter_class

        return "pods" if adapter_class(portal).kind == "carrier" else "sync"
    except Exception:
        return "sync"


class SchedulerService:
    """One scheduler process (active or standby). ``run(stop)`` returns when stopped."""

    def __init__(
        self,
        config: FleetConfig,
        settings: Any,
        *,
        runtime_factory: RuntimeFactory | None = None,
        runner: JobRunner | None = None,
        dispatcher: Dispatcher | None = None,
        leader: LeaderLock | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        self.config = config
        self.settings = settings
        self.db_url: str = settings.resolved_database_url
        self._runner = runner
        self._runtime_factory = runtime_factory
        self.dispatcher = dispatcher
        self.leader = leader or leader_lock_for(self.db_url)
        self.notifier = notifier
        self.engine: Any = None
        self.db: Any = None
        self.scheduler: Any = None
        self.is_active = asyncio.Event()
        self.is_standby = asyncio.Event()
        self.fired: list[Job] = []  # what schedules fired (bounded; for status and tests)
        self.skipped_paused: list[Job] = []
        self.reaped: list[str] = []  # run ids housekeeping closed (bounded)

    # ------------------------------------------------------------------ lifecycle
    async def run(self, stop: asyncio.Event) -> None:
        global _active
        cfg = self.config.scheduler
        became_leader = await wait_for_leadership(
            self.leader,
            stop,
            cfg.standby_poll_seconds,
            on_standby=self._on_standby,
        )
        if not became_leader:
            await self.leader.release()
            return
        log.info("scheduler.active")
        try:
            async with contextlib.AsyncExitStack() as stack:
                await self._open(stack)
                _active = self
                self.scheduler = self._start_scheduler()
                self.is_active.set()
                tasks = [
                    asyncio.create_task(self._feed_on_demand(stop), name="on-demand feeder"),
                    asyncio.create_task(self._watch_leader(stop), name="leader watchdog"),
                    asyncio.create_task(self._housekeeping(stop), name="housekeeping"),
                ]
                await stop.wait()
                log.info("scheduler.stopping", grace_seconds=cfg.shutdown_grace_seconds)
                self.scheduler.shutdown(wait=False)
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                assert self.dispatcher is not None
                await self.dispatcher.drain(cfg.shutdown_grace_seconds)
        finally:
            if _active is self:
                _active = None
            self.is_active.clear()
            await self.leader.release()
            if self.engine is not None:
                self.engine.dispose()
            log.info("scheduler.stopped")

    def _on_standby(self) -> None:
        self.is_standby.set()
        log.info("scheduler.standby", poll_seconds=self.config.scheduler.standby_poll_seconds)

    async def _open(self, stack: contextlib.AsyncExitStack) -> None:
        from store.db import init_db, session_factory

        self.engine = init_db(self.db_url)
        self.db = session_factory(self.engine)
        if self.dispatcher is not None:
            return
        cfg = self.config.scheduler
        if cfg.dispatch == "celery":
            from scheduler.worker import celery_for

            self.dispatcher = CeleryDispatcher(celery_for(self.config, self.settings))
            return
        runner = self._runner
        if runner is None:
            if self._runtime_factory is None:
                raise ValueError("local dispatch needs a runtime factory (or a runner)")
            rt = await stack.enter_async_context(self._runtime_factory())

            async def runner(job: Job) -> Any:
                return await execute(rt, job, then=self.follow)

        from scheduler.ondemand import requeue_orphans

        orphans = await asyncio.to_thread(requeue_orphans, self.db)
        if orphans:
            log.info("scheduler.requeued_orphans", requests=orphans)
        self.dispatcher = LocalDispatcher(
            runner,
            workers=cfg.workers,
            reserved=cfg.reserved_for_on_demand,
            portal_limits={p: c.max_sessions for p, c in self.config.portals.items()},
        )

    def _start_scheduler(self) -> Any:
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        cfg = self.config.scheduler
        scheduler = AsyncIOScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=self.engine, tablename=JOBSTORE_TABLE)},
            job_defaults={
                "misfire_grace_time": cfg.misfire_grace_minutes * 60,
                "coalesce": True,
                "max_instances": 1,
            },
            timezone=UTC,
        )
        scheduler.start(paused=True)  # reconcile before anything fires
        self.reconcile(scheduler)
        scheduler.resume()
        return scheduler

    def reconcile(self, scheduler: Any) -> dict[str, str]:
        """Make the job store match fleet.toml; unchanged schedules keep their next run."""
        cfg = self.config.scheduler
        existing = {j.id: j for j in scheduler.get_jobs() if j.id.startswith(JOB_ID_PREFIX)}
        outcome: dict[str, str] = {}
        for acct in self.config.scheduled_accounts():
            sched = acct.schedule
            assert sched is not None
            task = sched.task or default_task(acct.portal)
            jitter = (
                sched.jitter_seconds if sched.jitter_seconds is not None else cfg.jitter_seconds
            )
            signature = f"{sched.cron} {sched.timezone} jitter={jitter} task={task}"
            jid = job_id(acct.portal, acct.username)
            current = existing.pop(jid, None)
            if current is not None and current.name == signature:
                outcome[jid] = "kept"
                continue
            scheduler.add_job(
                scheduled_job,
                trigger=trigger_for(sched, jitter=jitter or None),
                args=(acct.portal, acct.username, task),
                id=jid,
                name=signature,
                replace_existing=True,
            )
            outcome[jid] = "replaced" if current is not None else "added"
        for jid in existing:
            scheduler.remove_job(jid)
            outcome[jid] = "removed"
        log.info(
            "scheduler.reconciled",
            **{
                k: sum(v == k for v in outcome.values())
                for k in ("kept", "added", "replaced", "removed")
            },
        )
        return outcome

    # ------------------------------------------------------------------ work
    async def follow(self, jobs: list[Job]) -> None:
        """Dispatch the pipeline's next jobs (scheduler/pipeline.py); a paused
        account's are skipped like its scheduled runs."""
        for job in jobs:
            if job.portal != CORE and await asyncio.to_thread(
                state.is_paused, self.engine, job.portal, job.account
            ):
                self.skipped_paused.append(job)
                continue
            assert self.dispatcher is not None
            try:
                await self.dispatcher.submit(job, on_demand=False)
            except DispatcherClosed:
                return

    async def fire(self, job: Job) -> None:
        paused = await asyncio.to_thread(state.is_paused, self.engine, job.portal, job.account)
        if paused:
            self.skipped_paused.append(job)
            del self.skipped_paused[:-1000]
            log.info("scheduler.skipped_paused", portal=job.portal, task=job.task)
            return
        self.fired.append(job)
        del self.fired[:-1000]
        assert self.dispatcher is not None
        try:
            await self.dispatcher.submit(job, on_demand=False)
        except Exception:
            log.exception("scheduler.dispatch_failed", portal=job.portal, task=job.task)

    async def _feed_on_demand(self, stop: asyncio.Event) -> None:
        from scheduler.ondemand import claim_job

        assert self.dispatcher is not None
        poll = self.config.scheduler.on_demand_poll_seconds
        portals = {p for p, c in self.config.portals.items() if c.enabled} or None
        while not stop.is_set():
            try:
                while self.dispatcher.has_room(on_demand=True):
                    # Celery: published inside the claim, so a kill cannot strand it
                    publish = (
                        self.dispatcher.publish_on_demand
                        if isinstance(self.dispatcher, CeleryDispatcher)
                        else None
                    )
                    claimed = await asyncio.to_thread(
                        claim_job, self.db, portals=portals, publish=publish
                    )
                    if claimed is None:
                        break
                    request_id, job = claimed
                    log.info("scheduler.on_demand", request_id=request_id, portal=job.portal)
                    if publish is None:
                        await self.dispatcher.submit(job, on_demand=True)
            except Exception:
                log.exception("scheduler.on_demand_feed_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=poll)

    async def _housekeeping(self, stop: asyncio.Event) -> None:
        from scheduler.housekeeping import tidy

        cfg = self.config.scheduler
        stale_after = timedelta(minutes=cfg.run_stale_minutes)
        while not stop.is_set():
            done = await asyncio.to_thread(tidy, self.db, stale_after, None, self.notifier)
            self.reaped.extend(done.reaped)
            del self.reaped[:-1000]
            if done.work:
                await self.follow(done.work)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=cfg.housekeeping_seconds)

    async def _watch_leader(self, stop: asyncio.Event) -> None:
        poll = self.config.scheduler.standby_poll_seconds
        while not stop.is_set():
            await asyncio.sleep(poll)
            if not await self.leader.alive():
                log.error("scheduler.lost_leadership")
                stop.set()
                return


def install_signal_handlers(stop: asyncio.Event) -> Callable[[], None]:
    """SIGTERM and SIGINT set ``stop`` (graceful); returns a function that removes them."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def remove() -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)

    return remove


async def serve(
    config: FleetConfig,
    settings: Any,
    runtime_factory: RuntimeFactory | None = None,
    notifier: Notifier | None = None,
) -> None:
    """Run the service until SIGTERM/SIGINT."""
    stop = asyncio.Event()
    remove = install_signal_handlers(stop)
    try:
        service = SchedulerService(
            config, settings, runtime_factory=runtime_factory, notifier=notifier
        )
        await service.run(stop)
    finally:
        remove()


__all__ = [
    "SchedulerService",
    "default_task",
    "install_signal_handlers",
    "job_id",
    "scheduled_job",
    "serve",
]
