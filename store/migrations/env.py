"""Alembic environment for the fleet store (configured by store.migrate)."""

from __future__ import annotations

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


def run_migrations_online() -> None:
    engine = make_engine(_url())
    sqlite = engine.dialect.name == "sqlite"
    try:
        with engine.connect() as conn:
            if sqlite:
                conn = conn.execution_options(fleet_sqlite_begin="IMMEDIATE")
            context.configure(
                connection=conn,
                target_metadata=target_metadata,
                render_as_batch=sqlite,
                compare_type=True,
            )
            with context.begin_transaction():
                if not sqlite:
                    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
