"""bots/handover.py: jobs that join an account's holder are served in order,
or handed back when it ends; a join that waits too long fails as the lock would."""

from __future__ import annotations

import asyncio

import pytest

from bots.handover import Handover
from bots.jobs import Job, JobResult
from bots.locks import LockTimeout


def _job(ref: str) -> Job:
    return Job("megamart", "acme-ar", "retrieve", ref)


async def _served(job: Job) -> JobResult:
    if job.target == "boom":
        raise RuntimeError("the served job crashed")
    return JobResult(job=job, run_id=f"run-{job.target}", status="succeeded")


async def test_no_holder_means_no_join() -> None:
    assert await Handover().join(_job("D-1"), timeout=1) is None


async def test_the_holder_serves_joined_jobs_in_order_and_survives_their_crash() -> None:
    handover = Handover()
    with handover.holding("megamart", "acme-ar") as holder:
        joins = [
            asyncio.create_task(handover.join(_job(ref), timeout=5))
            for ref in ("D-1", "boom", "D-2")
        ]
        await asyncio.sleep(0)  # every join is waiting
        await holder.serve(_served)
        first, crashed, second = await asyncio.gather(*joins, return_exceptions=True)
    assert isinstance(first, JobResult)
    assert first.run_id == "run-D-1"
    assert isinstance(crashed, RuntimeError)
    assert isinstance(second, JobResult)
    assert second.run_id == "run-D-2"


async def test_a_holder_that_ends_hands_its_waiters_back_to_the_lock() -> None:
    handover = Handover()
    with handover.holding("megamart", "acme-ar"):
        join = asyncio.create_task(handover.join(_job("D-1"), timeout=5))
        await asyncio.sleep(0)
    assert await join is None
    assert await handover.join(_job("D-2"), timeout=5) is None  # nobody holds it now


async def test_a_join_that_waits_too_long_fails_and_is_not_served_later() -> None:
    handover = Handover()
    ran: list[Job] = []

    async def run(job: Job) -> JobResult:
        ran.append(job)
        return await _served(job)

    with handover.holding("megamart", "acme-ar") as holder:
        with pytest.raises(LockTimeout):
            await handover.join(_job("D-1"), timeout=0.01)
        await holder.serve(run)
    assert ran == []
