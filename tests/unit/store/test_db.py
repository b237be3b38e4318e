"""Engine tuning, transactions and init_db on SQLite."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from store.db import init_db, make_engine, session_factory, transaction
from store.migrate import current_revision, head_revision
from store.models import Portal
from store.repositories import deductions
from tests.integration.store.factories import deduction


def test_sqlite_connections_are_tuned(engine: Engine) -> None:
    with engine.connect() as conn:
        pragma = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "foreign_keys", "synchronous", "busy_timeout")
        }
    assert pragma == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "synchronous": 1,
        "busy_timeout": 30000,
    }


def test_postgres_urls_go_through_psycopg3() -> None:
    engine = make_engine("postgresql://user@db.invalid/fleet")
    assert engine.dialect.driver == "psycopg"
    engine.dispose()
    with pytest.raises(ValueError, match="unsupported"):
        make_engine("mysql://x@y/z")


def test_init_db_creates_the_file_and_migrates_to_head(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new' / 'dir' / 'fleet.db'}"
    engine = init_db(url)
    engine.dispose()
    assert (tmp_path / "new" / "dir" / "fleet.db").is_file()
    assert current_revision(url) == head_revision()
    init_db(url).dispose()  # idempotent


def test_transaction_commits_or_rolls_back(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as s:
        s.add(Portal(name="megamart"))

    def fail_half_way() -> None:
        with transaction(sessions) as s:
            s.add(Portal(name="shopright"))
            s.flush()
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_half_way()
    with transaction(sessions, write=False) as s:
        assert s.execute(select(Portal.name)).scalars().all() == ["megamart"]


def test_foreign_keys_are_enforced(sessions: sessionmaker[Session]) -> None:
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), transaction(sessions) as s:
        s.execute(
            text(
                "INSERT INTO accounts (portal, username, display_name, enabled, "
                "created_at, updated_at) VALUES ('nowhere', 'u', '', 1, "
                "'2025-01-01', '2025-01-01')"
            )
        )


def test_write_transactions_queue_instead_of_failing(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    """Read-then-write in two threads at once: with BEGIN IMMEDIATE neither sees
    "database is locked"; both land."""
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            for n in range(20):
                with transaction(sessions) as s:
                    s.execute(select(func.count()).select_from(Portal)).scalar_one()
                    deductions.upsert(s, deduction(f"T{i}-{n}"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    with transaction(session_factory(engine), write=False) as s:
        assert s.execute(text("SELECT count(*) FROM deductions")).scalar_one() == 40
