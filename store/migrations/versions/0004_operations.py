"""operations: the portal is part of a retrieval target; bot runs beat a
heartbeat (for the reaper); approval steps remember their last reminder;
scheduler pauses move under Alembic; matching runs are recorded (incremental
matching starts from the last one).

``scheduler_paused_accounts`` used to be created on first use by the
scheduler: an existing one is kept, with its rows.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)
ACTIVE = "status IN ('queued', 'running')"


def _active_index(columns: list[str]) -> None:
    op.create_index(
        "uq_retrieval_requests_active",
        "retrieval_requests",
        columns,
        unique=True,
        sqlite_where=sa.text(ACTIVE),
        postgresql_where=sa.text(ACTIVE),
    )


def upgrade() -> None:
    op.drop_index("uq_retrieval_requests_active", table_name="retrieval_requests")
    op.execute("UPDATE retrieval_requests SET portal = '' WHERE portal IS NULL")
    with op.batch_alter_table("retrieval_requests") as batch:
        batch.alter_column(
            "portal", existing_type=sa.String(length=64), nullable=False, server_default=""
        )
    _active_index(["target_kind", "target_value", "portal"])

    with op.batch_alter_table("bot_runs") as batch:
        batch.add_column(sa.Column("heartbeat_at", TS, nullable=True))
    op.create_index(
        "ix_bot_runs_running",
        "bot_runs",
        ["heartbeat_at"],
        sqlite_where=sa.text("status = 'running'"),
        postgresql_where=sa.text("status = 'running'"),
    )

    with op.batch_alter_table("decision_steps") as batch:
        batch.add_column(sa.Column("reminded_at", TS, nullable=True))

    if not sa.inspect(op.get_bind()).has_table("scheduler_paused_accounts"):
        op.create_table(
            "scheduler_paused_accounts",
            sa.Column("portal", sa.String(length=64), nullable=False),
            sa.Column("account", sa.String(length=320), nullable=False),
            sa.Column("paused_by", sa.String(length=128), nullable=False),
            sa.Column("paused_at", TS, nullable=False),
            sa.PrimaryKeyConstraint("portal", "account", name=op.f("pk_scheduler_paused_accounts")),
        )

    op.create_table(
        "matching_runs",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("today", sa.Date(), nullable=False),
        sa.Column("config_hash", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("judged", sa.Integer(), nullable=False),
        sa.Column("written", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_matching_runs")),
    )


def downgrade() -> None:
    op.drop_table("matching_runs")
    op.drop_table("scheduler_paused_accounts")
    with op.batch_alter_table("decision_steps") as batch:
        batch.drop_column("reminded_at")
    op.drop_index("ix_bot_runs_running", table_name="bot_runs")
    with op.batch_alter_table("bot_runs") as batch:
        batch.drop_column("heartbeat_at")
    op.drop_index("uq_retrieval_requests_active", table_name="retrieval_requests")
    with op.batch_alter_table("retrieval_requests") as batch:
        batch.alter_column(
            "portal", existing_type=sa.String(length=64), nullable=True, server_default=None
        )
    _active_index(["target_kind", "target_value"])
