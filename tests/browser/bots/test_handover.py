"""An analyst's retrieve for an account whose sync is running is served by
that sync between two claims (bots/handover.py), on its signed-in session:
not after the whole sync, and without a second login."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import exists, func, select

from bots.jobs import Job
from store.models import Deduction, DocumentLink

pytestmark = pytest.mark.browser

PORTAL, ACCOUNT = "megamart", "acme-ar"  # 68 claims with documents in the small world


def _has_docs():  # type: ignore[no-untyped-def]
    return exists().where(DocumentLink.deduction_id == Deduction.id)


async def test_a_retrieve_joins_the_running_sync_of_its_account(make_demo) -> None:  # type: ignore[no-untyped-def]
    async with make_demo() as demo:
        db = demo.runtime.db
        sync = asyncio.create_task(demo.runtime.run(Job(PORTAL, ACCOUNT, "sync")))
        while True:  # the sync is fetching documents, claim by claim
            assert not sync.done(), "the sync ended before the test could ask"
            with db() as s:
                stored = s.scalar(select(func.count()).select_from(Deduction).where(_has_docs()))
            if stored:
                break
            await asyncio.sleep(0.05)
        with db() as s:  # the claim the sync would get to last
            last = s.scalars(
                select(Deduction.external_id)
                .where(Deduction.portal == PORTAL, Deduction.account == ACCOUNT, ~_has_docs())
                .order_by(Deduction.id.desc())
                .limit(1)
            ).one()

        asked = await demo.runtime.run(Job(PORTAL, ACCOUNT, "retrieve", last))

        assert not sync.done(), "the retrieve waited for the whole sync"
        assert asked.status == "succeeded"
        assert asked.counts["documents.new"] >= 1
        synced = await sync
        assert synced.status == "succeeded"
        assert synced.run_id != asked.run_id
        world = demo.world.world.record
        logins = [e for e in world.logins if e.username == ACCOUNT and e.step == "password"]
        assert len(logins) == 1, "the retrieve used the sync's session"
        wanted = next(d for d in demo.scenario.deductions if d.deduction_id == last)
        for doc in wanted.documents:  # fetched once: the sync skipped what the retrieve stored
            assert sum(e.ref == doc.doc_id for e in world.downloads) == 1
