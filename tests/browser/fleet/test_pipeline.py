"""The pipeline as one: a sync carries an account's work through documents,
PODs and matching; the scheduler's next sync catches what changed on the
portals; an approval reaches the portal as a filed dispute with no glue; a
refused filing shows where ops looks."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bots.jobs import Job
from records.schemas import ExtractionStatus
from scheduler.dispatch import LocalDispatcher, execute
from scheduler.housekeeping import tidy
from scheduler.service import SchedulerService
from store.models import (
    BotRun,
    Deduction,
    DeductionHistory,
    Document,
    DocumentLink,
    Verdict,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(900)]


async def test_a_sync_carries_the_work_through_documents_pods_and_matching(
    make_demo, synced_snapshot
) -> None:  # type: ignore[no-untyped-def]
    # The session's snapshot is this sync (every retailer, from an empty store);
    # its results and a copy of the store it filled are checked here.
    async with make_demo(synced=True) as demo:
        results = synced_snapshot.results
        tasks = sorted({r.job.task for r in results})
        assert tasks == ["match", "pods", "read_documents", "sync"], tasks
        assert all(r.ok for r in results), [(str(r.job), r.error_class) for r in results]
        with demo.runtime.db() as s:
            pending = s.scalar(
                select(func.count())
                .select_from(Document)
                .where(Document.extraction_status == ExtractionStatus.pending)
            )
            assert pending == 0, "every fetched document was read"
            deductions = s.scalar(select(func.count()).select_from(Deduction))
            verdicts = s.scalar(select(func.count()).select_from(Verdict))
            assert deductions
            assert verdicts == deductions, "every claim judged"
            pods = s.scalar(
                select(func.count()).select_from(DocumentLink).where(DocumentLink.role == "pod")
            )
            assert pods, "PODs came from the carriers the claims name"
            recorded = set(s.scalars(select(BotRun.task)))
        assert {"sync", "read_documents", "pods", "match"} <= recorded  # each step is a run
        report = demo.audit(results)
        assert report.complete, report.as_dict()


async def test_the_scheduled_sync_catches_every_change_on_the_portals(make_demo) -> None:  # type: ignore[no-untyped-def]
    async with make_demo(synced=True) as demo:  # the world as the first sync left it
        world = demo.world.world
        seen = {
            d.key
            for d in demo.scenario.deductions
            if world.deduction(d.portal, d.account, d.deduction_id) is not None
        }
        world.clock.advance(days=45)
        changed = [
            d
            for d in demo.scenario.deductions
            if d.key in seen  # stored before the change, so the change has a history
            and any(
                world.clock.today() - timedelta(days=45) < ch.effective <= world.clock.today()
                for ch in d.changes
            )
        ]
        assert changed, "the scenario changes claims in these 45 days"
        service = SchedulerService(
            demo.config,
            demo.settings,
            runner=lambda job: execute(demo.runtime, job, then=service.follow),
        )
        stop = asyncio.Event()
        running = asyncio.create_task(service.run(stop))
        await asyncio.wait_for(service.is_active.wait(), timeout=30)
        try:
            for portal, account in demo.accounts:
                if portal in ("megamart", "shopright", "freshco"):
                    await service.fire(Job(portal, account, "sync"))  # what a schedule fires
            assert isinstance(service.dispatcher, LocalDispatcher)
            await service.dispatcher.join()
        finally:
            stop.set()
            await asyncio.wait_for(running, timeout=60)
        assert {"sync", "read_documents", "match"} <= {j.task for j in service.dispatcher.started}
        with demo.runtime.db() as s:
            for d in changed:
                row = s.scalars(
                    select(Deduction).where(
                        Deduction.portal == d.portal, Deduction.external_id == d.deduction_id
                    )
                ).one()
                assert row.amount == world.current_amount(d), d.key
                assert row.status == world.current_status(d), d.key
                history = s.scalars(
                    select(DeductionHistory.field).where(DeductionHistory.deduction_id == row.id)
                ).all()
                assert {"amount", "status"} & set(history), f"{d.key}: no history of the change"
        assert not demo.audit().deductions_wrong_amount


def _cli(data_dir: Path, day: date, *args: str) -> subprocess.CompletedProcess[str]:
    """The real ``fleet`` command on the demo's data dir, on the world's business day."""
    env = {
        **os.environ,
        "FLEET_BUSINESS_DAY": day.isoformat(),
        "FLEET_CONFIG": str(data_dir / "fleet.toml"),
        "FLEET_DATA_DIR": str(data_dir),
        "FLEET_USER": "ana",
        "FLEET_KEYRING_BACKEND": "file",
        "FLEET_KEYRING_KEY_FILE": str(data_dir / "demo-keyring.key"),
    }
    env.pop("FLEET_DATABASE_URL", None)
    fleet = Path(sys.executable).with_name("fleet")
    return subprocess.run(
        [str(fleet), *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def _invalid_claim(demo, *, window_open: bool):  # type: ignore[no-untyped-def]
    """A claim the fleet judged invalid (and the truth agrees), window as asked."""
    world = demo.world.world
    with demo.runtime.db() as s:
        rows = s.execute(
            select(Deduction.portal, Deduction.external_id, Verdict.window_closes)
            .join(Verdict, Verdict.deduction_id == Deduction.id)
            .where(
                Verdict.validity == "invalid",
                Deduction.portal.in_(("megamart", "shopright", "freshco")),
                Deduction.amount < 10_000,  # one step, which mia (manager) may take
            )
            .order_by(Deduction.portal, Deduction.id)
        ).all()
    for portal, external_id, closes in rows:
        truth = demo.scenario.truth.deductions[f"{portal}:{external_id}"]
        if truth.validity.value != "invalid" or closes is None:
            continue
        if (closes >= world.clock.today()) == window_open:
            return portal, external_id
    raise AssertionError("no such claim in the world")


async def test_an_approval_becomes_a_filed_dispute_and_a_refusal_shows_in_health(
    make_demo, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    data_dir = tmp_path / "fleet"
    async with make_demo(data_dir=data_dir, synced=True) as demo:  # its key file comes along
        day = demo.today()
        for user, role in (("ana", "analyst"), ("leo", "analyst"), ("mia", "manager")):
            assert _cli(data_dir, day, "users", "add", user, "--role", role).returncode == 0
        portal, claim = _invalid_claim(demo, window_open=True)
        late_portal, late_claim = _invalid_claim(demo, window_open=False)
        for ref in (f"{portal}:{claim}", f"{late_portal}:{late_claim}"):
            done = _cli(data_dir, day, "propose", ref, "dispute", "--json")
            assert done.returncode == 0, done.stderr
        decisions = json.loads(_cli(data_dir, day, "approvals", "--json").stdout)
        ids = {d["deduction"]: d["decision"] for d in decisions}
        ok = _cli(data_dir, day, "approve", str(ids[f"{portal}:{claim}"]), "--as", "mia")
        assert ok.returncode == 0, ok.stderr
        late_id = str(ids[f"{late_portal}:{late_claim}"])
        refused = _cli(data_dir, day, "approve", late_id, "--as", "mia")
        assert refused.returncode == 2
        assert "window closed" in refused.stderr
        overridden = _cli(
            data_dir, day, "approve", late_id, "--as", "mia", "--override-window",
            "--note", "the buyer agreed to take it late",
        )  # fmt: skip
        assert overridden.returncode == 0, overridden.stderr
        # What the scheduler's housekeeping does every pass: start the work people left.
        work = tidy(demo.runtime.db, timedelta(minutes=10)).work
        assert [j.task for j in work] == ["queue_disputes"]
        results = await demo.run_pipeline(work)
        assert [r.job.task for r in results] == ["queue_disputes", "file_dispute"]
        world = demo.world.world
        filed = world.dispute_for(portal, claim)
        assert filed is not None, "the approved dispute reached the portal"
        assert world.dispute_for(late_portal, late_claim) is None, "the portal refused it"
        assert results[-1].status == "partial"
        assert results[-1].counts["disputes.rejected"] == 1
        health = _cli(data_dir, day, "health", "--json")
        assert health.returncode == 0, health.stderr
        refusals = json.loads(health.stdout)["disputes_refused"]
        assert [(r["deduction"], r["status"]) for r in refusals] == [(late_claim, "rejected")]
        assert "window" in refusals[0]["why"]
        listed = json.loads(_cli(data_dir, day, "disputes", "--json").stdout)
        by_claim = {r["claim"]: r for r in listed}
        assert by_claim[f"{portal}:{claim}"]["dispute_number"] == filed.number
        rerun = _cli(data_dir, day, "run", "--task", "file_dispute", "--portal", portal)
        assert rerun.returncode == 0, rerun.stderr  # nothing left to file: nothing filed twice
        assert len([d for d in world.disputes.values() if d.deduction_id == claim]) == 1
