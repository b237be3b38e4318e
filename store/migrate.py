"""Alembic, configured from code: no alembic.ini, works from an installed package.

``upgrade(url)`` brings any database (empty or older) to the newest schema;
``downgrade(url, "base")`` removes every table the migrations created. Both are
safe to call from several processes at once: the migration runs under a
database lock (PostgreSQL advisory lock, SQLite ``BEGIN IMMEDIATE``), and a
second caller finds the work done. (Processes, not threads: Alembic keeps its
context in module globals.)
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic config for ``url`` (for commands such as ``revision --autogenerate``)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # "%" is Alembic's interpolation character; URLs may contain %-escapes.
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["fleet_url"] = url
    return cfg


def upgrade(url: str, rev: str = "head") -> None:
    """Migrate the database at ``url`` up to ``rev``. Idempotent."""
    command.upgrade(alembic_config(url), rev)


def downgrade(url: str, rev: str = "base") -> None:
    """Migrate the database at ``url`` down to ``rev`` ("base": no fleet tables)."""
    command.downgrade(alembic_config(url), rev)


def head_revision() -> str:
    """The newest revision the package ships."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    if head is None:  # pragma: no cover - the package always ships a revision
        raise RuntimeError("no migrations found")
    return head


def current_revision(url: str) -> str | None:
    """The revision the database at ``url`` is at (None: never migrated)."""
    engine = create_engine(url)  # a plain engine: one read, none of the store's pragmas
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


__all__ = [
    "MIGRATIONS_DIR",
    "alembic_config",
    "current_revision",
    "downgrade",
    "head_revision",
    "upgrade",
]
