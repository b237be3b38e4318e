"""Alembic environment for the fleet store (configured by store.migrate)."""

from __future__ import annotations

from typing import Any

from alembic import context

from store.db import make_engine
from store.models import Base

# Any constant works; it only has to be the same in every process.
_PG_MIGRATION_LOCK = 0x666C656574  # "fleet"

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return config.attributes.get("fleet_url") or config.get_main_option("sqlalchemy.url") or ""


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=_url().startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def _check_foreign_keys(conn: Any) -> None:
    """Refuse to commit a SQLite migration that left a dangling reference."""
    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"migration left {len(broken)} broken foreign key(s): {broken[:5]}")


def run_migrations_online() -> None:
    engine = make_engine(_url())
    sqlite = engine.dialect.name == "sqlite"
    try:
        with engine.connect() as conn:
            if sqlite:
                # A batch migration rebuilds a table (create, copy, drop, rename):
                # with foreign keys on, the DROP would first delete every row that
                # references it (ON DELETE CASCADE). The pragma only takes effect
                # outside a transaction, so it is set on the raw connection before
                # BEGIN, and the keys are checked before the migration commits.
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
                conn = conn.execution_options(fleet_sqlite_begin="IMMEDIATE")
            context.configure(
                connection=conn,
                target_metadata=target_metadata,
                render_as_batch=sqlite,
                compare_type=True,
                # SQLite's DDL is transactional, but Alembic assumes it is not and
                # commits after each migration, having read the current revision
                # once at the start: a second process then migrates from a stale
                # revision ("duplicate column"). One transaction for the whole
                # upgrade keeps the read and every step under one write lock.
                transactional_ddl=True,
            )
            try:
                with context.begin_transaction():
                    if not sqlite:
                        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")
                    context.run_migrations()
                    if sqlite:
                        _check_foreign_keys(conn)
            finally:
                if sqlite:
                    conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
