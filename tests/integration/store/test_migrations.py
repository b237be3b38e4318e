"""Migrations: from empty to head and back to base, on both databases."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

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
