"""One active scheduler per job store; the others wait as hot standbys.

APScheduler 3 must not run two schedulers on one job store (both would fire
every job). The active scheduler holds a lock tied to its own life:

- PostgreSQL: a session-level advisory lock on a dedicated connection. The
  server drops it the moment that connection ends (process killed, host
  gone: TCP keepalive), and a standby polling ``pg_try_advisory_lock`` takes
  over within ``standby_poll_seconds``.
- SQLite (one machine): an ``flock`` on a file beside the database, which
  the kernel drops when the holder dies.

The active scheduler also checks, as often, that its lock connection is
alive; if it is not, it stops at once rather than risk running beside the
standby that has taken over.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.engine import make_url

from records.filelock import FileLock

if TYPE_CHECKING:
    import psycopg


class LeaderLock(Protocol):
    async def try_acquire(self) -> bool: ...

    async def alive(self) -> bool: ...

    async def release(self) -> None: ...


class PostgresLeaderLock:
    def __init__(self, url: str, name: str = "fleet.scheduler") -> None:
        from bots.locks_distributed import _libpq_url

        self.conninfo = _libpq_url(url)
        digest = hashlib.sha256(name.encode()).digest()
        self.key = int.from_bytes(digest[:8], "big", signed=True)
        self._conn: psycopg.AsyncConnection[Any] | None = None

    async def try_acquire(self) -> bool:
        import psycopg

        if self._conn is None:
            self._conn = await psycopg.AsyncConnection.connect(
                self.conninfo,
                autocommit=True,
                application_name="fleet-scheduler-leader",
                keepalives=1,
                keepalives_idle=10,
                keepalives_interval=5,
                keepalives_count=3,
            )
        cur = await self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,))
        row = await cur.fetchone()
        return bool(row and row[0])

    async def alive(self) -> bool:
        if self._conn is None:
            return False
        try:
            await asyncio.wait_for(self._conn.execute("SELECT 1"), timeout=10)
        except Exception:
            return False
        return True

    async def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None


class FileLeaderLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = FileLock(path)

    async def try_acquire(self) -> bool:
        return self._lock.acquire(blocking=False)

    async def alive(self) -> bool:
        return self._lock.held

    async def release(self) -> None:
        self._lock.release()


def leader_lock_for(database_url: str) -> LeaderLock:
    u = make_url(database_url)
    if u.get_backend_name() == "postgresql":
        return PostgresLeaderLock(database_url)
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        return FileLeaderLock(Path(u.database).with_name(Path(u.database).name + ".scheduler.lock"))
    raise ValueError("the scheduler needs a PostgreSQL or SQLite-file database")


async def wait_for_leadership(
    lock: LeaderLock, stop: asyncio.Event, poll_seconds: float, on_standby: object = None
) -> bool:
    """Poll until this process holds the lock (True) or ``stop`` is set (False)."""
    announced = False
    while not stop.is_set():
        try:
            if await lock.try_acquire():
                return True
        except Exception:
            await lock.release()
        if not announced and callable(on_standby):
            on_standby()
            announced = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=poll_seconds)
    return False
