"""Account locks across processes on real PostgreSQL and Redis: exclusion,
release on exit, release when the holder is killed, and Redis fencing."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import uuid

import pytest

from bots.locks import LockTimeout
from bots.locks_distributed import (
    LockLost,
    PostgresAccountLock,
    RedisAccountLock,
    current_fence,
)

HOLDER = textwrap.dedent(
    """
    import asyncio, sys
    from bots.locks_distributed import lock_for_url
    async def main():
        lock = lock_for_url(sys.argv[1], **({"ttl_seconds": 2} if sys.argv[1].startswith("redis") else {}))
        async with lock.hold("megamart", sys.argv[2]):
            print("held", flush=True)
            await asyncio.sleep(3600)
    asyncio.run(main())
    """
)


def _start_holder(url: str, account: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url, account],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    return proc


def _locks(kind: str, url: str) -> tuple[object, object]:
    if kind == "postgres":
        return PostgresAccountLock(url, poll_seconds=0.05), PostgresAccountLock(url)
    return RedisAccountLock(url, ttl_seconds=2, poll_seconds=0.05), RedisAccountLock(
        url, ttl_seconds=2
    )


@pytest.fixture(params=["postgres", "redis"])
def lock_url(request: pytest.FixtureRequest) -> tuple[str, str]:
    return request.param, request.getfixturevalue(
        f"{'pg' if request.param == 'postgres' else 'redis'}_url"
    )


async def test_one_holder_at_a_time_across_clients(lock_url: tuple[str, str]) -> None:
    kind, url = lock_url
    a, b = _locks(kind, url)
    account = f"acct-{uuid.uuid4().hex}"
    async with a.hold("megamart", account):  # type: ignore[attr-defined]
        with pytest.raises(LockTimeout):
            async with b.hold("megamart", account, wait_seconds=0.3):  # type: ignore[attr-defined]
                pass
        async with b.hold("megamart", account + "-other"):  # type: ignore[attr-defined]
            pass  # other accounts are free
    async with b.hold("megamart", account, wait_seconds=1):  # type: ignore[attr-defined]
        pass


async def test_a_killed_holder_releases_the_account(lock_url: tuple[str, str]) -> None:
    kind, url = lock_url
    account = f"acct-{uuid.uuid4().hex}"
    proc = _start_holder(url, account)
    try:
        lock, _ = _locks(kind, url)
        with pytest.raises(LockTimeout):
            async with lock.hold("megamart", account, wait_seconds=0.3):  # type: ignore[attr-defined]
                pass
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        # PostgreSQL: at once (the session ends); Redis: within the 2 s TTL.
        async with lock.hold("megamart", account, wait_seconds=10):  # type: ignore[attr-defined]
            pass
    finally:
        if proc.poll() is None:
            proc.kill()


async def test_redis_fencing_tokens_increase_and_a_lost_lock_stops_the_holder(
    redis_url: str,
) -> None:
    import redis.asyncio as aioredis

    lock = RedisAccountLock(redis_url, ttl_seconds=1.5, poll_seconds=0.05)
    account = f"acct-{uuid.uuid4().hex}"
    async with lock.hold("megamart", account):
        first = current_fence.get()
    async with lock.hold("megamart", account):
        second = current_fence.get()
    assert first is not None
    assert second is not None
    assert second > first
    assert current_fence.get() is None

    r = aioredis.Redis.from_url(redis_url)
    try:
        with pytest.raises(LockLost):  # noqa: PT012  (the lock is lost inside the body)
            async with lock.hold("megamart", account):
                await r.delete(lock._key("megamart", account))  # another party took over
                await asyncio.sleep(30)  # the renewal notices within ttl/3 and stops us
    finally:
        await r.aclose()
        await lock.aclose()
