"""Deduction upserts: created, unchanged, changed-with-history, batches, races."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from records.schemas import DeductionLineRecord
from store.db import transaction
from store.models import Deduction, DeductionHistory, DeductionLine, Quarantine
from store.repositories import deductions, quarantine

from .conftest import Db
from .factories import deduction


def _count(db: Db, model: type) -> int:
    with transaction(db.sessions, write=False) as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


def test_first_upsert_creates_the_deduction_with_its_lines(db: Db) -> None:
    with transaction(db.sessions) as s:
        result = deductions.upsert(s, deduction(), run_id="run-1")
    assert result.outcome == "created"
    with transaction(db.sessions, write=False) as s:
        row = deductions.get(s, "megamart", "CB-1001")
        assert row is not None
        assert row.amount == Decimal("1234.56")
        assert row.category == "shortage"
        assert [(x.sku, x.amount) for x in row.lines] == [("SKU-1", Decimal("30.00"))]
        assert row.raw == {"Claim #": "CB-1001", "Amount": "$1,234.56"}
        assert row.first_seen_at.tzinfo is UTC
        assert row.last_run_id == "run-1"


def test_same_record_again_is_unchanged_and_writes_no_history(db: Db) -> None:
    with transaction(db.sessions) as s:
        first = deductions.upsert(s, deduction())
    with transaction(db.sessions) as s:
        again = deductions.upsert(s, deduction(), run_id="run-2")
    assert again.outcome == "unchanged"
    assert again.id == first.id
    assert again.changes == ()
    assert _count(db, Deduction) == 1
    assert _count(db, DeductionHistory) == 0
    with transaction(db.sessions, write=False) as s:
        row = deductions.get(s, "megamart", "CB-1001")
        assert row is not None
        assert row.last_run_id == "run-2"
        assert row.last_seen_at >= row.first_seen_at


def test_changed_amount_and_status_are_kept_in_history(db: Db) -> None:
    with transaction(db.sessions) as s:
        deductions.upsert(s, deduction())
    with transaction(db.sessions) as s:
        result = deductions.upsert(
            s, deduction(amount=Decimal("1000.00"), status="Denied"), run_id="run-2"
        )
    assert result.outcome == "changed"
    assert {c.field for c in result.changes} == {"amount", "status"}
    with transaction(db.sessions, write=False) as s:
        row = deductions.get(s, "megamart", "CB-1001")
        assert row is not None
        assert (row.amount, row.status) == (Decimal("1000.00"), "Denied")
        hist = {
            (h.field, h.old_value, h.new_value, h.run_id) for h in deductions.history(s, row.id)
        }
    assert hist == {
        ("amount", "1234.56", "1000.00", "run-2"),
        ("status", "Open", "Denied", "run-2"),
    }


def test_changed_lines_and_raw_are_replaced_and_recorded(db: Db) -> None:
    with transaction(db.sessions) as s:
        deductions.upsert(s, deduction())
    new_lines = [
        DeductionLineRecord(sku="SKU-1", quantity=2, amount=Decimal("20.00")),
        DeductionLineRecord(sku="SKU-2", quantity=1, amount=Decimal("5.00")),
    ]
    with transaction(db.sessions) as s:
        result = deductions.upsert(s, deduction(lines=new_lines, raw={"v": 2}))
    assert {c.field for c in result.changes} == {"lines", "raw"}
    with transaction(db.sessions, write=False) as s:
        row = deductions.get(s, "megamart", "CB-1001")
        assert row is not None
        assert [x.sku for x in row.lines] == ["SKU-1", "SKU-2"]
        assert row.raw == {"v": 2}
    assert _count(db, DeductionLine) == 2


def test_money_survives_the_round_trip_exactly(db: Db) -> None:
    big = Decimal("999999999999.99")
    with transaction(db.sessions) as s:
        deductions.upsert(s, deduction("BIG", amount=big))
        deductions.upsert(s, deduction("CENT", amount=Decimal("0.01")))
        deductions.upsert(s, deduction("NEG", amount=Decimal("-10.10")))
    with transaction(db.sessions) as s:
        again = deductions.upsert(s, deduction("BIG", amount=big))
    assert again.outcome == "unchanged"
    with transaction(db.sessions, write=False) as s:
        got = {r.external_id: r.amount for r in s.execute(select(Deduction)).scalars()}
    assert got == {"BIG": big, "CENT": Decimal("0.01"), "NEG": Decimal("-10.10")}


def test_batched_upsert_reports_like_single_upserts(db: Db) -> None:
    with transaction(db.sessions) as s:
        deductions.upsert(s, deduction("A"))
        deductions.upsert(s, deduction("B"))
    batch = [
        deduction("A"),  # unchanged
        deduction("B", status="Closed"),  # changed
        deduction("C"),  # new
        deduction("C", amount=Decimal("1.00")),  # same key again, later in the batch
        deduction("D", portal="shopright", account=None),  # new, another portal
    ]
    with transaction(db.sessions) as s:
        results = deductions.upsert_many(s, batch, run_id="run-9")
    assert [r.outcome for r in results] == [
        "unchanged",
        "changed",
        "created",
        "changed",
        "created",
    ]
    assert results[2].id == results[3].id
    assert _count(db, Deduction) == 4
    with transaction(db.sessions) as s:
        again = deductions.upsert_many(s, batch[:3] + batch[4:])
    assert [r.outcome for r in again] == ["unchanged", "unchanged", "changed", "unchanged"]


def _race(db: Db, work: Callable[[int], object], writers: int) -> list[object]:
    barrier = threading.Barrier(writers)
    results: list[object] = [None] * writers
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except BaseException as exc:  # collected and re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    if errors:
        raise errors[0]
    return results


@pytest.mark.parametrize("rounds", [10])
def test_concurrent_upserts_of_one_record_leave_one_row(db: Db, rounds: int) -> None:
    for n in range(rounds):
        record = deduction(f"RACE-{n}")

        def work(_: int, record=record) -> str:  # type: ignore[no-untyped-def]
            with transaction(db.sessions) as s:
                return deductions.upsert(s, record).outcome

        outcomes = _race(db, work, writers=4)
        assert sorted(outcomes) == ["created", "unchanged", "unchanged", "unchanged"]
    assert _count(db, Deduction) == rounds
    assert _count(db, DeductionLine) == rounds


def test_concurrent_batches_of_the_same_records_leave_one_row_each(db: Db) -> None:
    records = [deduction(f"B-{i:04d}") for i in range(300)]

    def work(_: int) -> list[str]:
        with transaction(db.sessions) as s:
            return [r.outcome for r in deductions.upsert_many(s, records)]

    outcomes = _race(db, work, writers=3)
    assert _count(db, Deduction) == 300
    created = sum(o.count("created") for o in outcomes)  # type: ignore[union-attr]
    assert created == 300


def test_quarantine_keeps_the_raw_payload(db: Db) -> None:
    raw = {
        "Claim #": "CB-\u0000-9",
        "Amount": "1.234,56 €",
        "nested": {"lines": [{"qty": "3"}]},
        "html": "<script>alert(1)</script>",
        "exact": Decimal("0.10"),
    }
    with transaction(db.sessions) as s:
        qid = quarantine(
            s,
            "megamart",
            "deduction",
            raw,
            "amount: not a number",
            external_id="CB-9",
            run_id="run-3",
        )
    with transaction(db.sessions, write=False) as s:
        row = s.get(Quarantine, qid)
        assert row is not None
        assert row.raw_payload == {**raw, "exact": "0.10"}
        assert (row.portal, row.record_kind, row.external_id, row.reason) == (
            "megamart",
            "deduction",
            "CB-9",
            "amount: not a number",
        )
        assert row.at.tzinfo is UTC
