"""A long job's page is renewed between records (``PAGE_LIFE`` loads): a fresh
page in the same context, so the renderer's memory stays flat over a
backfill, and nothing else changes: every document arrives once, from the
account's one sign-in."""

from __future__ import annotations

import pytest

from bots.jobs import Job
from bots.politeness import Politeness, PortalLimits
from fixtures.scenario import Scenario
from portal_adapters.base import AdapterSession
from tests.browser.bots.test_lanes import _password_logins

pytestmark = pytest.mark.browser

RETAILERS = ("megamart", "shopright", "freshco")
MEGAMART_SYNC = ("sync", "megamart", "acme-ar")
LIFE = 3  # page loads: a few renewals in every job of the tiny world
PAGE_LOADS = ("megamart", "freshco", "parcelnet")  # a page load a record (haulstar: its API)


async def test_renewed_pages_lose_nothing_and_sign_in_once(make_demo, tiny_world: Scenario) -> None:  # type: ignore[no-untyped-def]
    async with make_demo(faults="latency_ms=20", scenario=tiny_world, with_key_file=True) as demo:
        demo.runtime.page_life = LIFE
        results = await demo.run_pipeline()

        assert [
            (r.job.task, r.job.portal, r.status) for r in results if r.status != "succeeded"
        ] == []
        renewed: dict[str, int] = {}
        for r in results:
            renewed[r.job.portal] = renewed.get(r.job.portal, 0) + r.counts.get("pages.renewed", 0)
        for portal in PAGE_LOADS:  # listings, document passes and POD lookups renewed theirs
            assert renewed.get(portal, 0) > 0, (portal, renewed)
        # megamart reads every claim page while listing (its document pass reuses
        # them): the listing itself renewed, not only the document pass after it
        [listed] = [
            r for r in results if (r.job.task, r.job.portal, r.job.account) == MEGAMART_SYNC
        ]
        assert listed.counts["pages.renewed"] >= listed.counts["deductions.created"] // LIFE

        report = demo.audit()
        missing = [
            m
            for kind in report.as_dict()["documents"].values()
            for m in kind["missing_detail"]
            if m["reason"] != "not yet available"
        ]
        assert missing == []
        assert all(k.wrongly_linked == 0 for k in report.kinds.values())
        assert report.duplicates == 0
        # (a carrier lookup of a shipment still waiting for its POD downloads
        # the bill of lading again each pass, renewed pages or not)
        served = [(e.portal, e.ref) for e in demo.world.world.record.downloads]
        served = [s for s in served if s[0] in RETAILERS]
        assert len(served) == len(set(served)) > 0, "a document was downloaded twice"
        for a in tiny_world.accounts:
            if a.portal in RETAILERS:  # a new page is not a new sign-in
                assert _password_logins(demo, a.portal, a.username) == 1, a


async def test_each_page_of_one_login_is_renewed_on_its_own(
    make_demo, tiny_world: Scenario, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    lanes_renewed: set[int] = set()
    renew = AdapterSession.renew_page_if_worn

    async def watched(self: AdapterSession) -> bool:
        renewed = await renew(self)
        if renewed:
            lanes_renewed.add(id(self))
        return renewed

    monkeypatch.setattr(AdapterSession, "renew_page_if_worn", watched)
    async with make_demo(faults="latency_ms=20", scenario=tiny_world, with_key_file=True) as demo:
        demo.runtime.politeness = Politeness({p: PortalLimits(pages=2) for p in RETAILERS})
        demo.runtime.page_life = 2
        result = await demo.runtime.run(Job("megamart", "acme-ar", "sync"))

        assert result.status == "succeeded"
        assert len(lanes_renewed) == 2  # the job's own page and the second one
        assert result.counts["documents.new"] > 10
        assert demo.world.world.record.most_in_flight["megamart"] >= 2  # two pages at work
        assert _password_logins(demo, "megamart", "acme-ar") == 1
        served = [e.ref for e in demo.world.world.record.downloads]
        assert len(served) == len(set(served)), "a document was downloaded twice"
