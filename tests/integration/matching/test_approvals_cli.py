"""The approval workflow as a finance team uses it: ``fleet users``,
``fleet propose|approve|reject|delegate|comment``, ``fleet approvals [remind]``
on a real store (typer's CliRunner against the parametrised database)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

from click.testing import Result
from sqlalchemy import select, update

from store.models import AuditLog, Decision, DeductionComment, utcnow
from store.repositories import approvals as approvals_repo
from store.repositories import audit, deductions
from tests.integration.matching.conftest import Fleet
from tests.integration.store import factories
from tests.integration.store.conftest import Db


def _team(db: Db, fleet: Fleet, claims: dict[str, str]) -> dict[str, int]:
    for user, role in (
        ("ana", "analyst"),
        ("bob", "analyst"),
        ("mia", "manager"),
        ("dora", "director"),
    ):
        r = fleet("users", "add", user, "--role", role, "--name", user.title(), user="root")
        assert r.exit_code == 0, r.output
        assert f"added {user} ({role})" in r.stdout
    ids = {}
    with db.sessions() as s, s.begin():
        for ext, amount in claims.items():
            ids[ext] = deductions.upsert(s, factories.deduction(ext, amount=Decimal(amount))).id
    return ids


def _refused(r: Result, message: str, code: int = 2) -> None:
    assert r.exit_code == code, r.output
    assert message in r.stderr
    assert "Traceback" not in r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)


def test_propose_then_approve_by_a_manager_and_a_director(db: Db, fleet: Fleet) -> None:
    ids = _team(db, fleet, {"CB-1": "25000.00"})
    r = fleet(
        "propose",
        "megamart:CB-1",
        "split",
        "--accept-amount",
        "5000",
        "--credit-kind",
        "write_off",
        "--note",
        "half the cases were short",
        "--json",
        user="ana",
    )
    assert r.exit_code == 0, r.output
    proposed = json.loads(r.stdout)
    assert proposed["deduction"] == "megamart:CB-1"
    assert (proposed["accept"], proposed["dispute"]) == ("5000.00", "20000.00")
    assert proposed["credit_kind"] == "write_off"
    assert proposed["chain"] == "manager -> director"
    decision = str(proposed["decision"])

    r = fleet("approvals", "--json")
    assert r.exit_code == 0, r.output
    [row] = json.loads(r.stdout)
    assert row["decision"] == proposed["decision"]
    assert (row["deduction_id"], row["role"], row["step"], row["steps"]) == (
        ids["CB-1"],
        "manager",
        1,
        2,
    )
    assert (row["claim"], row["accept"], row["dispute"]) == ("25000.00", "5000.00", "20000.00")
    assert row["proposed_by"] == "ana"
    assert 0 <= row["waiting_hours"] < 1

    mine = json.loads(fleet("approvals", "--mine", "--json", user="mia").stdout)
    assert [m["decision"] for m in mine] == [proposed["decision"]]
    assert json.loads(fleet("approvals", "--mine", "--json", user="bob").stdout) == []

    r = fleet("approve", decision, "--note", "POD checked", user="mia")
    assert r.exit_code == 0, r.output
    assert "step 1 (manager) approved by mia" in r.stdout
    assert "now waits for director (step 2 of 2)" in r.stdout
    assert json.loads(fleet("approvals", "--mine", "--json", user="mia").stdout) == []
    [row] = json.loads(fleet("approvals", "--json").stdout)
    assert (row["role"], row["step"]) == ("director", 2)

    r = fleet("approve", decision, user="dora")
    assert r.exit_code == 0, r.output
    assert f"decision {decision} is approved" in r.stdout
    assert json.loads(fleet("approvals", "--json").stdout) == []

    with db.sessions() as s:
        d = s.get(Decision, int(decision))
        assert d is not None
        assert (d.status, d.proposed_by, d.note) == ("approved", "ana", "half the cases were short")
        steps = approvals_repo.steps(s, int(decision))
        assert [(st.actor, st.status, st.note) for st in steps] == [
            ("mia", "approved", "POD checked"),
            ("dora", "approved", ""),
        ]
        assert audit.verify(s) is None


def test_reject_closes_the_decision_and_the_deduction_can_be_proposed_again(
    db: Db, fleet: Fleet
) -> None:
    _team(db, fleet, {"CB-1": "400.00"})
    first = json.loads(fleet("propose", "CB-1", "accept", "--json", user="ana").stdout)
    r = fleet("propose", "CB-1", "dispute", user="ana")
    _refused(r, f"already has a pending decision {first['decision']}")
    r = fleet("reject", str(first["decision"]), "--note", "backup says otherwise", user="bob")
    assert r.exit_code == 0, r.output
    assert "rejected by bob" in r.stdout
    assert f"decision {first['decision']} is rejected" in r.stdout
    r = fleet("propose", "CB-1", "dispute", user="ana")
    assert r.exit_code == 0, r.output
    assert "waits for: analyst" in r.stdout


def test_segregation_of_duties_is_a_clear_refusal(db: Db, fleet: Fleet) -> None:
    _team(db, fleet, {"CB-1": "4000.00", "CB-2": "25000.00"})
    own = json.loads(fleet("propose", "CB-1", "dispute", "--json", user="mia").stdout)
    _refused(
        fleet("approve", str(own["decision"]), user="mia"),
        "error: segregation of duties: no one approves their own proposal",
    )
    _refused(
        fleet("approve", str(own["decision"]), user="bob"),
        "bob may not approve a manager step",
    )
    big = json.loads(fleet("propose", "CB-2", "accept", "--json", user="ana").stdout)
    assert fleet("approve", str(big["decision"]), user="dora").exit_code == 0  # manager step
    _refused(
        fleet("approve", str(big["decision"]), user="dora"),
        "segregation of duties: one person approves one step of a decision",
    )
    _refused(fleet("approve", "999", user="dora"), "no decision 999")
    _refused(fleet("approve", str(own["decision"]), user="mallory"), "mallory is not an active")
    with db.sessions() as s:
        assert s.get(Decision, own["decision"]).status == "pending"  # type: ignore[union-attr]
        assert [st.status for st in approvals_repo.steps(s, big["decision"])] == [
            "approved",
            "pending",
        ]


def test_delegation_lets_a_stand_in_approve_but_not_for_the_delegators_own_proposal(
    db: Db, fleet: Fleet
) -> None:
    _team(db, fleet, {"CB-1": "4000.00", "CB-2": "4000.00"})
    today = date.today()
    r = fleet(
        "delegate",
        "bob",
        "--from",
        (today - timedelta(days=1)).isoformat(),
        "--until",
        (today + timedelta(days=7)).isoformat(),
        user="mia",
    )
    assert r.exit_code == 0, r.output
    assert "bob stands in for mia" in r.stdout
    users = json.loads(fleet("users", "list", "--json").stdout)
    assert [(d["delegator"], d["delegate"], d["active"]) for d in users["delegations"]] == [
        ("mia", "bob", True)
    ]

    one = json.loads(fleet("propose", "CB-1", "dispute", "--json", user="ana").stdout)
    mine = json.loads(fleet("approvals", "--mine", "--json", user="bob").stdout)
    assert [(m["decision"], m["on_behalf_of"]) for m in mine] == [(one["decision"], "mia")]
    r = fleet("approve", str(one["decision"]), user="bob")
    assert r.exit_code == 0, r.output
    assert "approved by bob for mia" in r.stdout

    own = json.loads(fleet("propose", "CB-2", "dispute", "--json", user="mia").stdout)
    assert json.loads(fleet("approvals", "--mine", "--json", user="bob").stdout) == []
    _refused(fleet("approve", str(own["decision"]), user="bob"), "no one approves their own")

    _refused(fleet("delegate", "bob", "--until", "2001-01-01", user="mia"), "in the past")
    _refused(fleet("delegate", "ghost", "--until", "2999-01-01", user="mia"), "ghost is not an")
    _refused(fleet("delegate", "bob", "--until", "next week", user="mia"), "--until: not a date")
    _refused(fleet("delegate", "mia", "--until", "2999-01-01", user="mia"), "two people")

    # A deactivated stand-in can no longer approve, not even as a delegate.
    assert fleet("users", "deactivate", "bob", user="dora").exit_code == 0
    three = json.loads(
        fleet("propose", "CB-1", "accept", "--json", user="ana").stdout
    )  # CB-1's decision was approved: a new one may be proposed
    _refused(fleet("approve", str(three["decision"]), user="bob"), "bob is not an active user")


def test_comment_records_mentions_and_warns_about_unknown_ones(db: Db, fleet: Fleet) -> None:
    ids = _team(db, fleet, {"CB-1": "4000.00"})
    r = fleet(
        "comment", "megamart:CB-1", "@mia POD attached, cc @nobody; mail@x.example", user="ana"
    )
    assert r.exit_code == 0, r.output
    assert "mentioned @mia, @nobody" in r.stdout
    assert "not active users: @nobody" in r.stderr
    with db.sessions() as s:
        [row] = s.execute(select(DeductionComment)).scalars().all()
        assert (row.deduction_id, row.author, row.mentions) == (
            ids["CB-1"],
            "ana",
            ["mia", "nobody"],
        )
    _refused(fleet("comment", "megamart:CB-1", "   ", user="ana"), "an empty comment")


def test_bad_input_is_an_error_not_a_traceback(db: Db, fleet: Fleet) -> None:
    _team(db, fleet, {"CB-1": "4000.00"})
    for bad in ("1,200.00", "abc", "12.345", "1e3", "$100", "NaN"):
        _refused(
            fleet("propose", "CB-1", "split", "--accept-amount", bad, user="ana"),
            "not an amount",
        )
    _refused(
        fleet("propose", "CB-1", "split", "--accept-amount", "4000.00", user="ana"),
        "a split accepts part of 4000.00",
    )
    _refused(fleet("propose", "CB-1", "split", user="ana"), "a split needs the amount accepted")
    _refused(
        fleet("propose", "CB-1", "accept", "--accept-amount", "10", user="ana"),
        "an accepted amount is for a split",
    )
    _refused(fleet("propose", "CB-1", "settle", user="ana"), "accept, dispute, split")
    _refused(
        fleet("propose", "CB-1", "dispute", "--credit-kind", "write_off", user="ana"),
        "a dispute accepts nothing",
    )
    _refused(fleet("propose", "megamart:NOPE", "accept", user="ana"), "no single deduction", 1)
    _refused(fleet("comment", "NOPE", "hello", user="ana"), "no single deduction", 1)
    _refused(fleet("propose", "CB-1", "accept", user="eve"), "eve is not an active user")
    _refused(fleet("users", "add", "zed", "--role", "boss", user="ana"), "--role must be one of")
    _refused(fleet("users", "add", "bad name", "--role", "analyst", user="ana"), "a username is")
    with db.sessions() as s:
        assert s.execute(select(Decision)).first() is None  # nothing half-written


def test_the_acting_user_comes_from_as_then_fleet_user(db: Db, fleet: Fleet) -> None:
    _team(db, fleet, {"CB-1": "400.00"})
    r = fleet("propose", "CB-1", "dispute", "--as", "bob", "--json", user="ana")
    assert r.exit_code == 0, r.output
    with db.sessions() as s:
        assert s.get(Decision, json.loads(r.stdout)["decision"]).proposed_by == "bob"  # type: ignore[union-attr]
        users = [(e.actor, e.after) for e in s.execute(select(AuditLog)).scalars()]
    assert ("root", {"role": "director", "display_name": "Dora", "active": True}) in users


def test_untrusted_portal_text_is_printed_literally(db: Db, fleet: Fleet) -> None:
    _team(db, fleet, {"[red]X-1[/red]": "400.00"})
    r = fleet("propose", "megamart:[red]X-1[/red]", "accept", user="ana")
    assert r.exit_code == 0, r.output
    assert "megamart:[red]X-1[/red]" in r.stdout
    r = fleet("approvals")
    assert "megamart:[red]X-1[/red]" in r.stdout


def test_remind_sends_due_reminders_once(db: Db, fleet: Fleet) -> None:
    _team(db, fleet, {"CB-1": "4000.00", "CB-2": "4000.00"})
    old = json.loads(fleet("propose", "CB-1", "dispute", "--json", user="ana").stdout)
    fleet("propose", "CB-2", "dispute", user="ana")  # fresh: not due
    with db.engine.begin() as conn:  # proposed three days ago
        conn.execute(
            update(Decision)
            .where(Decision.id == old["decision"])
            .values(created_at=utcnow() - timedelta(days=3))
        )
    r = fleet("approvals")
    assert "3d 0h" in r.stdout
    r = fleet("approvals", "remind", FLEET_LOG_JSON_CONSOLE="1")
    assert r.exit_code == 0, r.output
    assert f"reminded managers: decision {old['decision']} (megamart:CB-1), step 1" in r.stdout
    assert "1 reminder(s) sent" in r.stdout
    logged = [json.loads(line) for line in r.stderr.splitlines() if line.startswith("{")]
    [event] = [e for e in logged if e["event"] == "approval.reminder"]
    assert {k: event[k] for k in ("decision", "step", "role", "level")} == {
        "decision": old["decision"],
        "step": 1,
        "role": "manager",
        "level": "info",
    }
    assert event["waiting_hours"] >= 71
    r = fleet("approvals", "remind", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == []  # already reminded: not again before 48 hours
    with db.sessions() as s:
        entries = s.execute(select(AuditLog).where(AuditLog.action == "remind")).scalars().all()
        assert [e.after["decision"] for e in entries if e.after] == [old["decision"]]
