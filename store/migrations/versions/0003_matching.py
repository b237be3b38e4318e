"""matching: verdicts, category corrections, decisions and their approval steps,
delegations, comments and credit export batches.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MONEY = sa.Numeric(precision=14, scale=2)
JSON = sa.JSON(none_as_null=True)
TS = sa.DateTime(timezone=True)


def _deduction_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["deduction_id"],
        ["deductions.id"],
        name=op.f(f"fk_{table}_deduction_id_deductions"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "verdicts",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("deduction_id", BIGID, nullable=False),
        sa.Column("validity", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("category_source", sa.String(length=32), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("claimed_amount", MONEY, nullable=False),
        sa.Column("current_amount", MONEY, nullable=False),
        sa.Column("valid_amount", MONEY, nullable=True),
        sa.Column("disputable_amount", MONEY, nullable=True),
        sa.Column("window_closes", sa.Date(), nullable=True),
        sa.Column("reasons", JSON, nullable=False),
        sa.Column("evidence", JSON, nullable=False),
        sa.Column("missing", JSON, nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("computed_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        _deduction_fk("verdicts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verdicts")),
        sa.UniqueConstraint("deduction_id", name=op.f("uq_verdicts_deduction_id")),
    )
    op.create_index(op.f("ix_verdicts_validity"), "verdicts", ["validity"], unique=False)

    op.create_table(
        "category_overrides",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("portal", sa.String(length=64), nullable=False),
        sa.Column("reason_code", sa.String(length=500), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("set_by", sa.String(length=128), nullable=False),
        sa.Column("set_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_category_overrides")),
        sa.UniqueConstraint(
            "portal",
            "reason_code",
            "external_id",
            name=op.f("uq_category_overrides_portal_reason_code_external_id"),
        ),
    )

    op.create_table(
        "export_batches",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("since", sa.Date(), nullable=True),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("total", MONEY, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_batches")),
    )

    op.create_table(
        "decisions",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("deduction_id", BIGID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("accept_amount", MONEY, nullable=False),
        sa.Column("dispute_amount", MONEY, nullable=False),
        sa.Column("credit_kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("proposed_by", sa.String(length=128), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("export_batch_id", BIGID, nullable=True),
        _deduction_fk("decisions"),
        sa.ForeignKeyConstraint(
            ["export_batch_id"],
            ["export_batches.id"],
            name=op.f("fk_decisions_export_batch_id_export_batches"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decisions")),
    )
    op.create_index(op.f("ix_decisions_deduction_id"), "decisions", ["deduction_id"], unique=False)
    op.create_index(
        op.f("ix_decisions_export_batch_id"), "decisions", ["export_batch_id"], unique=False
    )
    op.create_index(
        "uq_decisions_pending",
        "decisions",
        ["deduction_id"],
        unique=True,
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    )

    op.create_table(
        "decision_steps",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("decision_id", BIGID, nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=True),
        sa.Column("on_behalf_of", sa.String(length=128), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("decided_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["decisions.id"],
            name=op.f("fk_decision_steps_decision_id_decisions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision_steps")),
        sa.UniqueConstraint(
            "decision_id", "level", name=op.f("uq_decision_steps_decision_id_level")
        ),
    )

    op.create_table(
        "delegations",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("delegator", sa.String(length=128), nullable=False),
        sa.Column("delegate", sa.String(length=128), nullable=False),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delegations")),
    )
    op.create_index(op.f("ix_delegations_delegator"), "delegations", ["delegator"], unique=False)

    op.create_table(
        "deduction_comments",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("deduction_id", BIGID, nullable=False),
        sa.Column("author", sa.String(length=128), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("mentions", JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        _deduction_fk("deduction_comments"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deduction_comments")),
    )
    op.create_index(
        op.f("ix_deduction_comments_deduction_id"),
        "deduction_comments",
        ["deduction_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_deduction_comments_deduction_id"), table_name="deduction_comments")
    op.drop_table("deduction_comments")
    op.drop_index(op.f("ix_delegations_delegator"), table_name="delegations")
    op.drop_table("delegations")
    op.drop_table("decision_steps")
    op.drop_index("uq_decisions_pending", table_name="decisions")
    op.drop_index(op.f("ix_decisions_export_batch_id"), table_name="decisions")
    op.drop_index(op.f("ix_decisions_deduction_id"), table_name="decisions")
    op.drop_table("decisions")
    op.drop_table("export_batches")
    op.drop_table("category_overrides")
    op.drop_index(op.f("ix_verdicts_validity"), table_name="verdicts")
    op.drop_table("verdicts")
