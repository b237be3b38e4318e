"""An approved dispute or split decision becomes exactly one queued dispute."""

from __future__ import annotations

from decimal import Decimal

from dispute_filing.handoff import queue_approved_disputes
from dispute_filing.packets import dispute_key
from matching import approvals
from store.repositories import approvals as approvals_repo
from store.repositories import deductions, disputes
from tests.integration.store import factories
from tests.integration.store.conftest import Db


def test_approved_disputes_are_queued_once(db: Db) -> None:
    with db.sessions() as s, s.begin():
        for user, role in (("ana", "analyst"), ("bob", "analyst")):
            approvals_repo.ensure_user(s, user, role)
        whole = deductions.upsert(s, factories.deduction("D-1", amount=Decimal("300.00"))).id
        part = deductions.upsert(s, factories.deduction("D-2", amount=Decimal("500.00"))).id
        pending = deductions.upsert(s, factories.deduction("D-3", amount=Decimal("200.00"))).id
        accepted = deductions.upsert(s, factories.deduction("D-4", amount=Decimal("100.00"))).id
        d1 = approvals.propose(s, whole, "dispute", "ana")
        d2 = approvals.propose(s, part, "split", "ana", accept_amount=Decimal("120.00"))
        approvals.propose(s, pending, "dispute", "ana")  # not approved yet
        d4 = approvals.propose(s, accepted, "accept", "ana")
        for d in (d1, d2, d4):
            approvals.act(s, d.id, "bob", approve=True)
    with db.sessions() as s, s.begin():
        assert queue_approved_disputes(s) == {"queued": 2, "already": 0, "refused": 0}
    with db.sessions() as s, s.begin():
        assert queue_approved_disputes(s) == {"queued": 0, "already": 2, "refused": 0}
        portal = factories.deduction("D-1").portal
        first = disputes.by_key(s, dispute_key(portal, "D-1"))
        second = disputes.by_key(s, dispute_key(portal, "D-2"))
        assert first is not None
        assert second is not None
        assert (first.status, first.amount) == ("queued", Decimal("300.00"))
        assert second.amount == Decimal("380.00")  # the split's disputed part
        assert disputes.by_key(s, dispute_key(portal, "D-3")) is None
