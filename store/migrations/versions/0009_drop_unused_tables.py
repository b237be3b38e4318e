"""drop the ``matches`` and ``approvals`` tables: the first schema's sketches of
matching and approval, which nothing ever wrote (verdicts, decisions and
decision steps took their place in 0003). Downgrade puts them back, empty.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.drop_index(op.f("ix_matches_deduction_id"), table_name="matches")
    op.drop_table("matches")
    op.drop_table("approvals")


def downgrade() -> None:
    op.create_table(
        "approvals",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("deduction_id", BIGID, nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(length=32), nullable=False),
        sa.Column("approver_id", BIGID, nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["approver_id"],
            ["users.id"],
            name=op.f("fk_approvals_approver_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["deduction_id"],
            ["deductions.id"],
            name=op.f("fk_approvals_deduction_id_deductions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approvals")),
        sa.UniqueConstraint("deduction_id", "level", name=op.f("uq_approvals_deduction_id_level")),
    )
    op.create_table(
        "matches",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("deduction_id", BIGID, nullable=False),
        sa.Column("target_kind", sa.String(length=32), nullable=False),
        sa.Column("target_id", BIGID, nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Numeric(precision=5, scale=4), nullable=True),
        sa.Column("verdict", sa.String(length=32), nullable=True),
        sa.Column("reasons", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["deduction_id"],
            ["deductions.id"],
            name=op.f("fk_matches_deduction_id_deductions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_matches")),
        sa.UniqueConstraint(
            "deduction_id",
            "target_kind",
            "target_id",
            "rule",
            name=op.f("uq_matches_deduction_id_target_kind_target_id_rule"),
        ),
    )
    op.create_index(op.f("ix_matches_deduction_id"), "matches", ["deduction_id"], unique=False)
