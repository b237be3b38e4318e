"""The KPI trend: each business day's headline is kept once a day (refreshed at
most hourly), and ``fleet kpis --history`` prints every kept day, in text and
JSON, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from bots.context import CoreContext, Services
from bots.jobs import Job
from bots.retry import RetryPolicy
from bots.tasks.core import match
from dispute_filing.policy import FilingPolicy
from matching.kpi_history import REFRESH, history, record_day
from records.schemas import DisputeRecord
from store.repositories import deductions, disputes
from store.vault import DocumentVault
from tests.integration.matching.conftest import Fleet
from tests.integration.store import factories
from tests.integration.store.conftest import Db

DAY1, DAY2 = date(2025, 3, 19), date(2025, 3, 20)
NOON = datetime(2025, 3, 20, 12, tzinfo=UTC)


def test_two_days_are_kept_and_fleet_kpis_history_prints_them(db: Db, fleet: Fleet) -> None:
    with db.sessions() as s, s.begin():
        deductions.upsert(
            s, factories.deduction("KH-1", amount=Decimal("900.00"), deduction_date=DAY1)
        )
        assert record_day(s, DAY1, NOON - timedelta(days=1))
    with db.sessions() as s, s.begin():
        deductions.upsert(
            s, factories.deduction("KH-2", amount=Decimal("100.00"), deduction_date=DAY2)
        )
        disputes.upsert(
            s,
            DisputeRecord(
                portal="megamart", deduction_external_id="KH-1", idempotency_key="kpi-history-1",
                dispute_number="D-KH-1", status="approved", amount=Decimal("900.00"),
                recovered_amount=Decimal("900.00"),
            ),
        )  # fmt: skip
        assert record_day(s, DAY2, NOON)
        assert not record_day(s, DAY2, NOON + REFRESH / 2), "at most once an hour"
    with db.sessions() as s:
        kept = history(s)
    assert [d.business_day for d in kept] == [DAY1, DAY2]
    assert kept[0].open_amount == Decimal("900.00")
    assert kept[0].amount_recovered == Decimal("0.00")
    assert kept[1].open_amount == Decimal("1000.00")
    assert kept[1].amount_recovered == Decimal("900.00")
    assert kept[1].dispute_win_rate == 1.0
    assert kept[0].ddo_days is not None

    with db.sessions() as s, s.begin():  # later the same day: the figures are replaced
        deductions.upsert(
            s, factories.deduction("KH-3", amount=Decimal("50.00"), deduction_date=DAY2)
        )
        assert record_day(s, DAY2, NOON + REFRESH)
    with db.sessions() as s:
        assert [d.open_amount for d in history(s)] == [Decimal("900.00"), Decimal("1050.00")]
        assert [d.business_day for d in history(s, DAY2, days=1)] == [DAY2]

    done = fleet("kpis", "--history", "--json", "--today", DAY2.isoformat())
    assert done.exit_code == 0, done.output
    printed = json.loads(done.output)["history"]
    assert [d["business_day"] for d in printed] == [DAY1.isoformat(), DAY2.isoformat()]
    assert [d["open_amount"] for d in printed] == ["900.00", "1050.00"]
    assert [d["amount_recovered"] for d in printed] == ["0.00", "900.00"]

    done = fleet("kpis", "--history", "--today", DAY1.isoformat())
    assert done.exit_code == 0, done.output
    assert DAY1.isoformat() in done.output
    assert DAY2.isoformat() not in done.output, "nothing after the day asked for"
    done = fleet("kpis", "--history", "--today", DAY2.isoformat())
    for shown in ("KPI history", "1050.00", "900.00"):
        assert shown in done.output


async def test_the_match_step_keeps_the_business_days_row(db: Db, tmp_path: Path) -> None:
    """Written where the daily deadline alert is (bots/tasks/core.py), on the
    business day the fleet is given (the world's clock in the demo)."""
    services = Services(
        db=db.sessions,
        vault=DocumentVault(tmp_path / "vault"),
        policy=RetryPolicy(),
        filing=FilingPolicy(),
        today=lambda: DAY1,
    )
    with db.sessions() as s, s.begin():
        deductions.upsert(
            s, factories.deduction("KH-M", amount=Decimal("75.00"), deduction_date=DAY1)
        )
    cc = CoreContext(services, Job("core", "core", "match"), "run-kh")
    await match(cc)
    assert cc.counts["kpis.recorded"] == 1
    await match(CoreContext(services, Job("core", "core", "match"), "run-kh-2"))
    with db.sessions() as s:
        kept = history(s)
    assert [(d.business_day, d.open_amount) for d in kept] == [(DAY1, Decimal("75.00"))]
