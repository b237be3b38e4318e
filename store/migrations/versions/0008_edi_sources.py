"""EDI sources: a deduction seen in an EDI 812 keeps that transaction
(``deduction_sources``); a remittance line keeps its X12 RMR01 qualifier and
RMR02 number (an ``RMR*IK`` item is not an invoice), an adjustment its ADX03.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("remittance_lines") as batch:
        batch.add_column(
            sa.Column("qualifier", sa.String(length=3), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("reference", sa.String(length=500), nullable=False, server_default="")
        )
    with op.batch_alter_table("remittance_adjustments") as batch:
        batch.add_column(
            sa.Column("reference_qualifier", sa.String(length=3), nullable=False, server_default="")
        )
    op.create_table(
        "deduction_sources",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("deduction_id", BIGID, nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.String(length=500), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("raw", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("first_seen_at", TS, nullable=False),
        sa.Column("last_seen_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["deduction_id"],
            ["deductions.id"],
            name=op.f("fk_deduction_sources_deduction_id_deductions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deduction_sources")),
        sa.UniqueConstraint(
            "deduction_id",
            "source",
            "digest",
            name=op.f("uq_deduction_sources_deduction_id_source_digest"),
        ),
    )
    op.create_index(
        op.f("ix_deduction_sources_deduction_id"), "deduction_sources", ["deduction_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_deduction_sources_deduction_id"), table_name="deduction_sources")
    op.drop_table("deduction_sources")
    with op.batch_alter_table("remittance_adjustments") as batch:
        batch.drop_column("reference_qualifier")
    with op.batch_alter_table("remittance_lines") as batch:
        batch.drop_column("reference")
        batch.drop_column("qualifier")
