"""web access: users get an access role (analyst, approver, ops, admin), an
approval limit, an argon2 password hash and a login lock-out; the web app's
server-side sessions, the API's bearer tokens (hashes only) and each person's
saved worklist filters get tables.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("access", sa.String(length=16), server_default="analyst", nullable=False)
        )
        batch.add_column(sa.Column("approval_limit", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("password_hash", sa.String(length=256), nullable=True))
        batch.add_column(
            sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False)
        )
        batch.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
    # Those who already approve in the chain (manager, director) approve in the app too.
    op.execute("UPDATE users SET access = 'approver' WHERE role IN ('manager', 'director')")
    op.create_table(
        "web_sessions",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_web_sessions_token_hash")),
    )
    op.create_index(op.f("ix_web_sessions_username"), "web_sessions", ["username"])
    op.create_table(
        "api_tokens",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index(op.f("ix_api_tokens_username"), "api_tokens", ["username"])
    op.create_table(
        "saved_filters",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("query", sa.String(length=2000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_filters")),
        sa.UniqueConstraint("username", "name", name=op.f("uq_saved_filters_username_name")),
    )
    op.create_index(op.f("ix_saved_filters_username"), "saved_filters", ["username"])


def downgrade() -> None:
    op.drop_index(op.f("ix_saved_filters_username"), table_name="saved_filters")
    op.drop_table("saved_filters")
    op.drop_index(op.f("ix_api_tokens_username"), table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_index(op.f("ix_web_sessions_username"), table_name="web_sessions")
    op.drop_table("web_sessions")
    with op.batch_alter_table("users") as batch:
        for name in ("locked_until", "failed_logins", "password_hash", "approval_limit", "access"):
            batch.drop_column(name)
