"""pipeline: an approver's explicit override of a closed dispute window is
recorded on the decision; a dispute remembers the business day it was filed
on (the fleet's day, which in the demo is the simulated world's); a claim
remembers the day a sync last listed its documents (open claims are
re-listed on a later day); a shipment the day its POD was last asked for.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("window_override_by", sa.String(128), nullable=True))
    with op.batch_alter_table("disputes") as batch:
        batch.add_column(sa.Column("filed_on", sa.Date(), nullable=True))
    with op.batch_alter_table("deductions") as batch:
        batch.add_column(sa.Column("documents_checked_on", sa.Date(), nullable=True))
    with op.batch_alter_table("shipments") as batch:
        batch.add_column(sa.Column("pod_checked_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("shipments") as batch:
        batch.drop_column("pod_checked_on")
    with op.batch_alter_table("deductions") as batch:
        batch.drop_column("documents_checked_on")
    with op.batch_alter_table("disputes") as batch:
        batch.drop_column("filed_on")
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("window_override_by")
