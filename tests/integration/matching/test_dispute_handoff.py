"""From approval to a dispute ready to file: exactly once, under the filing
policy, and never past the portal's window without an approver's override."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from dispute_filing.handoff import NotReleasable, queue_approved_disputes, release
from dispute_filing.packets import dispute_key
from dispute_filing.policy import AutoFileRule, FilingPolicy
from matching import approvals
from store.models import AuditLog, Decision, HealthEvent
from store.repositories import approvals as approvals_repo
from store.repositories import deductions, disputes
from store.repositories import matching as matching_repo
from tests.integration.store import factories
from tests.integration.store.conftest import Db

TODAY = date(2025, 6, 1)
PORTAL = factories.deduction("D-1").portal


def _verdict(s, deduction_id: int, window_closes: date | None) -> None:  # type: ignore[no-untyped-def]
    """A stored verdict whose dispute window closes on ``window_closes``."""
    matching_repo.save_verdicts(
        s,
        [
            matching_repo.VerdictRow(
                deduction_id=deduction_id,
                validity="invalid",
                category="shortage",
                category_source="test",
                rule="test",
                claimed_amount=Decimal("1"),
                current_amount=Decimal("1"),
                valid_amount=Decimal("0.00"),
                disputable_amount=Decimal("1"),
                window_closes=window_closes,
                reasons=[],
                evidence=[],
                missing=[],
                fingerprint=f"fp-{deduction_id}",
            )
        ],
    )


def _claims(db: Db, amounts: dict[str, str], closes: date | None = date(2026, 1, 1)) -> dict:  # type: ignore[type-arg]
    with db.sessions() as s, s.begin():
        for user, role in (("ana", "analyst"), ("bob", "analyst"), ("mia", "manager")):
            approvals_repo.ensure_user(s, user, role)
        ids = {}
        for ref, amount in amounts.items():
            ids[ref] = deductions.upsert(s, factories.deduction(ref, amount=Decimal(amount))).id
            _verdict(s, ids[ref], closes)
        return ids


def _approve(s, deduction_id: int, kind: str = "dispute", **kw) -> None:  # type: ignore[no-untyped-def]
    """Proposed by ana, approved by bob (amounts under 1,000: one analyst step)."""
    d = approvals.propose(s, deduction_id, kind, "ana", **kw)
    assert approvals.act(s, d.id, "bob", approve=True, today=TODAY).status == "approved"


def test_approved_disputes_are_queued_once(db: Db) -> None:
    ids = _claims(db, {"D-1": "300.00", "D-2": "500.00", "D-3": "200.00", "D-4": "100.00"})
    with db.sessions() as s, s.begin():
        _approve(s, ids["D-1"])
        _approve(s, ids["D-2"], "split", accept_amount=Decimal("120.00"))
        approvals.propose(s, ids["D-3"], "dispute", "ana")  # not approved yet
        _approve(s, ids["D-4"], "accept")
    with db.sessions() as s, s.begin():
        counts, handed = queue_approved_disputes(s, FilingPolicy(), TODAY)
        assert counts == {"queued": 2}
        assert [h.external_id for h in handed] == ["D-1", "D-2"]
    with db.sessions() as s, s.begin():
        counts, handed = queue_approved_disputes(s, FilingPolicy(), TODAY)
        assert (counts, handed) == ({"already": 2}, [])
        first = disputes.by_key(s, dispute_key(PORTAL, "D-1"))
        second = disputes.by_key(s, dispute_key(PORTAL, "D-2"))
        assert first is not None
        assert second is not None
        assert (first.status, first.amount) == ("queued", Decimal("300.00"))
        assert second.amount == Decimal("380.00")  # the split's disputed part
        assert disputes.by_key(s, dispute_key(PORTAL, "D-3")) is None


def test_the_policy_decides_what_waits_for_a_person(db: Db) -> None:
    ids = _claims(db, {"D-1": "300.00", "D-2": "900.00"})
    policy = FilingPolicy(
        rules=(AutoFileRule(max_amount=Decimal("500")), AutoFileRule(action="person"))
    )
    with db.sessions() as s, s.begin():
        _approve(s, ids["D-1"])
        _approve(s, ids["D-2"])
        counts, _ = queue_approved_disputes(s, policy, TODAY)
    assert counts == {"queued": 1, "awaiting_person": 1}
    with db.sessions() as s, s.begin():
        waiting = disputes.by_key(s, dispute_key(PORTAL, "D-2"))
        assert waiting is not None
        assert waiting.status == "awaiting_person"
        release(s, waiting, "mia", TODAY)
    with db.sessions() as s:
        released = disputes.by_key(s, dispute_key(PORTAL, "D-2"))
        assert released is not None
        assert released.status == "queued"
        actions = s.scalars(select(AuditLog.action)).all()
        assert "release_dispute" in actions


def test_approving_after_the_window_closed_is_refused_unless_overridden(db: Db) -> None:
    ids = _claims(db, {"D-1": "300.00"}, closes=date(2025, 5, 1))
    with db.sessions() as s, s.begin():
        d = approvals.propose(s, ids["D-1"], "dispute", "ana")
        with pytest.raises(approvals.ApprovalError, match="window closed on 2025-05-01"):
            approvals.act(s, d.id, "bob", approve=True, today=TODAY)
        with pytest.raises(approvals.ApprovalError, match="needs a note"):
            approvals.act(s, d.id, "bob", approve=True, today=TODAY, override_window=True)
        approvals.act(
            s,
            d.id,
            "bob",
            approve=True,
            today=TODAY,
            override_window=True,
            note="the retailer agreed by phone to take it late",
        )
        assert d.window_override_by == "bob"
        assert "window_override" in s.scalars(select(AuditLog.action)).all()
        counts, _ = queue_approved_disputes(s, FilingPolicy(), TODAY)
    assert counts == {"queued": 1}  # the override carries to filing


def test_a_window_that_closed_after_approval_is_refused_at_hand_over(db: Db) -> None:
    ids = _claims(db, {"D-1": "300.00"}, closes=date(2025, 7, 1))
    with db.sessions() as s, s.begin():
        _approve(s, ids["D-1"])
        counts, handed = queue_approved_disputes(s, FilingPolicy(), date(2025, 7, 2))
        assert counts == {"window_closed": 1}
        assert handed[0].status == "window_closed"
        event = s.scalars(
            select(HealthEvent).where(HealthEvent.kind == "dispute_window_closed")
        ).one()
        assert event.detail["deduction"] == "D-1"
        stored = disputes.by_key(s, dispute_key(PORTAL, "D-1"))
        assert stored is not None
        with pytest.raises(NotReleasable, match="window closed"):
            release(s, stored, "mia", date(2025, 7, 2))
        release(s, stored, "mia", date(2025, 7, 2), override_window=True)
    with db.sessions() as s:
        released = disputes.by_key(s, dispute_key(PORTAL, "D-1"))
        assert released is not None
        assert released.status == "queued"
        decision = s.scalars(select(Decision).where(Decision.deduction_id == ids["D-1"])).one()
        assert decision.window_override_by == "mia"  # file_dispute honours it
