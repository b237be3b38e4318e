"""``disputes.level``: a denied dispute's second-level appeal is a dispute row of
its own (level 2) on the same claim, with its own packet, portal number and
outcome, so filing it exactly once and following its status reuse the
dispute's machinery. Every existing row is a first-level dispute.

``disputes.decided_on``: the business day the fleet first saw the portal's
decision; the appeal window counts from it.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("disputes") as batch:
        batch.add_column(sa.Column("level", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("decided_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("disputes") as batch:
        batch.drop_column("decided_on")
        batch.drop_column("level")
