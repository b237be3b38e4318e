"""The whole fleet against the simulated world, checked against its truth.

Every document the truth lists must be in the vault with exactly the world's
bytes and linked to the right deduction; nothing twice; and the failure
paths (faults, CAPTCHA, layout changes) end as the issue says.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bots.health import health_report
from store.models import BotRun, Deduction, Document, DocumentLink

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _not_retrieved(report) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    """Missing documents other than the ones the world has not imaged yet."""
    return [
        m
        for k in report.as_dict()["documents"].values()
        for m in k["missing_detail"]
        if m["reason"] != "not yet available"
    ]


def _counts(demo) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    with demo.runtime.db() as s:
        return (
            s.scalar(select(func.count()).select_from(Deduction)) or 0,
            s.scalar(select(func.count()).select_from(Document)) or 0,
            s.scalar(select(func.count()).select_from(DocumentLink)) or 0,
        )


async def test_every_document_the_truth_lists_is_retrieved_and_a_rerun_adds_nothing(  # type: ignore[no-untyped-def]
    make_demo,
) -> None:
    async with make_demo() as demo:
        results = await demo.sync_everything()
        assert [r.status for r in results if r.status != "succeeded"] == []
        report = demo.audit()
        assert report.deductions_stored == report.deductions_expected > 100
        assert report.deductions_wrong_amount == []
        assert report.duplicates == 0
        assert _not_retrieved(report) == []
        kinds = report.as_dict()["documents"]
        assert kinds["backup"]["retrieved"] > 80
        assert kinds["pod"]["retrieved"] > 10
        before = _counts(demo)
        served = len(demo.world.world.record.downloads)
        logins = len(demo.world.world.record.logins)
        again = await demo.sync_everything()
        # the saved, encrypted session state let the accounts whose portal session is still
        # valid skip login and MFA (freshco's sessions end after 60 requests, and the
        # haulstar API hands out a token per job)
        relogged = {e.portal for e in demo.world.world.record.logins[logins:]}
        assert relogged <= {"freshco", "haulstar"}
        assert sum(r.counts.get("documents.new", 0) for r in again) == 0
        assert sum(r.counts.get("deductions.created", 0) for r in again) == 0
        assert _counts(demo) == before
        assert len(demo.world.world.record.downloads) == served  # nothing downloaded twice


async def test_faults_cost_retries_not_documents(make_demo, tiny_world) -> None:  # type: ignore[no-untyped-def]
    # The tiny world: every portal and every fault below on it, at a quarter
    # of the small world's claims (the first test above covers that size).
    faults = (
        "error_rate=0.1,hang_rate=0.05,hang_seconds=1,burst_429_every=50,"
        "burst_429_length=2,retry_after=1;freshco:expire_every=40;"
        "megamart:expire_every=40;shopright:expire_every=40"
    )
    async with make_demo(faults=faults, scenario=tiny_world, with_key_file=True) as demo:
        demo.runtime.heartbeat_seconds = 0.2  # hung requests make every job last seconds
        results = await demo.sync_everything()
        report = demo.audit()
        assert [(r.job.portal, r.error_class) for r in results if r.status == "failed"] == []
        with demo.runtime.db() as s:
            beats = s.execute(select(BotRun.started_at, BotRun.heartbeat_at, BotRun.finished_at))
            beats = beats.all()
        # Every job beat while it ran (so the reaper leaves it alone) and not after.
        assert beats
        assert all(h is not None for _, h, _ in beats)
        assert any(h > st for st, h, _ in beats)
        assert all(st <= h <= fin for st, h, fin in beats)
        assert _not_retrieved(report) == []
        assert report.duplicates == 0
        retries = sum(v for r in results for k, v in r.counts.items() if k.startswith("retry."))
        assert retries > 0
        with demo.runtime.db() as s:
            health = health_report(s)
        assert sum(a["retries_7d"] for a in health["accounts"]) == retries
        struck = set(demo.world.world.record.faults)
        assert {kind for _, kind in struck} >= {"5xx", "hang", "429", "session_expired"}, struck
        assert {portal for portal, _ in struck} == set(demo.scenario.portals), struck


async def test_layout_obfuscation_never_stores_a_wrong_field(make_demo) -> None:  # type: ignore[no-untyped-def]
    async with make_demo(faults="obfuscate=5") as demo:
        results = await demo.sync_everything()
        report = demo.audit()
        for r in results:
            assert r.status == "succeeded" or r.error_class == "LayoutChanged", r
        assert report.deductions_wrong_amount == []
        assert all(k.wrongly_linked == 0 for k in report.kinds.values())
