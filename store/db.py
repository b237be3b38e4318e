"""Engines, sessions and transactions for SQLite (default) and PostgreSQL.

SQLite is tuned for one machine running many robots: WAL (readers never block the
writer), foreign keys on, a busy timeout instead of instant "database is locked",
``synchronous=NORMAL`` (durable at every checkpoint, safe against corruption).
Write transactions start with ``BEGIN IMMEDIATE`` so two writers queue on the
lock up front instead of failing half-way through (SQLite cannot upgrade a stale
read snapshot to a write). PostgreSQL goes through psycopg 3.

Nothing here reads settings: the composition root passes
``Settings.resolved_database_url``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from sqlalchemy import CursorResult, Engine, Result, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from records.private import private_dir, private_file

SQLITE_BUSY_TIMEOUT_MS = 30_000
"""How long a SQLite writer waits for the lock before giving up."""

_BEGIN_OPTION = "fleet_sqlite_begin"


def json_default(value: Any) -> Any:
    """JSON for the values records carry: Decimal and dates as strings (exact),
    bytes as base64, enums by value. Used for every JSON column."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bytes | bytearray | memoryview):
        return {"base64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def json_dumps(value: Any) -> str:
    return json.dumps(value, default=json_default, ensure_ascii=False, sort_keys=True)


def _normalise_url(url: str) -> str:
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def make_engine(url: str, *, echo: bool = False, pool_size: int = 10) -> Engine:
    """An engine for ``url``; ``postgresql://`` is routed to psycopg 3.

    SQLite files get their parent directory created. Safe to call many times;
    each call returns a new engine (and pool), so share it.
    """
    url = _normalise_url(url)
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:" and not u.database.startswith("file:"):
            private_dir(Path(u.database).parent)
            private_file(Path(u.database))
        engine = create_engine(
            url,
            echo=echo,
            json_serializer=json_dumps,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        )
        _tune_sqlite(engine)
        return engine
    if u.get_backend_name() == "postgresql":
        return create_engine(
            url,
            echo=echo,
            json_serializer=json_dumps,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
        )
    raise ValueError(f"unsupported database backend {u.get_backend_name()!r} (sqlite, postgresql)")


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own
        # transaction handling would defer it and break BEGIN IMMEDIATE).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA synchronous=NORMAL")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def plain_rows(result: Result[*tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    """A result's rows as plain tuples, for unpacking in a ``for``: the type
    checker cannot unpack a Row's columns, and ``Result.tuples()`` is
    deprecated since SQLAlchemy 2.1."""
    for row in result:
        yield tuple(row)


def rows_changed(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE touched (``Session.execute`` is typed as
    returning any Result; a DML statement's is a CursorResult, which counts)."""
    if not isinstance(result, CursorResult):
        raise TypeError("rows_changed needs the result of an UPDATE or DELETE")
    return int(result.rowcount or 0)


def is_sqlite(bind: Engine | Session) -> bool:
    engine = bind.get_bind() if isinstance(bind, Session) else bind
    return engine.dialect.name == "sqlite"


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine``. Objects stay readable after commit
    (``expire_on_commit=False``): repositories return them to callers."""
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


@contextmanager
def transaction(factory: sessionmaker[Session], *, write: bool = True) -> Iterator[Session]:
    """One unit of work: commit when the block ends, roll back if it raises.

    ``write=True`` takes SQLite's write lock at BEGIN (``BEGIN IMMEDIATE``), so the
    block cannot fail half-way with "database is locked" because another writer
    committed after it read; other writers wait up to the busy timeout. Readers
    pass ``write=False`` and never wait (WAL). On PostgreSQL both are plain
    READ COMMITTED transactions.

    Retrying the whole block is safe when it only calls idempotent repository
    functions (all upserts here are).
    """
    options = {_BEGIN_OPTION: "IMMEDIATE"} if write else {}
    session = factory()
    try:
        session.connection(execution_options=options)
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def init_db(url: str) -> Engine:
    """Bring the database at ``url`` to the newest schema and return an engine.

    Idempotent: on an up-to-date database it only checks the revision.
    """
    from store.migrate import upgrade

    upgrade(url, "head")
    return make_engine(url)


__all__ = [
    "SQLITE_BUSY_TIMEOUT_MS",
    "init_db",
    "is_sqlite",
    "json_default",
    "json_dumps",
    "make_engine",
    "session_factory",
    "transaction",
]
