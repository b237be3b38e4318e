"""``audit_head``: the anchor of the audit log's newest end (count and head
hash), in a row apart from the log, moved forward with each append;
triggers refuse any other change, so deleting the log's last entries fails
``fleet audit verify``. The row starts at the log's present head.

Revision ID: 0012
Revises: 0009
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64

_SQLITE_TRIGGERS = (
    """CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
    BEGIN SELECT RAISE(ABORT, 'audit_head only moves forward'); END""",
    """CREATE TRIGGER audit_head_one_forward BEFORE UPDATE ON audit_head
    WHEN NEW.id != OLD.id OR NEW.count <= OLD.count OR NEW.head_seq <= OLD.head_seq
    BEGIN SELECT RAISE(ABORT, 'audit_head only moves forward'); END""",
    """CREATE TRIGGER audit_head_one_row BEFORE INSERT ON audit_head
    WHEN (SELECT count(*) FROM audit_head) > 0
    BEGIN SELECT RAISE(ABORT, 'audit_head only moves forward'); END""",
)

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_head_forward() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.id = OLD.id AND NEW.count > OLD.count
     AND NEW.head_seq > OLD.head_seq THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'INSERT' AND NOT EXISTS (SELECT 1 FROM audit_head) THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'audit_head only moves forward';
END
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("head_seq", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
    )
    bind = op.get_bind()
    count, head_seq = bind.execute(sa.text("SELECT count(*), max(seq) FROM audit_log")).one()
    head_hash = GENESIS
    if head_seq is not None:
        head_hash = bind.execute(
            sa.text("SELECT hash FROM audit_log WHERE seq = :s"), {"s": head_seq}
        ).scalar_one()
    bind.execute(
        sa.text("INSERT INTO audit_head (id, count, head_seq, head_hash) VALUES (1, :c, :s, :h)"),
        {"c": count, "s": head_seq or 0, "h": head_hash},
    )
    if bind.dialect.name == "sqlite":
        for stmt in _SQLITE_TRIGGERS:
            op.execute(stmt)
        return
    op.execute(_PG_FUNCTION)
    op.execute(
        "CREATE TRIGGER audit_head_forward BEFORE INSERT OR UPDATE OR DELETE"
        " ON audit_head FOR EACH ROW EXECUTE FUNCTION audit_head_forward()"
    )
    op.execute(
        "CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE"
        " ON audit_head FOR EACH STATEMENT EXECUTE FUNCTION audit_head_forward()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("audit_head_no_delete", "audit_head_one_forward", "audit_head_one_row"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_head_forward ON audit_head")
        op.execute("DROP TRIGGER IF EXISTS audit_head_no_truncate ON audit_head")
        op.execute("DROP FUNCTION IF EXISTS audit_head_forward()")
    op.drop_table("audit_head")
