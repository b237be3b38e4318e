"""disputes: ``hold_reason`` (why the robot left a dispute to a person: a portal
that takes no amount for a partial dispute, a packet over the portal's limits)
and ``packet`` (what was sent: the portal's reason, the text's length and
digest, every attachment's name, size and sha256 in the vault).

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("disputes") as batch:
        batch.add_column(sa.Column("hold_reason", sa.String(500), nullable=True))
        batch.add_column(sa.Column("packet", sa.JSON(none_as_null=True), nullable=True))
        batch.add_column(sa.Column("recovered_amount", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("outcome_batch_id", BIGID, nullable=True))
        batch.create_foreign_key(
            op.f("fk_disputes_outcome_batch_id_export_batches"),
            "export_batches",
            ["outcome_batch_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index(op.f("ix_disputes_outcome_batch_id"), ["outcome_batch_id"])


def downgrade() -> None:
    with op.batch_alter_table("disputes") as batch:
        batch.drop_index(op.f("ix_disputes_outcome_batch_id"))
        batch.drop_constraint(
            op.f("fk_disputes_outcome_batch_id_export_batches"), type_="foreignkey"
        )
        batch.drop_column("outcome_batch_id")
        batch.drop_column("recovered_amount")
        batch.drop_column("packet")
        batch.drop_column("hold_reason")
