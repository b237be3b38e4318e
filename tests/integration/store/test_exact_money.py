"""Money is exact on both databases: stored as whole minor units, summed in SQL
without drift, refused (never rounded) when it has too many decimals, and
carried across migration 0007 in both directions."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from store.db import make_engine, session_factory
from store.migrate import current_revision, downgrade, upgrade
from store.models import Deduction, DeductionLine, ErpPromotion, ExportBatch
from store.money import MoneyRefused
from tests.integration.store.conftest import Db

NOW = datetime(2026, 3, 2, tzinfo=UTC)


def _batches(db: Db, totals: list[Decimal]) -> None:
    with db.engine.begin() as conn:
        conn.execute(
            insert(ExportBatch),
            [
                {"kind": "credits", "created_by": "t", "created_at": NOW, "count": 1, "total": t}
                for t in totals
            ],
        )


def test_sql_sum_of_100000_amounts_is_exact(db: Db) -> None:
    rng = random.Random(15)
    amounts = [Decimal(rng.randrange(-(10**9), 10**9)).scaleb(-2) for _ in range(100_000)]
    exact = sum(amounts, Decimal("0.00"))
    floats = 0.0
    for a in amounts:
        floats += float(a)
    assert f"{floats:.10f}" != f"{exact:.10f}"  # the data would expose a float sum
    _batches(db, amounts)

    with db.sessions() as s:
        total = s.scalar(select(func.sum(ExportBatch.total)))
        assert total == exact
        assert str(total) == str(exact)
        # The raw SQL SUM is a whole number of cents, not a float.
        raw = s.execute(text("SELECT SUM(total) FROM export_batches")).scalar_one()
        assert not isinstance(raw, float)
        assert Decimal(raw) == exact * 100


def test_more_decimals_than_the_column_holds_is_refused(db: Db) -> None:
    with pytest.raises(StatementError) as err:
        _batches(db, [Decimal("0.125")])
    assert isinstance(err.value.orig, MoneyRefused)
    assert "more than 2 decimal places" in str(err.value)
    with pytest.raises(StatementError, match="not float"):
        _batches(db, [0.1])  # type: ignore[list-item]
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(ExportBatch)) == 0


def test_a_batch_total_past_numeric_14_2_is_stored_exactly_or_refused(db: Db) -> None:
    big = Decimal("999999999999.99") * 2  # two decisions at the largest amount
    _batches(db, [big])
    with db.sessions() as s:
        assert s.scalar(select(ExportBatch.total)) == big
    with pytest.raises(StatementError, match="larger than a money column holds"):
        _batches(db, [Decimal("92233720368547758.08")])


def test_unit_prices_keep_four_decimals(db: Db) -> None:
    with db.engine.begin() as conn:
        conn.execute(
            insert(ErpPromotion),
            [
                {
                    "promo_id": "P1",
                    "customer": "C",
                    "description": "",
                    "skus": [],
                    "start_date": date(2026, 1, 1),
                    "end_date": date(2026, 2, 1),
                    "rate_per_unit": Decimal("7.3445"),
                    "raw": {},
                    "content_hash": "x",
                    "imported_at": NOW,
                    "updated_at": NOW,
                }
            ],
        )
        with pytest.raises(StatementError, match="more than 4 decimal places"):
            conn.execute(ErpPromotion.__table__.update().values(rate_per_unit=Decimal("7.34451")))
    with db.sessions() as s:
        assert str(s.scalar(select(ErpPromotion.rate_per_unit))) == "7.3445"


# --------------------------------------------------------------------------- migration 0007

ROWS_BEFORE = [
    "INSERT INTO portals (name, display_name, created_at) VALUES ('megamart', '', :t)",
    "INSERT INTO deductions (id, portal, external_id, invoice_number, po_number, location,"
    " amount, currency, reason_code, reason_text, category, status, memo, raw, content_hash,"
    " first_seen_at, last_seen_at, updated_at) VALUES (1, 'megamart', 'D-1', '', '', '',"
    " 458029.97, 'USD', '', '', 'shortage', '', '', '{}', 'h', :t, :t, :t)",
    "INSERT INTO deduction_lines (deduction_id, line_no, sku, description, quantity,"
    " unit_cost, amount) VALUES (1, 1, 'S', '', 3, 0.29, 0.87)",
    "INSERT INTO deduction_lines (deduction_id, line_no, sku, description, quantity,"
    " unit_cost, amount) VALUES (1, 2, 'S', '', 1, NULL, -12.10)",
    "INSERT INTO decisions (deduction_id, kind, accept_amount, dispute_amount, credit_kind,"
    " status, proposed_by, note, created_at) VALUES (1, 'split', 0.10, 458029.87, '',"
    " 'pending', 'ana', '', :t)",
    "INSERT INTO export_batches (kind, created_by, created_at, count, total) VALUES"
    " ('credits', 'ana', :t, 1, 999999999999.99)",
]


@contextmanager
def _migrated_from_before(url: str, rows: list[str]) -> Iterator[Engine]:
    """A database just before 0007 holding ``rows``, then upgraded to 0007."""
    upgrade(url, "0006")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for sql in rows:
                conn.execute(text(sql), {"t": NOW})
        upgrade(url, "0007")
        yield engine
    finally:
        engine.dispose()


def test_0007_converts_existing_money_both_ways(
    backend: str, empty_url: Callable[[str], str]
) -> None:
    url = empty_url(backend)
    with _migrated_from_before(url, ROWS_BEFORE) as engine:
        with session_factory(engine)() as s:
            assert s.scalar(select(Deduction.amount)) == Decimal("458029.97")
            lines = s.execute(select(DeductionLine.unit_cost, DeductionLine.amount)).all()
            assert sorted(lines, key=lambda r: r.amount) == [
                (None, Decimal("-12.10")),
                (Decimal("0.29"), Decimal("0.87")),
            ]
            assert s.scalar(select(ExportBatch.total)) == Decimal("999999999999.99")
        with engine.connect() as conn:
            units = conn.execute(text("SELECT amount, unit_cost FROM deduction_lines")).all()
            assert sorted(units) == [(-1210, None), (87, 2900)]
        # The table rebuilds kept constraints and the partial unique index.
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(text("UPDATE deductions SET category = 'nonsense'"))
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(text(ROWS_BEFORE[4]), {"t": NOW})

        downgrade(url, "0006")
        with engine.connect() as conn:
            amount = conn.execute(text("SELECT amount FROM deductions")).scalar_one()
            assert Decimal(str(amount)) == Decimal("458029.97")
            assert conn.execute(text("SELECT COUNT(*) FROM deduction_lines")).scalar_one() == 2


def test_0007_downgrade_refuses_a_unit_price_numeric_14_2_cannot_hold(
    backend: str, empty_url: Callable[[str], str]
) -> None:
    url = empty_url(backend)
    with _migrated_from_before(url, ROWS_BEFORE[:3]) as engine:
        with engine.begin() as conn:
            conn.execute(DeductionLine.__table__.update().values(unit_cost=Decimal("7.3445")))
        with pytest.raises(RuntimeError, match=r"deduction_lines\.unit_cost"):
            downgrade(url, "0006")
        assert current_revision(url) == "0007"
