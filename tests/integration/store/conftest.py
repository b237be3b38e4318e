"""One parametrised ``db`` fixture: every store test here runs on SQLite and on
PostgreSQL.

PostgreSQL isolation: each test gets databases of its own (``fleet_t_<random>``),
dropped when it ends: a ``db`` is a copy of a template this process migrated
once (tests/migrated.py says why), an ``empty_url`` an empty one. A database,
not a schema, as what is held per database (the scheduler's leader lock, an
advisory lock) must not reach another test or another run on the same server.
The server is ``FLEET_TEST_PG_URL`` or the local one; the PostgreSQL half
skips loudly (with the reason) when it cannot be reached.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from store.db import make_engine, session_factory
from store.migrate import upgrade
from tests.migrated import migrated_sqlite
from tests.requirements import missing

PG_URL = os.environ.get("FLEET_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@dataclass
class Db:
    """A migrated, empty database for one test."""

    backend: str
    url: str
    engine: Engine
    sessions: sessionmaker[Session]


def _admin_url() -> str:
    u = make_url(PG_URL)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Engine]:
    """An engine on the test server, or a loud skip when it is unreachable."""
    engine = create_engine(_admin_url(), connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any connection failure means "no server here"
        engine.dispose()
        missing(
            f"PostgreSQL UNREACHABLE at {make_url(PG_URL).render_as_string()}: "
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
            "-- start it (pg_ctlcluster --skip-systemctl-redirect <ver> main start) "
            "or set FLEET_TEST_PG_URL"
        )
    yield engine
    engine.dispose()


@pytest.fixture
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """``empty_url(backend)``: the URL of a new, empty database (dropped at test end)."""
    databases: list[str] = []

    def make(backend: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{tmp_path / f'fleet-{uuid.uuid4().hex[:8]}.db'}"
        return _new_database(request, databases, "template0")

    yield make
    _drop_databases(request, databases)


def _new_database(request: pytest.FixtureRequest, databases: list[str], template: str) -> str:
    """A new database from ``template`` (noted in ``databases`` to drop); its URL."""
    admin: Engine = request.getfixturevalue("pg_admin")
    name = f"fleet_t_{uuid.uuid4().hex[:12]}"
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    databases.append(name)
    return _database_url(name)


def _drop_databases(request: pytest.FixtureRequest, databases: list[str]) -> None:
    if not databases:
        return
    admin: Engine = request.getfixturevalue("pg_admin")
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for name in databases:
            # FORCE: a pool the code under test left open must not keep it.
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def pg_template(pg_admin: Engine) -> Iterator[str]:
    """A database this process migrated to head once, the template of every
    ``db`` on PostgreSQL (no test connects to it: a template must be idle)."""
    name = f"fleet_tpl_{uuid.uuid4().hex[:12]}"
    with pg_admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        upgrade(_database_url(name))
        yield name
    finally:
        with pg_admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _database_url(name: str) -> str:
    return make_url(_admin_url()).set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def migrated_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """``migrated_url(backend)``: the URL of a new database at the newest
    revision, empty of rows, private to this test (dropped at test end)."""
    databases: list[str] = []

    def make(backend: str) -> str:
        if backend == "sqlite":
            return migrated_sqlite(tmp_path / f"fleet-{uuid.uuid4().hex[:8]}.db")
        return _new_database(request, databases, request.getfixturevalue("pg_template"))

    yield make
    _drop_databases(request, databases)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name == "postgresql":
        request.getfixturevalue("pg_admin")  # skip early, loudly
    return name


@pytest.fixture
def db(backend: str, migrated_url: Callable[[str], str]) -> Iterator[Db]:
    """The parametrised database: migrated to head, empty, private to this test."""
    url = migrated_url(backend)
    engine = make_engine(url)
    try:
        yield Db(backend, url, engine, session_factory(engine))
    finally:
        engine.dispose()
