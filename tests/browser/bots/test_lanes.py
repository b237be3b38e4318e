"""A sync's document pass works several pages of the account's one login at
once (``pages_per_session``): every document still arrives once, from one
login, and an expired session is signed in again once for all the pages."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest

from bots.jobs import Job
from bots.politeness import Politeness, PortalLimits
from fixtures.scenario import Scenario
from fleet.demo import FleetDemo

pytestmark = pytest.mark.browser

RETAILERS = ("megamart", "shopright", "freshco")


@contextlib.asynccontextmanager
async def _fleet(make_demo, world: Scenario, faults: str, pages: int) -> AsyncIterator[FleetDemo]:  # type: ignore[no-untyped-def]
    """The fleet on ``world``, every retailer's jobs working ``pages`` pages."""
    async with make_demo(faults=faults, scenario=world, with_key_file=True) as demo:
        demo.runtime.politeness = Politeness({p: PortalLimits(pages=pages) for p in RETAILERS})
        yield demo


def _not_retrieved(demo, accounts: set[tuple[str, str]]) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    """The truth's documents of these accounts' claims that are not in the
    vault with the world's bytes and links (the ones not imaged yet aside)."""
    ids = {
        f"{d.portal}:{d.deduction_id}"
        for d in demo.scenario.deductions
        if (d.portal, d.account) in accounts
    }
    return [
        m
        for kind in demo.audit().as_dict()["documents"].values()
        for m in kind["missing_detail"]
        if m["reason"] != "not yet available" and m["ref"].rsplit("/", 1)[0] in ids
    ]


def _password_logins(demo, portal: str, account: str) -> int:  # type: ignore[no-untyped-def]
    return sum(
        e.portal == portal and e.username == account and e.step == "password" and e.ok
        for e in demo.world.world.record.logins
    )


async def test_two_pages_of_one_login_fetch_every_document_once(make_demo, tiny_world) -> None:  # type: ignore[no-untyped-def]
    async with _fleet(make_demo, tiny_world, "latency_ms=60", pages=2) as demo:
        accounts = [a for a in tiny_world.accounts if a.portal in RETAILERS]
        results = [await demo.runtime.run(Job(a.portal, a.username, "sync")) for a in accounts]

        assert [(r.job.portal, r.status) for r in results if r.status != "succeeded"] == []
        assert _not_retrieved(demo, {(a.portal, a.username) for a in accounts}) == []
        report = demo.audit()
        assert all(k.wrongly_linked == 0 for k in report.kinds.values())
        assert report.duplicates == 0
        record = demo.world.world.record
        served = [(e.portal, e.ref) for e in record.downloads]
        assert len(served) == len(set(served)) > 0, "a document was downloaded twice"
        for a in accounts:  # the pages shared the account's one login
            assert _password_logins(demo, a.portal, a.username) == 1, a
        # and really worked side by side: the portal answered two at once
        assert record.most_in_flight["megamart"] >= 2
        assert record.most_in_flight["shopright"] >= 2


async def test_one_page_keeps_to_one_request_at_a_time(make_demo, tiny_world) -> None:  # type: ignore[no-untyped-def]
    async with _fleet(make_demo, tiny_world, "megamart:latency_ms=60", pages=1) as demo:
        result = await demo.runtime.run(Job("megamart", "acme-ar", "sync"))
        assert result.status == "succeeded"
        assert result.counts["documents.new"] > 10
        assert demo.world.world.record.most_in_flight["megamart"] == 1


async def test_an_expired_session_is_signed_in_once_for_every_page(make_demo, tiny_world) -> None:  # type: ignore[no-untyped-def]
    faults = "megamart:latency_ms=60,expire_every=12"
    async with _fleet(make_demo, tiny_world, faults, pages=3) as demo:
        result = await demo.runtime.run(Job("megamart", "acme-ar", "sync"))

        assert result.status == "succeeded", result
        record = demo.world.world.record
        expired = record.faults[("megamart", "session_expired")]
        assert expired >= 3, "the session expired too seldom to meet the pages at work"
        # one sign-in per expiry at most, not one per page that met it (a
        # page that signs in after another did spends requests, and a second
        # password + TOTP at once is how portals lock accounts)
        assert 0 < result.counts["relogins"] <= expired, (result.counts, expired)
        logins = _password_logins(demo, "megamart", "acme-ar")
        assert 1 < logins <= expired + 1, (logins, expired)
        assert _not_retrieved(demo, {("megamart", "acme-ar")}) == []
