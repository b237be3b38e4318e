"""An index on ``health_events (kind, at)``: every signed-in page asks for the
last day's anomalies (web banner, ``fleet health``), and the deadline alert
for the newest ``dispute_deadlines`` event; without it each asks by scanning
every event ever recorded.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_health_events_kind_at", "health_events", ["kind", "at"])


def downgrade() -> None:
    op.drop_index("ix_health_events_kind_at", table_name="health_events")
