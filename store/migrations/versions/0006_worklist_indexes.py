"""worklist indexes: the analyst's list (store/queries) searches claim, invoice,
PO, PRO and BOL numbers by prefix and sorts by claim number, amount and
deadline without reading the whole table.

Prefix search compares bytewise (store.models.Bytewise): on PostgreSQL the
indexes are on ``column COLLATE "C"`` (the database collation may be
linguistic, where a prefix is not a key range); on SQLite the existing plain
indexes on invoice, PO and PRO numbers already are bytewise, so the new ones
for those three stay empty there (a partial index ``WHERE 0``).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEARCHED = ("external_id", "bol_number", "invoice_number", "po_number", "pro_number")
SQLITE_HAS_PLAIN = ("invoice_number", "po_number", "pro_number")  # bytewise already


def upgrade() -> None:
    for column in SEARCHED:
        op.create_index(
            f"ix_deductions_{column}_bytewise",
            "deductions",
            [column],
            postgresql_ops={column: 'COLLATE "C"'},
            sqlite_where=sa.text("0") if column in SQLITE_HAS_PLAIN else None,
        )
    op.create_index("ix_deductions_amount_id", "deductions", ["amount", "id"])
    op.create_index("ix_verdicts_window_closes", "verdicts", ["window_closes", "deduction_id"])


def downgrade() -> None:
    op.drop_index("ix_verdicts_window_closes", table_name="verdicts")
    op.drop_index("ix_deductions_amount_id", table_name="deductions")
    for column in SEARCHED:
        op.drop_index(f"ix_deductions_{column}_bytewise", table_name="deductions")
