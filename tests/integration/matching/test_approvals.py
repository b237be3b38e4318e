"""The approval chain, segregation of duties, delegation, reminders, comments,
the audit chain's tamper detection and exports that never repeat."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from matching import approvals
from matching.approvals import ApprovalError
from matching.reports import export_credits, kpis
from store.models import AuditLog, utcnow
from store.repositories import approvals as approvals_repo
from store.repositories import audit, deductions
from tests.integration.store import factories
from tests.integration.store.conftest import Db

TODAY = date(2026, 11, 1)


def _setup(db: Db, amounts: dict[str, str]) -> dict[str, int]:
    ids = {}
    with db.sessions() as s, s.begin():
        for user, role in (
            ("ana", "analyst"),
            ("bob", "analyst"),
            ("mia", "manager"),
            ("max", "manager"),
            ("dora", "director"),
            ("dave", "director"),
        ):
            approvals_repo.ensure_user(s, user, role)
        for ext, amount in amounts.items():
            ids[ext] = deductions.upsert(s, factories.deduction(ext, amount=Decimal(amount))).id
    return ids


def test_chain_by_amount_and_segregation_of_duties(db: Db) -> None:
    ids = _setup(db, {"small": "250.00", "mid": "4000.00", "big": "25000.00"})
    with db.sessions() as s, s.begin():
        small = approvals.propose(s, ids["small"], "accept", "ana")
        assert [st.role for st in approvals_repo.steps(s, small.id)] == ["analyst"]
        with pytest.raises(ApprovalError, match="own proposal"):
            approvals.act(s, small.id, "ana", approve=True)
        assert approvals.act(s, small.id, "bob", approve=True).status == "approved"

        mid = approvals.propose(s, ids["mid"], "dispute", "ana")
        with pytest.raises(ApprovalError, match="may not approve a manager step"):
            approvals.act(s, mid.id, "bob", approve=True)
        assert approvals.act(s, mid.id, "mia", approve=False).status == "rejected"

        big = approvals.propose(
            s, ids["big"], "split", "mia", accept_amount=Decimal("5000.00"), credit_kind="write_off"
        )
        assert [st.role for st in approvals_repo.steps(s, big.id)] == ["manager", "director"]
        with pytest.raises(ApprovalError, match="own proposal"):
            approvals.act(s, big.id, "mia", approve=True)
        with pytest.raises(ApprovalError, match="may not approve a manager step"):
            approvals.act(s, big.id, "bob", approve=True)
        assert approvals.act(s, big.id, "dora", approve=True).status == "pending"
        with pytest.raises(ApprovalError, match="one step"):
            approvals.act(s, big.id, "dora", approve=True)  # a director, but already acted
        assert approvals.act(s, big.id, "dave", approve=True).status == "approved"
        with pytest.raises(ApprovalError, match="already approved"):
            approvals.act(s, big.id, "max", approve=True)
        assert audit.verify(s) is None


def test_delegation_while_away_but_never_for_ones_own_proposal(db: Db) -> None:
    ids = _setup(db, {"a": "4000.00", "b": "4000.00"})
    now = utcnow()
    with db.sessions() as s, s.begin():
        approvals.delegate(
            s, "mia", "bob", now - timedelta(hours=1), now + timedelta(days=7), "mia"
        )
        one = approvals.propose(s, ids["a"], "accept", "ana")
        done = approvals.act(s, one.id, "bob", approve=True)  # bob stands in for mia
        assert done.status == "approved"
        step = approvals_repo.steps(s, one.id)[0]
        assert (step.actor, step.on_behalf_of) == ("bob", "mia")
        own = approvals.propose(s, ids["b"], "accept", "mia")
        with pytest.raises(ApprovalError, match="own proposal"):
            approvals.act(s, own.id, "bob", approve=True)  # mia's proposal, through bob
        later = now + timedelta(days=8)
        with pytest.raises(ApprovalError, match="may not approve"):
            approvals.act(s, own.id, "bob", approve=True, at=later)  # delegation over


def test_a_deactivated_user_approves_nothing_not_even_as_a_delegate(db: Db) -> None:
    ids = _setup(db, {"a": "4000.00"})
    now = utcnow()
    with db.sessions() as s, s.begin():
        approvals.delegate(
            s, "mia", "bob", now - timedelta(hours=1), now + timedelta(days=7), "mia"
        )
        d = approvals.propose(s, ids["a"], "accept", "ana")
        assert [(p.can_act, p.on_behalf_of) for p in approvals.pending(s, "bob")] == [(True, "mia")]
        approvals.deactivate_user(s, "bob", "dora")  # bob left
        assert [p.can_act for p in approvals.pending(s, "bob")] == [False]
        with pytest.raises(ApprovalError, match="bob is not an active user"):
            approvals.act(s, d.id, "bob", approve=True)
        assert approvals.add_user(s, "bob", "analyst", "dora") is False  # bob is back
        assert approvals.act(s, d.id, "bob", approve=True).status == "approved"
        with pytest.raises(ApprovalError, match="role must be one of"):
            approvals.add_user(s, "zed", "superuser", "dora")
        with pytest.raises(ApprovalError, match="username"):
            approvals.add_user(s, "a b", "analyst", "dora")
        rows = s.execute(
            select(AuditLog.actor, AuditLog.before, AuditLog.after).where(AuditLog.action == "user")
        ).all()
        assert [(a, b["active"], c["active"]) for a, b, c in rows] == [
            ("dora", True, False),
            ("dora", False, True),
        ]
        assert audit.verify(s) is None


def test_reminders_and_comments_with_mentions(db: Db) -> None:
    ids = _setup(db, {"a": "4000.00"})
    with db.sessions() as s, s.begin():
        d = approvals.propose(s, ids["a"], "dispute", "ana")
        assert approvals.reminders(s, utcnow()) == []
        later = approvals.reminders(s, utcnow() + timedelta(hours=49))
        assert [(r.decision_id, r.role) for r in later] == [(d.id, "manager")]
        assert approvals.comment(s, ids["a"], "ana", "@mia POD attached, see @max. mail@x") == [
            "max",
            "mia",
        ]


def test_exports_never_repeat_a_credit(db: Db) -> None:
    ids = _setup(db, {"a": "100.00", "b": "200.00", "c": "300.00"})
    with db.sessions() as s, s.begin():
        for ext in ("a", "b"):
            approvals.act(
                s, approvals.propose(s, ids[ext], "accept", "ana").id, "bob", approve=True
            )
        approvals.propose(s, ids["c"], "accept", "ana")  # not approved yet
    with db.sessions() as s, s.begin():
        first = export_credits(s, TODAY - timedelta(days=3650), "ana")
    assert sorted(r["amount"] for r in first) == ["100.00", "200.00"]
    with db.sessions() as s, s.begin():
        assert export_credits(s, TODAY - timedelta(days=3650), "ana") == []
        figures = kpis(s, utcnow().date())
        assert figures["deductions"] == 3
        assert figures["open_amount"] == "300.00"
        assert audit.verify(s) is None
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(first[0]))
    w.writeheader()
    w.writerows(first)
    assert "credit_memo" in buf.getvalue()


def test_audit_verify_finds_an_edited_or_deleted_entry(db: Db) -> None:
    ids = _setup(db, {"a": "100.00"})
    with db.sessions() as s, s.begin():
        for _ in range(3):
            approvals.comment(s, ids["a"], "ana", "note")
        assert audit.verify(s) is None
    trigger_off = {
        "sqlite": ["DROP TRIGGER audit_log_no_update", "DROP TRIGGER audit_log_no_delete"],
        "postgresql": ["ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"],
    }[db.backend]
    with db.engine.begin() as conn:
        for stmt in trigger_off:  # what an attacker with database access would do
            conn.execute(text(stmt))
        conn.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2"))
    with db.sessions() as s:
        assert audit.verify(s) == 2
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'ana' WHERE seq = 2"))
        conn.execute(text("DELETE FROM audit_log WHERE seq = 2"))
    with db.sessions() as s:
        assert audit.verify(s) == 3


def test_approval_limit_refuses_approving_above_it_and_the_next_approver_decides(db: Db) -> None:
    ids = _setup(db, {"mid": "4000.00"})
    with db.sessions() as s, s.begin():
        approvals.set_access(s, "mia", "root", access="approver", approval_limit=Decimal("1000"))
        decision = approvals.propose(s, ids["mid"], "dispute", "ana")  # one manager step
        waiting = {p.decision_id: p for p in approvals.pending(s, "mia")}
        assert waiting[decision.id].can_act is True
        assert "above mia's approval limit of 1000.00" in (waiting[decision.id].over_limit or "")
        with pytest.raises(ApprovalError, match=r"approval limit of 1000\.00"):
            approvals.act(s, decision.id, "mia", approve=True, today=TODAY)
        assert approvals.pending(s, "max")[0].over_limit is None
        assert approvals.act(s, decision.id, "max", approve=True, today=TODAY).status == "approved"
        user = approvals_repo.get_user(s, "mia")
        assert user is not None
        assert user.approval_limit == Decimal("1000.00")
        assert user.access == "approver"
        changes = (
            s.execute(select(AuditLog.after).where(AuditLog.action == "user_access"))
            .scalars()
            .all()
        )
        assert changes == [{"access": "approver", "approval_limit": "1000.00"}]


def test_rejecting_is_not_limited_and_limits_can_be_lifted(db: Db) -> None:
    ids = _setup(db, {"mid": "4000.00"})
    with db.sessions() as s, s.begin():
        approvals.set_access(s, "mia", "root", approval_limit=Decimal("10"))
        decision = approvals.propose(s, ids["mid"], "accept", "ana")
        assert approvals.act(s, decision.id, "mia", approve=False).status == "rejected"
        approvals.set_access(s, "mia", "root", clear_limit=True)
        assert approvals_repo.get_user(s, "mia").approval_limit is None  # type: ignore[union-attr]
        with pytest.raises(ApprovalError, match="access must be one of"):
            approvals.set_access(s, "mia", "root", access="boss")


def test_proposers_and_delegates_are_active_users_and_delegations_end_later(db: Db) -> None:
    ids = _setup(db, {"one": "100.00"})
    now = utcnow()
    with db.sessions() as s, s.begin():
        with pytest.raises(ApprovalError, match="eve is not an active user"):
            approvals.propose(s, ids["one"], "accept", "eve")
        with pytest.raises(ApprovalError, match="zed is not an active user"):
            approvals.delegate(s, "mia", "zed", now, now + timedelta(days=2), "mia")
        with pytest.raises(ApprovalError, match="in the past"):
            approvals.delegate(
                s, "mia", "bob", now - timedelta(days=9), now - timedelta(days=1), "mia"
            )
        approvals.delegate(s, "mia", "bob", now, now + timedelta(days=2), "mia")
