"""Two small tables for issue #14 (web app part 2):

``notification_cursors``: per delivery channel (webhook, e-mail), the last
health event it delivered and the lease of the scheduler delivering now, so
each event goes out once even with two schedulers (scheduler/notify.py).

``kpi_days``: one business day's headline KPIs a row (DDO, open amount,
recovered, win rate), so the KPI page can draw a trend; ``kpis`` itself
computes only today (matching/kpi_history.py).

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "notification_cursors",
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("last_event_id", BIGID, nullable=False),
        sa.Column("lease_token", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=128), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", name=op.f("pk_notification_cursors")),
    )
    op.create_table(
        "kpi_days",
        sa.Column("business_day", sa.Date(), nullable=False),
        sa.Column("deductions", sa.Integer(), nullable=False),
        sa.Column("open_amount", sa.BigInteger(), nullable=False),
        sa.Column("ddo_days", sa.Float(), nullable=True),
        sa.Column("amount_recovered", sa.BigInteger(), nullable=False),
        sa.Column("dispute_win_rate", sa.Float(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("business_day", name=op.f("pk_kpi_days")),
    )


def downgrade() -> None:
    op.drop_table("kpi_days")
    op.drop_table("notification_cursors")
