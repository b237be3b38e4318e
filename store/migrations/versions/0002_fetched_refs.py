"""fetched_refs: which portal document refs were already fetched.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "fetched_refs",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("deduction_id", BIGID, nullable=True),
        sa.Column("shipment_id", BIGID, nullable=True),
        sa.Column("source_ref", sa.String(length=500), nullable=False),
        sa.Column("document_id", BIGID, nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(deduction_id IS NOT NULL AND shipment_id IS NULL)"
            " OR (deduction_id IS NULL AND shipment_id IS NOT NULL)",
            name=op.f("ck_fetched_refs_one_target"),
        ),
        sa.ForeignKeyConstraint(
            ["deduction_id"],
            ["deductions.id"],
            name=op.f("fk_fetched_refs_deduction_id_deductions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_fetched_refs_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipments.id"],
            name=op.f("fk_fetched_refs_shipment_id_shipments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fetched_refs")),
    )
    op.create_index(
        "uq_fetched_refs_deduction",
        "fetched_refs",
        ["deduction_id", "source_ref"],
        unique=True,
        sqlite_where=sa.text("deduction_id IS NOT NULL"),
        postgresql_where=sa.text("deduction_id IS NOT NULL"),
    )
    op.create_index(
        "uq_fetched_refs_shipment",
        "fetched_refs",
        ["shipment_id", "source_ref"],
        unique=True,
        sqlite_where=sa.text("shipment_id IS NOT NULL"),
        postgresql_where=sa.text("shipment_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_fetched_refs_shipment", table_name="fetched_refs")
    op.drop_index("uq_fetched_refs_deduction", table_name="fetched_refs")
    op.drop_table("fetched_refs")
