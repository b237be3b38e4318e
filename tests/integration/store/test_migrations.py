"""Migrations: from empty to head and back to base, on both databases."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from scheduler import state
from store.db import make_engine
from store.migrate import current_revision, downgrade, head_revision, upgrade
from store.models import Base


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_from_empty_then_downgrade_to_base(
    backend: str, empty_url: Callable[[str], str]
) -> None:
    url = empty_url(backend)
    assert current_revision(url) is None

    upgrade(url)
    assert current_revision(url) == head_revision()
    assert _tables(url) == set(Base.metadata.tables)

    upgrade(url)  # idempotent
    assert current_revision(url) == head_revision()

    downgrade(url, "base")
    assert current_revision(url) is None
    assert _tables(url) == set()

    upgrade(url)  # and back up again from base
    assert _tables(url) == set(Base.metadata.tables)


def test_models_match_the_newest_migration(backend: str, empty_url: Callable[[str], str]) -> None:
    url = empty_url(backend)
    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(ctx, Base.metadata) == []
    finally:
        engine.dispose()


def test_processes_migrating_at_once_all_succeed(
    backend: str, empty_url: Callable[[str], str]
) -> None:
    """Three workers starting together all call init_db: the migration lock makes
    the later ones wait and find the work done instead of failing on CREATE TABLE.
    (Processes, as in production: Alembic's context is per process, not per thread.)"""
    url = empty_url(backend)
    code = "import sys; from store.migrate import upgrade; upgrade(sys.argv[1])"
    procs = [
        subprocess.Popen([sys.executable, "-c", code, url], stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    failures = []
    for p in procs:
        _, err = p.communicate(timeout=120)
        if p.returncode != 0:
            failures.append(err[-2000:])
    assert failures == []
    assert current_revision(url) == head_revision()


def test_0004_keeps_requests_and_the_pauses_the_scheduler_created(
    backend: str, empty_url: Callable[[str], str]
) -> None:
    """A database from before 0004: a retrieval request with no portal, and the
    pause table the scheduler used to create on first use, with a pause in it."""
    url = empty_url(backend)
    upgrade(url, "0003")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO retrieval_requests (requester, target_kind, target_value,"
                    " portal, priority, status, attempts, created_at, updated_at) VALUES"
                    " ('ana', 'pod', '123', NULL, 0, 'queued', 0, :t, :t)"
                ),
                {"t": datetime(2026, 3, 2, tzinfo=UTC)},
            )
            conn.execute(
                text(
                    "CREATE TABLE scheduler_paused_accounts (portal VARCHAR(64) NOT NULL,"
                    " account VARCHAR(320) NOT NULL, paused_by VARCHAR(128) NOT NULL,"
                    " paused_at TIMESTAMP WITH TIME ZONE NOT NULL,"
                    " PRIMARY KEY (portal, account))"
                )
            )
            conn.execute(
                text("INSERT INTO scheduler_paused_accounts VALUES ('megamart', '*', 'ops', :t)"),
                {"t": datetime(2026, 3, 2, tzinfo=UTC)},
            )
        upgrade(url)
        assert current_revision(url) == head_revision()
        assert state.paused(engine) == {("megamart", "*")}
        with engine.connect() as conn:
            assert conn.execute(text("SELECT portal FROM retrieval_requests")).scalar_one() == ""
    finally:
        engine.dispose()
