"""Verdicts judged on what the robots fetched, never on a loader (issue 10).

The seed-7 small world is served; the store is filled only by the fleet's own
jobs (sync, extraction, PODs, the retrievals the matcher asks for) and judged
by the matcher. Against the world's truth (read here, never by product code):
at least 98% agreement on the deductions whose evidence the portals serve by
the world's day, and no decided verdict wrong anywhere (a claim whose evidence
is missing must be needs_review naming what is missing).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from fixtures.scenario import Scenario
from records.schemas import ExtractionStatus
from store.db import make_engine
from store.models import Document
from tests.browser.fleet.robot_store import fill_and_match
from tests.fleet_fixtures import TEST_POLICY, own_keyring
from tests.integration.matching.accuracy import compare, evidence_on_portals

pytestmark = [pytest.mark.browser, pytest.mark.slow]


async def test_robot_filled_store_agrees_with_the_truth(  # type: ignore[no-untyped-def]
    small_world: Scenario, synced_snapshot, tmp_path: Path
) -> None:
    # the session's synced snapshot is the first step (every retailer synced from
    # empty, documents read, PODs, matching); the retrieval rounds go on in a copy
    where = tmp_path / "fleet"
    shutil.copytree(synced_snapshot.data_dir, where, symlinks=True)
    store = await fill_and_match(
        small_world,
        where,
        policy=TEST_POLICY,
        credentials=own_keyring(where),
        synced=synced_snapshot.results,
    )
    assert len(store.verdicts) > 100
    available = evidence_on_portals(small_world)
    a = compare(small_world, store.verdicts, available)
    assert a.total == len(available) > 80, a.report()
    assert a.wrong_decided == [], a.report()
    assert a.verdict_rate >= 0.98, a.report()
    assert a.amount_rate >= 0.98, a.report()
    # What cannot be decided names what is missing, and the CSV line details were read.
    review = [v for v in store.verdicts if v.validity == "needs_review"]
    assert all(v.missing and v.missing[0]["why"] in v.reasons for v in review)
    assert store.extraction["csv"] > 20
    engine = make_engine(f"sqlite:///{store.db_path / 'fleet.db'}")
    try:
        with engine.connect() as c:
            pending = c.scalar(
                select(func.count())
                .select_from(Document)
                .where(Document.extraction_status == ExtractionStatus.pending)
            )
    finally:
        engine.dispose()
    assert pending == 0, "every fetched document is read by the per-account passes"
