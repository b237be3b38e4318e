"""A matching run on the store (SQLite and PostgreSQL): verdicts persisted,
re-runs incremental, missing evidence queued for retrieval, every change audited."""

from __future__ import annotations

from sqlalchemy import func, select

from fixtures.generator import generate
from matching.service import run_matching
from store.models import AuditLog, RetrievalRequest, Verdict
from store.repositories import audit
from store.repositories import matching as matching_repo
from tests.integration.matching.loader import load_scenario
from tests.integration.store.conftest import Db


def test_run_persists_audits_and_is_incremental(db: Db) -> None:
    sc = generate(11, "small")
    load_scenario(db.sessions, sc, evidence="as_of")
    first = run_matching(db.sessions, sc.as_of)
    assert first.created == first.total > 100
    assert first.by_validity["needs_review"] > 0
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Verdict)) == first.total
        assert s.scalar(select(func.count()).select_from(AuditLog)) == first.total
        queued = s.execute(select(RetrievalRequest.target_kind, RetrievalRequest.portal)).all()
        assert queued
        assert {k for k, _ in queued} <= {"pod", "deduction", "bol"}
        assert audit.verify(s) is None

    again = run_matching(db.sessions, sc.as_of)
    assert (again.created, again.changed, again.unchanged) == (0, 0, first.total)
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(AuditLog)) == first.total

    # The robots fetch the rest: only the verdicts whose evidence arrived change.
    load_scenario(db.sessions, sc, evidence="complete")
    third = run_matching(db.sessions, sc.as_of)
    assert 0 < third.changed < first.total
    assert third.by_validity["needs_review"] < first.by_validity["needs_review"]
    with db.sessions() as s:
        assert audit.verify(s) is None


def test_analyst_correction_applies_to_later_runs(db: Db) -> None:
    sc = generate(11, "small")
    load_scenario(db.sessions, sc, evidence="complete")
    run_matching(db.sessions, sc.as_of)
    ded = next(d for d in sc.deductions if d.portal == "megamart" and d.reason_code == "24")
    with db.sessions() as s, s.begin():
        matching_repo.set_category_override(s, "megamart", "24", "damage", "analyst:ana")
    run_matching(db.sessions, sc.as_of)
    with db.sessions() as s:
        row = matching_repo.find_deduction(s, f"megamart:{ded.deduction_id}")
        assert row is not None
        v = matching_repo.get_verdict(s, row.id)
        assert v is not None
        assert (v.category, v.category_source) == ("damage", "analyst")
