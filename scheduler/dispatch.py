"""One job function, two dispatchers.

:func:`execute` is *the* job function: it runs one :class:`bots.jobs.Job` on
a :class:`bots.runtime.FleetRuntime` and closes the on-demand request it
served. Both dispatchers end in it:

``LocalDispatcher`` (embedded default)
    An asyncio pool inside the scheduler process. ``workers`` jobs run at
    once; ``reserved`` of those slots only on-demand jobs may take, so an
    analyst's request starts within seconds even while every scheduled
    account is syncing. Waiting on-demand jobs always start before waiting
    scheduled ones; a portal at its ``max_sessions`` does not block jobs for
    other portals. An identical job already waiting is merged, not queued twice.

``CeleryDispatcher`` (scale-out)
    Publishes ``fleet.run_job(portal, account, task, target)`` to the
    portal's queue (``fleet.<portal>``) with a priority: on-demand above
    scheduled. Only those four strings travel: the worker reads the keyring
    itself (see scheduler/worker.py).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from bots.jobs import Job, JobResult
from scheduler.ondemand import finish_for_result
from scheduler.pipeline import follow_ups

log = structlog.get_logger(__name__)

JobRunner = Callable[[Job], Awaitable[JobResult]]
RuntimeFactory = Callable[[], AbstractAsyncContextManager[Any]]
"""Opens a started ``bots.runtime.FleetRuntime`` (browser pool, store, vaults).

The composition root (fleet/) builds it from the settings and injects it, so
the scheduler never imports the layer above it."""


FollowUp = Callable[[list[Job]], Awaitable[None]]
"""Where the jobs that follow a finished one go (the dispatcher's own submit)."""


async def execute(runtime: Any, job: Job, then: FollowUp | None = None) -> JobResult:
    """Run one job, record what it did, and hand on the jobs that follow it
    (scheduler/pipeline.py) to ``then`` (the one job function of both dispatchers).

    Idempotent like the job itself: run twice (a redelivered Celery message),
    it leaves the same store; the on-demand request is closed by whichever
    run finishes. Without ``then`` the job runs alone.
    """
    result: JobResult = await runtime.run(job)
    await asyncio.to_thread(finish_for_result, runtime.db, result)  # an on-demand row, if any
    if then is not None:
        jobs = await asyncio.to_thread(follow_ups, runtime.db, result, runtime.services.today())
        if jobs:
            log.info("pipeline.next", after=str(job), jobs=[str(j) for j in jobs])
            await then(jobs)
    return result


TASK_NAME = "fleet.run_job"


def is_redis(url: str) -> bool:
    return url.split("://", 1)[0].lower() in ("redis", "rediss")


def priority_for(broker_url: str, *, on_demand: bool) -> int:
    """RabbitMQ serves high numbers first; kombu's Redis transport serves 0 first."""
    if is_redis(broker_url):
        return 0 if on_demand else 9
    return 9 if on_demand else 0


def send_job(app: Any, job: Job, *, on_demand: bool) -> str:
    """Publish one job; returns the Celery task id. Four plain strings, nothing else."""
    result = app.send_task(
        TASK_NAME,
        args=(job.portal, job.account, job.task, job.target),
        queue=queue_name(job.portal),
        routing_key=queue_name(job.portal),
        priority=priority_for(app.conf.broker_url, on_demand=on_demand),
    )
    return str(result.id)


def queue_name(portal: str) -> str:
    """One Celery queue per portal, so a slow portal never starves the others."""
    return f"fleet.{portal}"


class Dispatcher(Protocol):
    def has_room(self, *, on_demand: bool) -> bool:
        """Whether a job of this kind would start now (the feeder claims only then)."""
        ...

    async def submit(self, job: Job, *, on_demand: bool = False) -> None:
        """Hand a job over; returns once accepted (not when it ends)."""
        ...

    async def drain(self, grace_seconds: float) -> None:
        """Take no new jobs; let running ones finish within the grace period."""
        ...


class DispatcherClosed(RuntimeError):
    """The dispatcher is draining for shutdown and takes no new jobs."""


@dataclass(eq=False)
class _Entry:
    job: Job
    on_demand: bool
    seq: int
    future: asyncio.Future[JobResult]
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class LocalDispatcher:
    """The in-process pool (see the module doc for its promises)."""

    def __init__(
        self,
        run: JobRunner,
        *,
        workers: int = 4,
        reserved: int = 1,
        portal_limits: dict[str, int] | None = None,
    ) -> None:
        if not 0 <= reserved < workers:
            raise ValueError("need 0 <= reserved < workers")
        self._run = run
        self.workers = workers
        self.reserved = reserved
        self.portal_limits = dict(portal_limits or {})
        self._pending: list[_Entry] = []
        self._running: set[_Entry] = set()
        self._seq = itertools.count()
        self._closed = False
        self._idle = asyncio.Event()
        self._idle.set()
        self.started: list[Job] = []  # start order, for operators and tests (bounded)

    # --------------------------------------------------------------- state
    @property
    def running(self) -> int:
        return len(self._running)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def _scheduled_running(self) -> int:
        return sum(1 for e in self._running if not e.on_demand)

    def _portal_running(self, portal: str) -> int:
        return sum(1 for e in self._running if e.job.portal == portal)

    def has_room(self, *, on_demand: bool) -> bool:
        if self._closed:
            return False
        if on_demand:
            waiting = sum(1 for e in self._pending if e.on_demand)
            return self.running + waiting < self.workers
        return self._scheduled_running() < self.workers - self.reserved

    # --------------------------------------------------------------- submit
    async def submit(self, job: Job, *, on_demand: bool = False) -> None:
        self.enqueue(job, on_demand=on_demand)

    def enqueue(self, job: Job, *, on_demand: bool = False) -> asyncio.Future[JobResult]:
        """Queue a job; the future resolves with its result. Identical waiting jobs merge."""
        if self._closed:
            raise DispatcherClosed("the scheduler is shutting down")
        for e in self._pending:
            if e.job == job:
                if on_demand and not e.on_demand:
                    e.on_demand = True  # an analyst asked: it jumps the queue
                    self._pending.sort(key=_order)
                    self._pump()
                return e.future
        entry = _Entry(job, on_demand, next(self._seq), asyncio.get_running_loop().create_future())
        self._idle.clear()
        self._pending.append(entry)
        self._pending.sort(key=_order)
        self._pump()
        return entry.future

    def _fits(self, entry: _Entry) -> bool:
        if self.running >= self.workers:
            return False
        if not entry.on_demand and self._scheduled_running() >= self.workers - self.reserved:
            return False
        limit = self.portal_limits.get(entry.job.portal)
        return limit is None or self._portal_running(entry.job.portal) < limit

    def _pump(self) -> None:
        for entry in list(self._pending):
            if self.running >= self.workers:
                return
            if self._fits(entry):
                self._pending.remove(entry)
                self._running.add(entry)
                self.started.append(entry.job)
                del self.started[:-1000]
                entry.task = asyncio.get_running_loop().create_task(self._one(entry))

    async def _one(self, entry: _Entry) -> None:
        try:
            result = await self._run(entry.job)
        except asyncio.CancelledError:
            entry.future.cancel()
            raise
        except Exception as exc:
            if not entry.future.done():
                entry.future.set_exception(exc)
                entry.future.exception()  # retrieved here: the log line is the report
            log.exception("dispatch.job_crashed", portal=entry.job.portal, task=entry.job.task)
        else:
            if not entry.future.done():
                entry.future.set_result(result)
        finally:
            self._running.discard(entry)
            if not self._closed:
                self._pump()
            if not self._running and not self._pending:
                self._idle.set()

    async def join(self) -> None:
        """Wait until no job runs or waits: a whole pipeline, follow-ups included
        (a job's follow-ups are queued before the job counts as finished)."""
        await self._idle.wait()

    # --------------------------------------------------------------- shutdown
    async def drain(self, grace_seconds: float) -> None:
        self._closed = True
        for entry in self._pending:
            entry.future.cancel()
        self._pending.clear()
        tasks = [e.task for e in self._running if e.task is not None]
        if not tasks:
            return
        log.info("dispatch.draining", running=len(tasks), grace_seconds=grace_seconds)
        _done, late = await asyncio.wait(tasks, timeout=grace_seconds)
        for t in late:
            t.cancel()  # jobs are idempotent: the next run picks up where this stopped
        if late:
            await asyncio.wait(late, timeout=10)
            log.warning("dispatch.cancelled_after_grace", jobs=len(late))


def _order(e: _Entry) -> tuple[int, int]:
    return (0 if e.on_demand else 1, e.seq)


class CeleryDispatcher:
    """Publish jobs to Celery workers (one queue per portal, on-demand first)."""

    def __init__(self, celery_app: Any) -> None:
        self.app = celery_app
        self._closed = False

    def has_room(self, *, on_demand: bool) -> bool:
        return not self._closed  # the broker queues; workers pull when free

    async def submit(self, job: Job, *, on_demand: bool = False) -> None:
        if self._closed:
            raise DispatcherClosed("the scheduler is shutting down")
        await asyncio.to_thread(send_job, self.app, job, on_demand=on_demand)

    def publish_on_demand(self, job: Job) -> None:
        """Publish now, from the thread claiming the request (see
        ``scheduler.ondemand.claim_job``: the claim commits only once the
        broker has the job)."""
        if self._closed:
            raise DispatcherClosed("the scheduler is shutting down")
        send_job(self.app, job, on_demand=True)

    async def drain(self, grace_seconds: float) -> None:
        self._closed = True  # jobs already published belong to the workers


__all__ = [
    "CeleryDispatcher",
    "Dispatcher",
    "DispatcherClosed",
    "LocalDispatcher",
    "execute",
    "is_redis",
    "priority_for",
    "queue_name",
    "send_job",
]
