"""Tamper-evident means tail-evident: the audit log's head (count and hash of
the last entry) is anchored in ``audit_head``, a row apart from the log that
only ever moves forward, so deleting the newest entries
(after dropping the log's append-only triggers, as an attacker with database
access would) fails ``fleet audit verify``; before the anchor it passed."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from matching import approvals
from store.repositories import audit
from tests.integration.matching.conftest import Fleet
from tests.integration.store.conftest import Db

_LOG_TRIGGERS_OFF = {
    "sqlite": ["DROP TRIGGER audit_log_no_update", "DROP TRIGGER audit_log_no_delete"],
    "postgresql": ["ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"],
}


def _entries(db: Db, n: int) -> None:
    from tests.integration.matching.test_approvals import _setup

    ids = _setup(db, {"a": "100.00"})
    with db.sessions() as s, s.begin():
        for i in range(n):
            approvals.comment(s, ids["a"], "ana", f"note {i}")


def test_deleting_the_newest_entries_fails_verify(db: Db, fleet: Fleet) -> None:
    _entries(db, 4)
    ok = fleet("audit", "verify")
    assert ok.exit_code == 0, ok.output
    assert "intact" in ok.output
    with db.engine.begin() as conn:
        for stmt in _LOG_TRIGGERS_OFF[db.backend]:
            conn.execute(text(stmt))
        last = conn.execute(text("SELECT max(seq) FROM audit_log")).scalar_one()
        conn.execute(text("DELETE FROM audit_log WHERE seq >= :s"), {"s": last - 1})
    broken = fleet("audit", "verify")
    assert broken.exit_code == 1
    assert "deleted from its end" in broken.output
    with db.sessions() as s:
        assert audit.verify(s) == last - 1


def test_the_anchor_itself_only_moves_forward(db: Db) -> None:
    _entries(db, 2)
    with db.engine.connect() as conn:
        for stmt in (
            "UPDATE audit_head SET count = count - 1",
            "DELETE FROM audit_head",
            "UPDATE audit_head SET head_hash = 'forged'",
        ):
            with pytest.raises(DBAPIError, match="audit_head only moves forward"), conn.begin():
                conn.execute(text(stmt))
