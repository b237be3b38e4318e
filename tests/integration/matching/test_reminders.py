"""Approval reminders that fire: a waiting step is reminded once, again only
after ``reminder_after_hours``, never once decided; each reminder is audited and
logged as ``approval.reminder`` without free text."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session
from structlog.testing import capture_logs

from matching import approvals
from matching.config import load_config
from scheduler.housekeeping import tidy
from store.models import AuditLog, DecisionStep, utcnow
from store.repositories import approvals as approvals_repo
from store.repositories import audit, deductions
from tests.integration.store import factories
from tests.integration.store.conftest import Db

H = timedelta(hours=1)


def _setup(db: Db, amounts: dict[str, str]) -> dict[str, int]:
    ids = {}
    with db.sessions() as s, s.begin():
        for user, role in (("ana", "analyst"), ("mia", "manager"), ("dora", "director")):
            approvals_repo.ensure_user(s, user, role)
        for ext, amount in amounts.items():
            ids[ext] = deductions.upsert(s, factories.deduction(ext, amount=Decimal(amount))).id
    return ids


def _reminds(s: Session) -> list[AuditLog]:
    return list(
        s.execute(
            select(AuditLog).where(AuditLog.action == "remind").order_by(AuditLog.seq)
        ).scalars()
    )


def _send(db: Db, now: datetime, **cfg: int) -> list[tuple[int, int, str]]:
    config = replace(load_config(), **cfg) if cfg else None
    with db.sessions() as s, s.begin():
        sent = approvals.send_reminders(s, now, config)
    return [(r.decision_id, r.level, r.role) for r in sent]


def test_a_waiting_step_is_reminded_once_then_only_after_the_interval(db: Db) -> None:
    ids = _setup(db, {"a": "4000.00"})
    with db.sessions() as s, s.begin():
        proposal = approvals.propose(s, ids["a"], "dispute", "ana")
        d, t0 = proposal.id, proposal.created_at
    assert _send(db, t0 + H) == []  # not waited long enough

    first = t0 + 49 * H
    with capture_logs() as events:
        assert _send(db, first) == [(d, 1, "manager")]
    [event] = [e for e in events if e["event"] == "approval.reminder"]
    assert event == {
        "event": "approval.reminder",
        "log_level": "info",
        "deduction": ids["a"],
        "decision": d,
        "step": 1,
        "role": "manager",
        "waiting_hours": 49,
    }
    assert _send(db, first) == []  # the same instant: nothing twice
    assert _send(db, first + 47 * H) == []  # reminded 47 hours ago: not yet
    assert _send(db, first + 48 * H) == [(d, 1, "manager")]  # the interval has passed
    assert _send(db, first + 48 * H) == []

    with db.sessions() as s:
        step = approvals_repo.steps(s, d)[0]
        assert step.reminded_at == first + 48 * H
        entries = _reminds(s)
        assert [(e.actor, e.entity) for e in entries] == [
            (approvals.REMINDER_ACTOR, f"deduction:{ids['a']}"),
        ] * 2
        assert entries[0].after is not None
        assert (entries[0].after["decision"], entries[0].after["role"]) == (d, "manager")
        assert entries[0].after["waiting_hours"] == 49
        assert entries[0].after["previous_reminder"] is None
        assert entries[1].after is not None
        assert entries[1].after["previous_reminder"] == first.isoformat()
        assert audit.verify(s) is None


def test_the_interval_comes_from_the_rules(db: Db) -> None:
    ids = _setup(db, {"a": "4000.00"})
    t0 = utcnow()
    with db.sessions() as s, s.begin():
        d = approvals.propose(s, ids["a"], "dispute", "ana").id
    assert _send(db, t0 + 3 * H, reminder_after_hours=2) == [(d, 1, "manager")]
    assert _send(db, t0 + 4 * H, reminder_after_hours=2) == []
    assert _send(db, t0 + 5 * H, reminder_after_hours=2) == [(d, 1, "manager")]


def test_decided_steps_and_closed_decisions_are_not_reminded(db: Db) -> None:
    ids = _setup(db, {"big": "25000.00", "rejected": "4000.00"})
    t0 = utcnow()
    with db.sessions() as s, s.begin():
        big = approvals.propose(s, ids["big"], "split", "ana", accept_amount=Decimal("100.00")).id
        gone = approvals.propose(s, ids["rejected"], "dispute", "ana").id
        approvals.act(s, gone, "mia", approve=False)
    assert _send(db, t0 + 49 * H) == [(big, 1, "manager")]  # not the rejected one

    with db.sessions() as s, s.begin():
        approvals.act(s, big, "mia", approve=True)  # the manager step is decided now
    # The director step waits from the manager's approval (just now); the
    # decided manager step is never reminded again.
    assert _send(db, utcnow() + 47 * H) == []
    assert _send(db, utcnow() + 49 * H) == [(big, 2, "director")]

    with db.sessions() as s, s.begin():
        assert approvals.act(s, big, "dora", approve=True).status == "approved"
    assert _send(db, utcnow() + 500 * H) == []
    with db.sessions() as s:
        reminded = {
            (st.level, st.reminded_at is not None)
            for st in s.execute(select(DecisionStep).where(DecisionStep.decision_id == big))
            .scalars()
            .all()
        }
        assert reminded == {(1, True), (2, True)}
        assert [e.after["step"] for e in _reminds(s) if e.after] == [1, 2]


def test_the_scheduler_housekeeping_sends_them_with_the_default_rules(db: Db) -> None:
    """What the active scheduler runs every housekeeping_seconds."""
    ids = _setup(db, {"a": "4000.00"})
    t0 = utcnow()
    with db.sessions() as s, s.begin():
        approvals.propose(s, ids["a"], "dispute", "ana")
    hours = load_config().reminder_after_hours
    stale = timedelta(minutes=10)
    assert tidy(db.sessions, stale, now=t0 + (hours - 1) * H).reminders == 0
    assert tidy(db.sessions, stale, now=t0 + (hours + 1) * H).reminders == 1
    assert tidy(db.sessions, stale, now=t0 + (hours + 1) * H).reminders == 0
    with db.sessions() as s:
        assert len(_reminds(s)) == 1


def test_reminders_grow_louder_as_the_dispute_window_nears(db: Db) -> None:
    """Far from the deadline: every reminder_after_hours, to the step's role.
    Within escalate_within_days: daily, and the next role up hears of it. Within
    urgent_within_days: every four hours, and every role above."""
    from store.models import Verdict

    ids = _setup(db, {"far": "4000.00", "near": "4000.00", "urgent": "4000.00"})
    with db.sessions() as s, s.begin():
        made = {ext: approvals.propose(s, ids[ext], "dispute", "ana") for ext in ids}
        t0 = max(d.created_at for d in made.values())
        for ext, days in (("far", 30), ("near", 5), ("urgent", 2)):
            s.add(
                Verdict(
                    deduction_id=ids[ext], validity="invalid", category="pricing",
                    claimed_amount=Decimal("4000.00"), current_amount=Decimal("4000.00"),
                    window_closes=(t0 + timedelta(days=days)).date(), fingerprint=ext,
                )
            )  # fmt: skip
    decision = {ext: d.id for ext, d in made.items()}
    closes = {ext: (t0 + timedelta(days=days)).date() for ext, days in
              (("far", 30), ("near", 5), ("urgent", 2))}  # fmt: skip

    def left(ext: str, at: datetime) -> int:
        return (closes[ext] - at.date()).days

    with capture_logs() as events:
        first = _send(db, t0 + 5 * H)  # too early for any but the urgent one
    assert first == [(decision["urgent"], 1, "manager")]
    [event] = [e for e in events if e["event"] == "approval.reminder"]
    assert event["escalated_to"] == ["director"]
    assert event["days_left"] == left("urgent", t0 + 5 * H)
    assert _send(db, t0 + 8 * H) == []  # reminded 3 h ago
    assert _send(db, t0 + 9 * H) == [(decision["urgent"], 1, "manager")]  # 4 h later
    assert sorted(_send(db, t0 + 25 * H)) == sorted(
        [(decision["near"], 1, "manager"), (decision["urgent"], 1, "manager")]
    )  # near: a day's wait within 7 days of its deadline
    with db.sessions() as s:
        near = [e.after for e in _reminds(s) if (e.after or {}).get("decision") == decision["near"]]
    assert near[-1]["escalated_to"] == ["director"]
    assert near[-1]["days_left"] == left("near", t0 + 25 * H)
    far_and_urgent = _send(db, t0 + 48 * H)  # far: its 48 hours; urgent: 4 h since its last
    assert sorted(far_and_urgent) == sorted(
        [(decision["far"], 1, "manager"), (decision["urgent"], 1, "manager")]
    )
    with db.sessions() as s:
        far = [e.after for e in _reminds(s) if (e.after or {}).get("decision") == decision["far"]]
    assert "escalated_to" not in far[-1], "a month from its deadline: not escalated"
    assert _send(db, t0 + 49 * H) == [(decision["near"], 1, "manager")]  # a day since its last
