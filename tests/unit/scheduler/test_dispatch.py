"""The in-process pool's promises: reserved capacity, on-demand first, portal limits, merging."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bots.jobs import Job, JobResult
from scheduler.config import parse_config
from scheduler.dispatch import LocalDispatcher
from scheduler.worker import fleet_queues


class Gate:
    """A job function whose jobs run until the test lets them finish."""

    def __init__(self) -> None:
        self.started: list[Job] = []
        self.release: dict[Job, asyncio.Event] = {}
        self.changed = asyncio.Event()

    async def __call__(self, job: Job) -> JobResult:
        self.started.append(job)
        self.changed.set()
        ev = self.release.setdefault(job, asyncio.Event())
        await ev.wait()
        return JobResult(job=job, run_id=f"run-{job.account}", status="succeeded")

    def finish(self, job: Job) -> None:
        self.release.setdefault(job, asyncio.Event()).set()

    async def until_started(self, n: int) -> None:
        while len(self.started) < n:
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), timeout=5)


def sync(account: str, portal: str = "megamart") -> Job:
    return Job(portal, account, "sync")


async def test_on_demand_starts_at_once_while_every_scheduled_slot_is_busy() -> None:
    gate = Gate()
    d = LocalDispatcher(gate, workers=3, reserved=1)
    scheduled = [d.enqueue(sync(f"a{i}")) for i in range(5)]
    await gate.until_started(2)
    assert d.running == 2
    assert d.pending == 3
    urgent = Job("megamart", "a9", "retrieve", "D-1")
    fut = d.enqueue(urgent, on_demand=True)
    await gate.until_started(3)
    assert gate.started[-1] == urgent
    gate.finish(urgent)
    assert (await fut).status == "succeeded"
    for job in [sync(f"a{i}") for i in range(5)]:
        gate.finish(job)
    await asyncio.gather(*scheduled)
    assert [j.account for j in gate.started] == ["a0", "a1", "a9", "a2", "a3", "a4"]


async def test_waiting_on_demand_jobs_go_before_waiting_scheduled_ones() -> None:
    gate = Gate()
    d = LocalDispatcher(gate, workers=1, reserved=0)
    first = sync("a0")
    d.enqueue(first)
    for i in range(1, 4):
        d.enqueue(sync(f"a{i}"))
    urgent = Job("megamart", "x", "retrieve", "D-2")
    d.enqueue(urgent, on_demand=True)
    await gate.until_started(1)
    gate.finish(first)
    await gate.until_started(2)
    assert gate.started[1] == urgent
    for job in [urgent, *(sync(f"a{i}") for i in range(1, 4))]:
        gate.finish(job)
    await gate.until_started(5)
    await d.drain(grace_seconds=5)


async def test_identical_waiting_jobs_merge_and_portal_limits_hold() -> None:
    gate = Gate()
    d = LocalDispatcher(gate, workers=4, reserved=0, portal_limits={"haulstar": 1})
    a = d.enqueue(sync("c1", "haulstar"))
    b = d.enqueue(sync("c2", "haulstar"))
    c = d.enqueue(sync("c2", "haulstar"))
    assert b is c  # merged
    m = d.enqueue(sync("r1"))
    await gate.until_started(2)
    assert {j.account for j in gate.started} == {"c1", "r1"}  # c2 waits for haulstar's slot
    gate.finish(sync("c1", "haulstar"))
    await gate.until_started(3)
    gate.finish(sync("c2", "haulstar"))
    gate.finish(sync("r1"))
    await asyncio.gather(a, b, m)


async def test_drain_lets_running_jobs_finish_and_refuses_new_ones() -> None:
    gate = Gate()
    d = LocalDispatcher(gate, workers=2, reserved=0)
    running = d.enqueue(sync("a0"))
    await gate.until_started(1)
    drained = asyncio.create_task(d.drain(grace_seconds=5))
    await asyncio.sleep(0)
    assert not d.has_room(on_demand=True)
    gate.finish(sync("a0"))
    await drained
    assert (await running).status == "succeeded"


async def test_drain_cancels_jobs_still_running_after_the_grace_period() -> None:
    gate = Gate()
    d = LocalDispatcher(gate, workers=1, reserved=0)
    stuck = d.enqueue(sync("slow"))
    await gate.until_started(1)
    await d.drain(grace_seconds=0.05)
    assert stuck.cancelled() or isinstance(stuck.exception(), asyncio.CancelledError)


def test_a_worker_takes_the_queue_of_a_retailer_with_no_portal() -> None:
    """Northway has no portal, so no fleet.toml names it, yet its e-mail
    filing jobs wait on fleet.northway: a worker's default queues include it."""
    config = parse_config(
        '[portals.megamart]\nbase_url = "http://127.0.0.1:1"\n', Path("fleet.toml")
    )
    assert fleet_queues(config) == ["megamart", "northway"]
