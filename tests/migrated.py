"""Migrated stores for tests without running the migrations per test.

Alembic's upgrade from an empty database takes about a second on SQLite and
two on PostgreSQL; hundreds of store tests each want a fresh database at head.
So each test process migrates once, into a template, and every test gets its
own copy of it: a file copy on SQLite, ``CREATE DATABASE ... TEMPLATE`` on
PostgreSQL (a tenth of a second). A copy is byte for byte what the product's
own ``upgrade`` left (the migrations themselves are tested from empty in
tests/integration/store/test_migrations.py), and private to its test as a
fresh database is."""

from __future__ import annotations

import atexit
import shutil
import sqlite3
import tempfile
from pathlib import Path

from store.migrate import upgrade

_sqlite_template: Path | None = None


def _template() -> Path:
    """This process's migrated SQLite file (made on first use, removed at exit)."""
    global _sqlite_template
    if _sqlite_template is None:
        where = Path(tempfile.mkdtemp(prefix="fleet-migrated-"))
        atexit.register(shutil.rmtree, where, ignore_errors=True)
        path = where / "fleet.db"
        upgrade(f"sqlite:///{path}")
        # Every page in the main file (the store runs in WAL mode), so that a
        # copy of that one file is the whole database.
        conn = sqlite3.connect(path)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
        for side in ("-wal", "-shm"):
            Path(f"{path}{side}").unlink(missing_ok=True)
        _sqlite_template = path
    return _sqlite_template


def migrated_sqlite(path: Path) -> str:
    """A new SQLite store at ``path``, migrated to head (``path`` must not
    exist); its URL. ``init_db`` on it finds nothing to do."""
    if path.exists():
        raise FileExistsError(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_template(), path)
    path.chmod(0o600)  # as the store makes its own file (records/private.py)
    return f"sqlite:///{path}"
