"""exact money: every money column becomes a BIGINT of minor units.

SQLite stored ``NUMERIC(14, 2)`` as binary floats (REAL), so sums drifted
(458029.97000000003). Amounts are now whole cents and unit prices and rates
whole ten-thousandths (``store.money.ExactMoney``), on both backends.

Upgrade converts each value exactly: PostgreSQL multiplies the exact NUMERIC;
on SQLite ``ROUND(x * 10**scale)`` recovers the cents the float approximated
(every stored value had at most 2 decimals and fewer than 15 digits, well
inside a double's exact range). Downgrade divides back, and refuses (naming
the column) when a value cannot go back into ``NUMERIC(14, 2)``: a unit price
with more than 2 decimals, or a total of 10**12 or more.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = sa.Numeric(precision=14, scale=2)
NEW = sa.BigInteger()

# (table, column, scale, nullable): every money column of revision 0004.
COLUMNS: tuple[tuple[str, str, int, bool], ...] = (
    ("deductions", "amount", 2, False),
    ("deduction_lines", "unit_cost", 4, True),
    ("deduction_lines", "amount", 2, False),
    ("erp_invoices", "total", 2, False),
    ("erp_invoice_lines", "unit_price", 4, False),
    ("erp_invoice_lines", "amount", 2, False),
    ("erp_promotions", "rate_per_unit", 4, False),
    ("erp_promotions", "max_amount", 2, True),
    ("remittances", "total_paid", 2, False),
    ("remittance_lines", "invoice_amount", 2, False),
    ("remittance_lines", "paid_amount", 2, False),
    ("remittance_adjustments", "amount", 2, False),
    ("disputes", "amount", 2, False),
    ("verdicts", "claimed_amount", 2, False),
    ("verdicts", "current_amount", 2, False),
    ("verdicts", "valid_amount", 2, True),
    ("verdicts", "disputable_amount", 2, True),
    ("export_batches", "total", 2, False),
    ("decisions", "accept_amount", 2, False),
    ("decisions", "dispute_amount", 2, False),
)

# A partial unique index a SQLite table rebuild must not turn into a plain one.
PENDING = "status = 'pending'"


def _tables() -> dict[str, list[tuple[str, int, bool]]]:
    out: dict[str, list[tuple[str, int, bool]]] = {}
    for table, column, scale, nullable in COLUMNS:
        out.setdefault(table, []).append((column, scale, nullable))
    return out


def _drop_pending_index() -> None:
    op.drop_index("uq_decisions_pending", table_name="decisions")


def _create_pending_index() -> None:
    op.create_index(
        "uq_decisions_pending",
        "decisions",
        ["deduction_id"],
        unique=True,
        sqlite_where=sa.text(PENDING),
        postgresql_where=sa.text(PENDING),
    )


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        _drop_pending_index()
    for table, columns in _tables().items():
        if not sqlite:
            changes = ", ".join(
                f'ALTER COLUMN "{c}" TYPE BIGINT USING ROUND("{c}" * {10**s})::BIGINT'
                for c, s, _ in columns
            )
            op.execute(f'ALTER TABLE "{table}" {changes}')
            continue
        sets = ", ".join(f'"{c}" = CAST(ROUND("{c}" * {10**s}) AS INTEGER)' for c, s, _ in columns)
        op.execute(f'UPDATE "{table}" SET {sets}')  # noqa: S608  (names are COLUMNS)
        with op.batch_alter_table(table) as batch:
            for c, _, nullable in columns:
                batch.alter_column(c, existing_type=OLD, type_=NEW, existing_nullable=nullable)
    if sqlite:
        _create_pending_index()


def _refuse_what_cannot_go_back() -> None:
    bind = op.get_bind()
    for table, column, scale, _ in COLUMNS:
        unit = 10 ** (scale - 2)
        limit = 10**12 * 10**scale
        query = (
            f'SELECT COUNT(*) FROM "{table}" WHERE "{column}" % {unit} <> 0'  # noqa: S608  (COLUMNS)
            f' OR "{column}" >= {limit} OR "{column}" <= -{limit}'
        )
        bad = bind.execute(sa.text(query)).scalar_one()
        if bad:
            raise RuntimeError(
                f"cannot downgrade below 0007: {bad} value(s) in {table}.{column} do not fit "
                "NUMERIC(14, 2) (more than 2 decimals, or 10**12 or more); nothing changed"
            )


def downgrade() -> None:
    _refuse_what_cannot_go_back()
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        _drop_pending_index()
    for table, columns in _tables().items():
        if not sqlite:
            changes = ", ".join(
                f'ALTER COLUMN "{c}" TYPE NUMERIC(14, 2) USING ("{c}"::NUMERIC / {10**s})'
                for c, s, _ in columns
            )
            op.execute(f'ALTER TABLE "{table}" {changes}')
            continue
        with op.batch_alter_table(table) as batch:
            for c, _, nullable in columns:
                batch.alter_column(c, existing_type=NEW, type_=OLD, existing_nullable=nullable)
        sets = ", ".join(f'"{c}" = "{c}" / {10.0**s}' for c, s, _ in columns)
        op.execute(f'UPDATE "{table}" SET {sets}')  # noqa: S608  (names are COLUMNS)
    if sqlite:
        _create_pending_index()
