"""Running jobs, and the pipeline that follows them, on an open runtime.

One way to do it for every face that runs jobs in its own process (``fleet
run``, the demo): the scheduler's own dispatcher (scheduler/dispatch.py), with
the same job function and the same follow-ups (scheduler/pipeline.py), so a
job runs here exactly as it runs under ``fleet scheduler``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from bots.jobs import Job, JobResult
from bots.runtime import FleetRuntime
from scheduler.dispatch import LocalDispatcher, execute


async def run_jobs(
    rt: FleetRuntime,
    jobs: Iterable[Job],
    *,
    chain: bool = True,
    workers: int = 4,
    portal_limits: dict[str, int] | None = None,
    on_result: Callable[[JobResult], None] | None = None,
) -> list[JobResult]:
    """Run ``jobs`` and, with ``chain``, every job that follows them, to the end.

    Returns the results in the order the jobs finished. ``on_result`` hears of
    each as it finishes (progress lines)."""
    results: list[JobResult] = []
    dispatcher: LocalDispatcher

    async def follow(next_jobs: list[Job]) -> None:
        for job in next_jobs:
            await dispatcher.submit(job)

    async def runner(job: Job) -> JobResult:
        result = await execute(rt, job, then=follow if chain else None)
        results.append(result)
        if on_result is not None:
            on_result(result)
        return result

    dispatcher = LocalDispatcher(
        runner, workers=max(1, workers), reserved=0, portal_limits=portal_limits
    )
    for job in jobs:
        await dispatcher.submit(job)
    await dispatcher.join()
    return results


__all__ = ["run_jobs"]
