"""Account locks that hold across hosts (the ``AccountLock`` protocol of bots/locks.py).

Two implementations, pick by what the fleet already runs:

``PostgresAccountLock``
    A session-level advisory lock (``pg_try_advisory_lock``) on a connection
    opened for the hold and closed after it. PostgreSQL drops session locks
    when the connection ends, so a worker killed with SIGKILL (or a host that
    loses power: TCP keepalive ends the session) releases its accounts without
    anyone cleaning up. Nothing is written to any table.

``RedisAccountLock``
    ``SET key token NX PX ttl``, renewed every ``ttl/3`` while held, released
    with a compare-and-delete so a holder never deletes someone else's lock.
    A dead worker stops renewing and its lock expires after ``ttl``. Every
    acquisition takes a fencing token (a per-account counter, strictly
    increasing, readable in :data:`current_fence` inside the hold). If a
    renewal finds the lock gone (a long GC pause, a partition), the holding
    task is cancelled and :class:`LockLost` raised from the ``async with``:
    the job stops instead of running on beside a new holder. Jobs are
    idempotent, so the new holder's run is the one that counts.

Both keep an in-process ``asyncio.Lock`` per account too, so two jobs in one
process queue locally instead of polling the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from bots.locks import LockTimeout

current_fence: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "current_fence", default=None
)
"""The fencing token of the Redis account lock the current task holds."""


class LockLost(RuntimeError):
    """The lock expired or was taken while held; the job was stopped."""


def _key64(namespace: str, portal: str, account: str) -> int:
    """A signed 64-bit advisory-lock key for (portal, account); names never reach SQL text."""
    digest = hashlib.sha256(f"{namespace}\0{portal}\0{account}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class _LocalGuard:
    def __init__(self) -> None:
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    @contextlib.asynccontextmanager
    async def hold(self, portal: str, account: str, wait_seconds: float) -> AsyncIterator[None]:
        lock = self._locks.setdefault((portal, account), asyncio.Lock())
        try:
            await asyncio.wait_for(lock.acquire(), timeout=max(wait_seconds, 0.001))
        except TimeoutError:
            raise LockTimeout(f"{portal} account is busy with another job") from None
        try:
            yield
        finally:
            lock.release()


class PostgresAccountLock:
    """Advisory locks on a PostgreSQL server (``postgresql://`` or SQLAlchemy's
    ``postgresql+psycopg://`` URL); one short-lived connection per hold."""

    def __init__(
        self, url: str, *, namespace: str = "fleet.account", poll_seconds: float = 0.2
    ) -> None:
        self.conninfo = _libpq_url(url)
        self.namespace = namespace
        self.poll_seconds = poll_seconds
        self._local = _LocalGuard()

    def __repr__(self) -> str:
        return f"<PostgresAccountLock namespace={self.namespace}>"  # the URL may hold a password

    @contextlib.asynccontextmanager
    async def hold(
        self, portal: str, account: str, *, wait_seconds: float = 0
    ) -> AsyncIterator[None]:
        import psycopg

        key = _key64(self.namespace, portal, account)
        deadline = time.monotonic() + wait_seconds
        async with self._local.hold(portal, account, wait_seconds):
            conn = await psycopg.AsyncConnection.connect(
                self.conninfo, autocommit=True, application_name="fleet-account-lock"
            )
            try:
                while True:
                    cur = await conn.execute("SELECT pg_try_advisory_lock(%s)", (key,))
                    row = await cur.fetchone()
                    if row and row[0]:
                        break
                    if time.monotonic() >= deadline:
                        raise LockTimeout(f"{portal} account is busy on another worker")
                    await asyncio.sleep(self.poll_seconds)
                try:
                    yield
                finally:
                    with contextlib.suppress(Exception):
                        await conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
            finally:
                await conn.close()  # closing alone releases the lock too


_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class RedisAccountLock:
    """Expiring, renewed, fenced locks in Redis (one server; not Redlock)."""

    def __init__(
        self,
        url: str,
        *,
        ttl_seconds: float = 30.0,
        poll_seconds: float = 0.2,
        prefix: str = "fleet:lock:account:",
    ) -> None:
        if ttl_seconds < 1:
            raise ValueError("ttl_seconds must be at least 1")
        self.url = url
        self.ttl_ms = int(ttl_seconds * 1000)
        self.poll_seconds = poll_seconds
        self.prefix = prefix
        self._local = _LocalGuard()
        self._client: Any = None

    def __repr__(self) -> str:
        return f"<RedisAccountLock prefix={self.prefix!r} ttl_ms={self.ttl_ms}>"

    def _redis(self) -> Any:
        if self._client is None:
            import redis.asyncio as aioredis

            self._client = aioredis.Redis.from_url(self.url)
        return self._client

    def _key(self, portal: str, account: str) -> str:
        digest = hashlib.sha256(f"{portal}\0{account}".encode()).hexdigest()[:32]
        return f"{self.prefix}{portal[:32]}:{digest}"

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @contextlib.asynccontextmanager
    async def hold(
        self, portal: str, account: str, *, wait_seconds: float = 0
    ) -> AsyncIterator[None]:
        r = self._redis()
        key = self._key(portal, account)
        deadline = time.monotonic() + wait_seconds
        async with self._local.hold(portal, account, wait_seconds):
            while True:
                fence = int(await r.incr(f"{key}:fence"))
                token = f"{fence}:{uuid.uuid4().hex}"
                if await r.set(key, token, nx=True, px=self.ttl_ms):
                    break
                if time.monotonic() >= deadline:
                    raise LockTimeout(f"{portal} account is busy on another worker")
                await asyncio.sleep(self.poll_seconds)
            holder = asyncio.current_task()
            lost = asyncio.Event()
            renewer = asyncio.create_task(self._renew(r, key, token, holder, lost))
            fence_reset = current_fence.set(fence)
            try:
                yield
            except asyncio.CancelledError:
                if lost.is_set():
                    raise LockLost(f"{portal} account lock expired while held") from None
                raise
            finally:
                current_fence.reset(fence_reset)
                renewer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await renewer
                with contextlib.suppress(Exception):
                    await r.eval(_RELEASE, 1, key, token)

    async def _renew(
        self, r: Any, key: str, token: str, holder: asyncio.Task[Any] | None, lost: asyncio.Event
    ) -> None:
        interval = self.ttl_ms / 3000
        while True:
            await asyncio.sleep(interval)
            try:
                ok = await r.eval(_RENEW, 1, key, token, self.ttl_ms)
            except Exception:  # noqa: S112  (Redis briefly away: try again before the TTL ends)
                continue
            if not ok:
                lost.set()
                if holder is not None:
                    holder.cancel()
                return


def _libpq_url(url: str) -> str:
    """SQLAlchemy's ``postgresql+psycopg://`` spelling to a libpq URL."""
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme.startswith("postgres"):
        raise ValueError("PostgresAccountLock needs a postgresql:// URL")
    return f"postgresql://{rest}"


def lock_for_url(url: str, **kwargs: Any) -> PostgresAccountLock | RedisAccountLock:
    """The distributed lock for a database or broker URL (postgresql:// or redis://)."""
    scheme = url.partition("://")[0].lower()
    if scheme.startswith("postgres"):
        return PostgresAccountLock(url, **kwargs)
    if scheme in ("redis", "rediss"):
        return RedisAccountLock(url, **kwargs)
    raise ValueError(f"no distributed account lock for {scheme!r} URLs (postgresql, redis)")


__all__ = [
    "LockLost",
    "PostgresAccountLock",
    "RedisAccountLock",
    "current_fence",
    "lock_for_url",
]
