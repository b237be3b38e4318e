"""``human_challenges``: a CAPTCHA a robot met, handed to a person in the web
app while the job waits for the answer (one open challenge per portal and
ref; the image kept bounded, the answer erased once used or expired).

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "human_challenges",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("portal", sa.String(length=64), nullable=False),
        sa.Column("account", sa.String(length=320), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("ref", sa.String(length=500), nullable=False),
        sa.Column("prompt", sa.String(length=500), nullable=False),
        sa.Column("image", sa.LargeBinary(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("answer", sa.String(length=64), nullable=True),
        sa.Column("answered_by", sa.String(length=128), nullable=True),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("answered_at", TS, nullable=True),
        sa.Column("closed_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_human_challenges")),
    )
    op.create_index(
        "uq_human_challenges_open",
        "human_challenges",
        ["portal", "ref"],
        unique=True,
        sqlite_where=sa.text("status IN ('open', 'answered')"),
        postgresql_where=sa.text("status IN ('open', 'answered')"),
    )
    op.create_index("ix_human_challenges_status", "human_challenges", ["status", "expires_at"])


def downgrade() -> None:
    op.drop_index("ix_human_challenges_status", table_name="human_challenges")
    op.drop_index("uq_human_challenges_open", table_name="human_challenges")
    op.drop_table("human_challenges")
