"""A portal's request limit and session limit held by the whole fleet, through Redis.

``bots.politeness.RateLimiter`` is a bucket in one process: N Celery workers
on N hosts would each send a portal its whole allowance, which is how real
accounts get locked. :class:`SharedRateLimiter` keeps one bucket per portal in
Redis instead (the broker the Celery fleet already has), as a GCRA
(generic cell rate algorithm): the key holds the theoretical arrival time of
the next request; one Lua script, atomic on the server, admits a request or
says how long to wait. Time is the Redis server's (``TIME``), so the hosts'
clocks need not agree. In-process dispatch keeps the local bucket.

:class:`SharedSessionSlots` does the same for ``max_sessions``: a sorted set
per portal whose members are leases scored by their expiry. A job takes a
lease before it logs in, renews it while it works and gives it back when it
ends; a worker that dies without giving it back loses it when it expires, so
a SIGKILL costs the fleet one slot for at most ``lease_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import structlog
from redis.asyncio import Redis

log = structlog.get_logger(__name__)

KEY_PREFIX = "fleet:politeness:"
SESSIONS_PREFIX = "fleet:sessions:"

_GCRA = """
local now_s = redis.call('TIME')
local now = tonumber(now_s[1]) * 1000000 + tonumber(now_s[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allow_at = tat - tolerance
if now < allow_at then
  return allow_at - now
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return 0
"""
"""KEYS[1]: the portal's bucket; ARGV: the interval between requests and the
burst tolerance, in microseconds. Returns 0 (admitted) or microseconds to wait."""


class SharedRateLimiter:
    """``per_minute`` requests a minute to one portal across every process that
    uses the same Redis and ``portal``, at most ``burst`` at once. The same
    interface as ``bots.politeness.RateLimiter`` (``acquire``, ``waited``,
    ``granted``)."""

    def __init__(
        self,
        redis_url: str,
        portal: str,
        per_minute: float,
        burst: int = 5,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if per_minute <= 0:
            raise ValueError("requests_per_minute must be positive")
        self.key = KEY_PREFIX + portal
        self.interval_us = int(60_000_000 / per_minute)
        self.tolerance_us = self.interval_us * (max(1, burst) - 1)
        self._redis = Redis.from_url(redis_url)
        self._script = self._redis.register_script(_GCRA)
        self._sleep = sleep
        self.waited = 0.0
        self.granted = 0

    async def acquire(self) -> None:
        while True:
            wait_us = int(
                await self._script(keys=[self.key], args=[self.interval_us, self.tolerance_us])
            )
            if wait_us <= 0:
                self.granted += 1
                return
            delay = wait_us / 1_000_000
            self.waited += delay
            await self._sleep(delay)  # pacing requests: the whole point of a limiter

    async def close(self) -> None:
        await self._redis.aclose()


_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local held = redis.call('ZSCORE', KEYS[1], ARGV[1])
if ARGV[4] == 'renew' and not held then
  return 0
end
if held or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ttl)
  return 1
end
return 0
"""
"""KEYS[1]: the portal's leases; ARGV: the lease, the limit, its lifetime (ms),
'take' or 'renew'. Expired leases go first, so a dead worker's slot frees
itself; a renewal never takes a slot the lease no longer holds. 1: held."""


class SharedSessionSlots:
    """At most ``limit`` jobs logged in to ``portal`` at once across every
    process on the same Redis: the fleet-wide ``max_sessions``.

    Waiting polls every ``poll_seconds`` (no queue: a waiter that loses a race
    tries again; a job lasts minutes, a poll costs one round trip)."""

    def __init__(
        self,
        redis_url: str,
        portal: str,
        limit: int,
        *,
        lease_seconds: float = 30.0,
        poll_seconds: float = 0.5,
    ) -> None:
        if limit < 1:
            raise ValueError("max_sessions must be at least 1")
        self.key = SESSIONS_PREFIX + portal
        self.limit = limit
        self.lease_ms = int(lease_seconds * 1000)
        self.poll_seconds = poll_seconds
        self._redis = Redis.from_url(redis_url)
        self._script = self._redis.register_script(_TAKE)

    async def _take(self, lease: str, mode: str) -> bool:
        args: list[str | int] = [lease, self.limit, self.lease_ms, mode]
        return bool(int(await self._script(keys=[self.key], args=args)))

    async def _renew(self, lease: str) -> None:
        """Keep the lease alive at a third of its life: two renewals may fail
        (a Redis blip) before another worker may take the slot."""
        while True:
            await asyncio.sleep(self.lease_ms / 3000)
            try:
                if not await self._take(lease, "renew"):
                    log.warning("politeness.session_lease_lost", key=self.key)
                    return
            except Exception as exc:
                log.warning("politeness.session_renew_failed", error_class=type(exc).__name__)

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        """Wait for a slot, keep it while the block runs, give it back after."""
        lease = uuid.uuid4().hex
        while True:
            if await self._take(lease, "take"):
                break
            await asyncio.sleep(self.poll_seconds)  # another host's job ends: no event here
        renewing = asyncio.create_task(self._renew(lease), name=f"lease {self.key}")
        try:
            yield
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
            with contextlib.suppress(Exception):  # else it expires by itself
                await self._redis.zrem(self.key, lease)

    async def close(self) -> None:
        await self._redis.aclose()


__all__ = ["KEY_PREFIX", "SESSIONS_PREFIX", "SharedRateLimiter", "SharedSessionSlots"]
