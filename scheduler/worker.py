"""Celery: the scale-out dispatcher's other half (``fleet worker``).

Delivery is at-least-once: ``acks_late`` (a message is acknowledged when the
job ends, not when it starts) and ``reject_on_worker_lost`` (a pool child that
dies puts its message back). A worker killed outright drops its broker
connection: RabbitMQ redelivers at once, Redis after
``celery_visibility_timeout_seconds``. Jobs are idempotent and take the
account lock, so a redelivered job takes effect once.

A message carries four strings, ``(portal, account, task, target)``, never a
secret: the worker opens the keyring itself (FLEET_KEYRING_* on the worker
host) and :class:`credentials.secret.Secret` refuses pickling anyway.

One browser pool per worker process: the first job in a process starts an
event loop on a thread, opens one :class:`bots.runtime.FleetRuntime` on it
and keeps it; every later job in that process (every thread of a
``--pool threads`` worker) runs on that loop, in its own browser context.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

import structlog

from bots.jobs import CORE, TASKS, Job, JobResult
from dispute_filing.habits import mail_only_retailers
from scheduler.config import PORTAL_NAME, FleetConfig
from scheduler.dispatch import (
    TASK_NAME,
    FollowUp,
    RuntimeFactory,
    execute,
    is_redis,
    priority_for,
    queue_name,
    send_job,
)

log = structlog.get_logger(__name__)

_PORTAL_RE = re.compile(PORTAL_NAME)


def make_celery(
    broker_url: str,
    portals: Sequence[str],
    *,
    visibility_timeout: int = 3600,
    redis_restore_interval: float = 10,
) -> Any:
    """A Celery app for the fleet: one priority queue per portal, at-least-once delivery."""
    from celery import Celery
    from kombu import Queue

    app = Celery("fleet", broker=broker_url, set_as_current=False)
    queues = [
        Queue(queue_name(p), routing_key=queue_name(p), queue_arguments={"x-max-priority": 10})
        for p in sorted({*portals, CORE})  # core: the pipeline's matching and hand-off
    ]
    transport: dict[str, Any] = {}
    if is_redis(broker_url):
        transport = {
            "visibility_timeout": visibility_timeout,
            "priority_steps": list(range(10)),
            "sep": ":",
            "queue_order_strategy": "priority",
            "unacked_restore_interval": redis_restore_interval,
            "unacked_restore_throttle": 1,
        }
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,  # outcomes live in the store (bot_runs, retrieval_requests)
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,  # a job that raised is recorded; do not loop it
        worker_prefetch_multiplier=1,  # take the next job only when a slot is free
        task_queues=queues,
        task_default_queue=queues[0].name if queues else "fleet.default",
        task_queue_max_priority=10,
        task_default_priority=priority_for(broker_url, on_demand=False),
        broker_transport_options=transport,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        worker_cancel_long_running_tasks_on_connection_loss=True,
    )
    app.task(name=TASK_NAME, bind=True)(_run_job_task)
    return app


def _run_job_task(
    self: Any, portal: str, account: str, task: str, target: str | None = None
) -> dict[str, Any]:
    if not isinstance(portal, str) or not _PORTAL_RE.match(portal):
        raise ValueError("bad portal name in job message")
    if task not in TASKS or not isinstance(account, str) or len(account) > 320:
        raise ValueError("bad task or account in job message")
    if target is not None and (not isinstance(target, str) or len(target) > 500):
        raise ValueError("bad target in job message")
    job = Job(portal, account, task, target)
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    log.info(
        "worker.job_start",
        worker=self.request.hostname,
        pid=os.getpid(),
        portal=portal,
        task=task,
        redelivered=redelivered,
    )
    from sqlalchemy.exc import OperationalError

    from bots.locks_distributed import LockLost

    app = self.app

    async def publish(jobs: list[Job]) -> None:
        for follow in jobs:
            await asyncio.to_thread(send_job, app, follow, on_demand=False)

    try:
        result = process_runtime().run(job, then=publish)
    except LockLost as exc:
        # Another worker may hold the account now; run again later (idempotent) rather
        # than acknowledge a job that did not finish.
        log.warning("worker.lock_lost", portal=portal, task=task, retries=self.request.retries)
        raise self.retry(exc=exc, countdown=5, max_retries=5) from None
    except OperationalError as exc:
        # The store was locked or its connection dropped before the job could record
        # itself: acknowledging would lose the job without a trace. Run it again.
        log.warning(
            "worker.store_error",
            portal=portal,
            task=task,
            error_class=type(exc.orig).__name__ if exc.orig is not None else "OperationalError",
            retries=self.request.retries,
        )
        raise self.retry(exc=exc, countdown=5, max_retries=5) from None
    log.info(
        "worker.job_done",
        worker=self.request.hostname,
        pid=os.getpid(),
        portal=portal,
        task=task,
        run_id=result.run_id,
        status=result.status,
        error_class=result.error_class,
    )
    return {"run_id": result.run_id, "status": result.status}


# --------------------------------------------------------------------------- per process


class ProcessRuntime:
    """One event loop thread and one FleetRuntime (one browser) for this process."""

    def __init__(self, runtime_factory: RuntimeFactory) -> None:
        self.runtime_factory = runtime_factory
        self._loop = asyncio.new_event_loop()
        self._ready: Future[Any] = Future()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="fleet-runtime", daemon=True)
        self._thread.start()
        self.runtime = self._ready.result(timeout=120)

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        try:
            async with self.runtime_factory() as rt:
                self._ready.set_result(rt)
                await self._stop.wait()
                closer = getattr(rt.locks, "aclose", None)
                if closer is not None:
                    with contextlib.suppress(Exception):
                        await closer()
        except BaseException as exc:
            if not self._ready.done():
                self._ready.set_exception(exc)
            raise

    def run(self, job: Job, then: FollowUp | None = None) -> JobResult:
        fut = asyncio.run_coroutine_threadsafe(execute(self.runtime, job, then), self._loop)
        return fut.result()

    def close(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)


_process: ProcessRuntime | None = None
_process_pid: int | None = None
_process_lock = threading.Lock()
_runtime_factory: RuntimeFactory | None = None


def set_runtime_factory(factory: RuntimeFactory) -> None:
    """What ``fleet worker`` injects before the worker starts (see run_worker)."""
    global _runtime_factory
    _runtime_factory = factory


def process_runtime() -> ProcessRuntime:
    """This process's runtime, started on first use (after a prefork fork, too)."""
    global _process, _process_pid
    with _process_lock:
        if _process is None or _process_pid != os.getpid():
            if _runtime_factory is None:
                raise RuntimeError("no runtime factory: the worker was not started by fleet")
            _process = ProcessRuntime(_runtime_factory)
            _process_pid = os.getpid()
        return _process


def close_process_runtime() -> None:
    global _process
    with _process_lock:
        if _process is not None and _process_pid == os.getpid():
            _process.close()
        _process = None


def account_lock_for(settings: Any, config: FleetConfig) -> Any:
    """The account lock for this deployment: across hosts when the fleet spans hosts.

    PostgreSQL database: advisory locks there. Else a Redis broker: Redis
    locks. Else (SQLite, one host) the flock default.
    """
    from bots.locks import FileAccountLock
    from bots.locks_distributed import PostgresAccountLock, RedisAccountLock

    kind = config.scheduler.account_lock
    db_url = settings.resolved_database_url
    broker = settings.broker_url or ""
    if kind == "auto":
        if db_url.startswith("postgres"):
            kind = "postgres"
        elif broker and is_redis(broker):
            kind = "redis"
        else:
            kind = "file"
    if kind == "postgres":
        return PostgresAccountLock(db_url)
    if kind == "redis":
        if not is_redis(broker):
            raise ValueError("account_lock = redis needs a redis:// broker_url")
        return RedisAccountLock(broker, ttl_seconds=config.scheduler.account_lock_ttl_seconds)
    return FileAccountLock(settings.data_dir / "locks")


def fleet_queues(config: FleetConfig) -> list[str]:
    """The portals with a queue: fleet.toml's, and the retailers with no
    portal, whose disputes go by e-mail (their file jobs wait on
    ``fleet.<retailer>`` like any portal's)."""
    return sorted({*config.portals, *mail_only_retailers()})


def celery_for(config: FleetConfig, settings: Any) -> Any:
    if not settings.broker_url:
        raise ValueError("no broker: set broker_url in fleet.toml or FLEET_BROKER_URL")
    return make_celery(
        settings.broker_url,
        fleet_queues(config),
        visibility_timeout=config.scheduler.celery_visibility_timeout_seconds,
        redis_restore_interval=min(
            10, max(1, config.scheduler.celery_visibility_timeout_seconds // 4)
        ),
    )


def run_worker(
    config: FleetConfig,
    settings: Any,
    *,
    runtime_factory: RuntimeFactory,
    queues: Sequence[str] | None = None,
    concurrency: int | None = None,
    name: str | None = None,
    loglevel: str = "INFO",
) -> None:
    """Run a Celery worker in this process until it is told to stop (SIGTERM: warm shutdown)."""
    from celery import signals

    set_runtime_factory(runtime_factory)
    app = celery_for(config, settings)
    every = [*fleet_queues(config), CORE]
    names = [queue_name(q) if not q.startswith("fleet.") else q for q in (queues or every)]
    unknown = sorted(set(names) - {queue_name(p) for p in every})
    if unknown:
        raise ValueError(f"no such portal queue: {', '.join(unknown)}")
    signals.worker_shutdown.connect(lambda **_: close_process_runtime(), weak=False)
    argv = [
        "worker",
        "--pool=threads",
        f"--concurrency={concurrency or settings.max_contexts}",
        f"--queues={','.join(names)}",
        f"--loglevel={loglevel}",
        "--without-gossip",
        "--without-mingle",
    ]
    if name:
        argv.append(f"--hostname={name}")
    app.worker_main(argv)


__all__ = [
    "ProcessRuntime",
    "account_lock_for",
    "celery_for",
    "make_celery",
    "process_runtime",
    "run_worker",
    "set_runtime_factory",
]
