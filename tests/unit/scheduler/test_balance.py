"""Largest job first: a batch's longest account starts first, so it does not
run alone at the end while the other workers idle."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from bots.jobs import Job, JobResult
from records.schemas import RunStatus
from scheduler.balance import expected_seconds, largest_first
from scheduler.dispatch import LocalDispatcher
from store.db import init_db, session_factory, transaction
from store.models import BotRun
from store.repositories._common import ensure_portal

T0 = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)


def store(tmp_path: Path) -> sessionmaker[Session]:
    return session_factory(init_db(f"sqlite:///{tmp_path / 'fleet.db'}"))


def ran(
    db: sessionmaker[Session],
    account: str,
    *seconds: float,
    task: str = "sync",
    status: RunStatus = RunStatus.succeeded,
    days_ago: int = 1,
) -> None:
    """Runs of ``account``'s ``task`` lasting ``seconds`` (newest last), one a day."""
    with transaction(db) as s:
        ensure_portal(s, "megamart")
        for i, secs in enumerate(seconds):
            start = T0 - timedelta(days=days_ago + len(seconds) - 1 - i)
            s.add(
                BotRun(
                    run_id=f"{account}-{task}-{days_ago}-{i}", portal="megamart", account=account,
                    task=task, status=status, started_at=start,
                    finished_at=start + timedelta(seconds=secs),
                )
            )  # fmt: skip


def sync(account: str) -> Job:
    return Job("megamart", account, "sync")


def test_the_longest_account_by_its_recent_runs_goes_first(tmp_path: Path) -> None:
    db = store(tmp_path)
    ran(db, "small", 20, 25, 30)
    ran(db, "large", 600, 650, 700)
    ran(db, "medium", 100, 120, 90)
    jobs = [sync("small"), sync("medium"), sync("large")]
    assert [j.account for j in largest_first(db, jobs)] == ["large", "medium", "small"]
    assert expected_seconds(db, jobs)[sync("medium")] == 100  # median of the last three


def test_an_account_never_run_leads_since_a_first_sync_reads_its_whole_history(
    tmp_path: Path,
) -> None:
    db = store(tmp_path)
    ran(db, "known", 900)
    jobs = [sync("known"), sync("new-1"), sync("new-2")]
    assert [j.account for j in largest_first(db, jobs)] == ["new-1", "new-2", "known"]


def test_only_the_last_three_finished_runs_of_the_same_task_count(tmp_path: Path) -> None:
    db = store(tmp_path)
    ran(db, "a", 3000, days_ago=10)  # its first backfill, long ago
    ran(db, "a", 30, 40, 50)
    ran(db, "b", 200, 210, 220)
    ran(db, "a", 5000, status=RunStatus.failed, days_ago=0)  # stopped: says nothing
    ran(db, "a", 9000, task="dispute_status")  # another task
    jobs = [sync("a"), sync("b")]
    assert expected_seconds(db, jobs)[sync("a")] == 40
    assert [j.account for j in largest_first(db, jobs)] == ["b", "a"]


async def test_two_workers_end_together_when_the_large_account_starts_first(
    tmp_path: Path,
) -> None:
    """The batch on the in-process pool, with jobs that take their expected
    length in simulated time: smallest first leaves the 12-unit account alone
    at the end (makespan 16); largest first ends at 12."""
    db = store(tmp_path)
    length = {"a": 2, "b": 2, "c": 2, "d": 2, "e": 12}
    for account, units in length.items():
        ran(db, account, units * 60)
    given = [sync(a) for a in "abcde"]  # smallest first, as listed

    async def makespan(order: list[Job]) -> int:
        clock = {"now": 0}
        running: dict[Job, asyncio.Event] = {}
        ends: dict[Job, int] = {}

        async def run(job: Job) -> JobResult:
            ends[job] = clock["now"] + length[job.account]
            ev = running.setdefault(job, asyncio.Event())
            await ev.wait()
            return JobResult(job=job, run_id=job.account, status="succeeded")

        d = LocalDispatcher(run, workers=2, reserved=0)
        futures = [d.enqueue(j) for j in order]
        while not all(f.done() for f in futures):
            await asyncio.sleep(0)
            due = [j for j, t in ends.items() if t == min(ends.values())] if ends else []
            if due and not any(running[j].is_set() for j in due):
                clock["now"] = ends[due[0]]
                for j in due:
                    running[j].set()
                    del ends[j]
            for _ in range(5):
                await asyncio.sleep(0)
        return clock["now"]

    assert await makespan(given) == 16
    assert await makespan(largest_first(db, given)) == 12
