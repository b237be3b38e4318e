"""Disputes through the fleet: queued once, filed once on the portal (even when
the answer of a filing is lost), status read back as the portal moves it, and
a portal's refusal recorded as such."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bots.jobs import Job
from dispute_filing.habits import habits
from dispute_filing.packets import dispute_key, queue_dispute
from records.normalize import portal_rules
from store.models import Dispute, HealthEvent
from store.repositories import disputes as disputes_repo

pytestmark = [pytest.mark.browser, pytest.mark.slow]

STATUS = {
    "research": "research",
    "supplier_action": "supplier_action",
    "approved": "approved",
    "partially_approved": "partially_approved",
    "denied": "denied",
    "expired": "expired",
}


def _pick(demo, portal: str, *, window_open: bool = True):  # type: ignore[no-untyped-def]
    """A claim filed on the portal's form (not one the retailer takes by e-mail)."""
    world = demo.world.world
    rules, by_email = portal_rules(portal), habits(portal).email
    for a in demo.scenario.accounts_on(portal):
        for d in world.visible_deductions(portal, a.username):
            if str(rules.category(d.reason_code, d.reason_text)) in by_email:
                continue
            truth = demo.scenario.truth.deductions[d.key]
            closes = world.window_closes(d)
            if closes is None:
                continue
            if truth.validity.value == "valid" or truth.dispute is None:
                continue
            if not any(doc.form.value == "pdf" for doc in world.available_documents(d)):
                continue  # a dispute goes with evidence
            if (closes >= world.clock.today()) == window_open:
                return d
    raise AssertionError(f"no suitable deduction on {portal}")


@pytest.mark.parametrize("portal", ["megamart", "shopright"])
async def test_a_dispute_is_filed_once_and_its_status_followed(make_demo, portal: str) -> None:  # type: ignore[no-untyped-def]
    async with make_demo(synced=True) as demo:  # every retailer synced by the fleet
        account = demo.scenario.accounts_on(portal)[0].username
        d = _pick(demo, portal, window_open=True)
        with demo.runtime.db() as s, s.begin():
            queue_dispute(s, portal, d.deduction_id)
            queue_dispute(s, portal, d.deduction_id)  # queuing twice is one dispute
        job = Job(portal, account, "file_dispute")
        (first,) = await demo.run_jobs([job])
        assert first.status == "succeeded", first
        assert first.counts["disputes.filed"] == 1
        world = demo.world.world
        on_portal = world.dispute_for(portal, d.deduction_id)
        assert on_portal is not None
        assert on_portal.attachments, "the evidence went with it"
        with demo.runtime.db() as s:
            stored = disputes_repo.by_key(s, dispute_key(portal, d.deduction_id))
            assert stored is not None
            assert stored.dispute_number == on_portal.number
        # the answer of a filing lost in a crash: the row says "filing", no number
        with demo.runtime.db() as s, s.begin():
            row = s.scalar(select(Dispute).where(Dispute.id == stored.id))
            row.status, row.dispute_number = "filing", None
        (again,) = await demo.run_jobs([job])
        assert again.counts["disputes.already_filed"] == 1
        assert len([x for x in world.disputes.values() if x.deduction_id == d.deduction_id]) == 1
        script = demo.scenario.truth.deductions[d.key].dispute
        demo.world.advance_clock(days=script.days_to_outcome + 1)
        (status,) = await demo.run_jobs([Job(portal, account, "dispute_status")])
        assert status.counts["disputes.status_changed"] == 1
        with demo.runtime.db() as s:
            final = disputes_repo.by_key(s, dispute_key(portal, d.deduction_id))
            assert final is not None
            assert final.status == STATUS[on_portal.status_at(world.clock.now()).value]
            assert final.dispute_number == on_portal.number


async def test_a_refused_dispute_is_recorded_not_retried(make_demo) -> None:  # type: ignore[no-untyped-def]
    # a store with claims but no verdicts yet, so that the portal, not the fleet's
    # own window check, is the one to refuse
    async with make_demo() as demo:
        await demo.run_jobs([Job("megamart", "acme-ar", "sync")])
        world = demo.world.world
        d = _pick(demo, "megamart", window_open=True)
        with demo.runtime.db() as s, s.begin():
            queue_dispute(s, "megamart", d.deduction_id)
        closes = world.window_closes(d)
        demo.world.advance_clock(days=(closes - world.clock.today()).days + 1)  # window shuts
        (result,) = await demo.run_jobs([Job("megamart", "acme-ar", "file_dispute")])
        assert result.counts["disputes.rejected"] == 1
        assert demo.world.world.dispute_for("megamart", d.deduction_id) is None
        with demo.runtime.db() as s:
            stored = disputes_repo.by_key(s, dispute_key("megamart", d.deduction_id))
            assert stored is not None
            assert stored.status == "rejected"
            event = s.scalar(select(HealthEvent).where(HealthEvent.kind == "dispute_rejected"))
            assert event is not None
            assert "window" in event.detail["portal_says"]
        (second,) = await demo.run_jobs([Job("megamart", "acme-ar", "file_dispute")])
        assert second.counts.get("disputes.rejected", 0) == 0  # not filed again
