"""Celery workers on real Redis and real RabbitMQ, running real bot jobs in
Chromium against the fixture world.

- Two worker processes share the work; one is killed with SIGKILL mid-job and
  the job completes on the other, leaving no duplicate deductions or documents.
- An on-demand request published while the only worker is busy starts before
  the scheduled jobs queued ahead of it.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bots.jobs import Job
from fixtures.audit import audit
from fixtures.scenario_io import load_scenario
from fleet.demo import demo_keyring
from scheduler.dispatch import send_job
from scheduler.housekeeping import reap_stale_runs
from store.models import Deduction, DocumentLink
from tests.conftest import EXAMPLE_SCENARIO
from tests.integration.scheduler.celery_fleet import Fleet, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="session")
def keyring_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The world's logins in an encrypted file keyring, built once (Argon2 is slow)."""
    root = tmp_path_factory.mktemp("keyring")
    demo_keyring(root, load_scenario(EXAMPLE_SCENARIO))
    return root


@pytest.fixture(params=["redis", "amqp"])
def fleet(
    request: pytest.FixtureRequest, tmp_path: Path, world_factory: Any, keyring_dir: Path
) -> Iterator[Fleet]:
    broker = request.getfixturevalue(f"{request.param}_url")
    # Slow megamart pages down so a sync lasts long enough to be killed half-way.
    world = world_factory(load_scenario(EXAMPLE_SCENARIO), "latency_ms=60")
    # The kill test wants a dead worker's job back soon (Redis: after the visibility
    # timeout); the others want no redelivery of a job that merely runs long.
    visibility = 10 if "killed" in request.function.__name__ else 120
    f = Fleet(tmp_path, world, broker, keyring_dir, visibility)
    try:
        yield f
    finally:
        f.close()


def test_a_killed_worker_job_completes_on_the_other_without_duplicates(fleet: Fleet) -> None:
    scenario = fleet.world.world.scenario
    mega = scenario.accounts_on("megamart")[0].username
    w1 = fleet.start_worker("w1")
    send_job(fleet.app, Job("megamart", mega, "sync"), on_demand=False)
    wait_until(lambda: fleet.events("w1", "worker.job_start"), 60, "w1 to start the sync")
    wait_until(
        lambda: fleet.events("w1", "bot.start") and fleet.runs(portal="megamart"),
        60,
        "the sync to be under way on w1",
    )
    fleet.start_worker("w2")
    # Some documents are in, most are not: kill the worker in the middle of the job.
    w1.send_signal(signal.SIGKILL)
    w1.wait(timeout=10)

    done = wait_until(
        lambda: [r for r in fleet.runs(portal="megamart") if r.status != "running"],
        120,
        "the sync to be redelivered and finish on w2",
    )
    assert done[0].status in ("succeeded", "partial"), done[0].error_class
    redelivered = fleet.events("w2", "worker.job_start")
    assert redelivered
    assert redelivered[0]["portal"] == "megamart"

    # Both workers take jobs from the queues: a third worker joins, three more jobs go in.
    fleet.start_worker("w3")
    for a in scenario.accounts:
        if a.portal in ("haulstar", "parcelnet", "shopright"):
            send_job(
                fleet.app,
                Job(a.portal, a.username, "pods" if a.portal != "shopright" else "sync"),
                on_demand=False,
            )

    def settled() -> bool:
        done = [e for w in ("w2", "w3") for e in fleet.events(w, "worker.job_done")]
        started = sum(len(fleet.events(w, "worker.job_start")) for w in ("w2", "w3"))
        new = {e["portal"] for e in done} >= {"haulstar", "parcelnet", "shopright"}
        return new and len(done) == started  # (a long job may be redelivered: wait for it)

    wait_until(settled, 120, "the three jobs to finish and the workers to go idle")
    assert fleet.events("w2", "worker.job_done")
    assert fleet.events("w3", "worker.job_done")

    finished = next(r for r in fleet.runs(portal="megamart") if r.status != "running")
    listed = sum(v for k, v in finished.counts.items() if k.startswith("deductions."))
    with fleet.db() as s:
        stored = s.scalar(
            select(func.count()).select_from(Deduction).where(Deduction.portal == "megamart")
        )
        dup_links = s.execute(
            select(DocumentLink.deduction_id, DocumentLink.document_id, DocumentLink.role)
            .group_by(DocumentLink.deduction_id, DocumentLink.document_id, DocumentLink.role)
            .having(func.count() > 1)
        ).all()
        docs = s.scalar(
            select(func.count(func.distinct(DocumentLink.deduction_id)))
            .join(Deduction, Deduction.id == DocumentLink.deduction_id)
            .where(Deduction.portal == "megamart")
        )
    assert listed > 0
    assert stored == listed
    assert dup_links == []
    assert audit(fleet.world.world, fleet.db).duplicates == 0
    assert docs
    assert docs >= stored - 1
    # w1's run died with it; housekeeping reaps exactly that one, nothing that finished.
    left = [r.run_id for r in fleet.runs(status="running")]
    assert len(left) == 1
    assert reap_stale_runs(fleet.db, timedelta(0)) == left
    assert fleet.runs(run_id=left[0])[0].error_class == "WorkerLost"


def test_on_demand_jumps_the_queue_of_scheduled_jobs(fleet: Fleet) -> None:
    scenario = fleet.world.world.scenario
    mega = scenario.accounts_on("megamart")[0].username
    carrier = scenario.accounts_on("haulstar")[0].username
    pro = next(s.pro_number for s in scenario.shipments if s.carrier == "haulstar")
    fleet.start_worker("w1")
    send_job(fleet.app, Job("megamart", mega, "sync"), on_demand=False)
    wait_until(lambda: fleet.runs(portal="megamart"), 60, "the worker to be busy")
    for _ in range(3):  # identical jobs are fine: each is a message in the queue
        send_job(fleet.app, Job("haulstar", carrier, "pods"), on_demand=False)
    send_job(fleet.app, Job("haulstar", carrier, "retrieve", pro), on_demand=True)
    wait_until(lambda: len(fleet.events("w1", "worker.job_done")) >= 5, 180, "all five jobs")
    order = [(e["portal"], e["task"]) for e in fleet.events("w1", "worker.job_start")]
    assert order[0] == ("megamart", "sync")
    # The request goes before every scheduled browser job queued ahead of it. The
    # sync's own follow-ups (store work on the core queue, seconds long) may run
    # first: a broker orders messages by priority within a queue, not across queues.
    browser = [job for job in order[1:] if job[0] != "core"]
    assert browser[0] == ("haulstar", "retrieve"), order
