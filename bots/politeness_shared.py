"""A portal's request limit held by the whole fleet, through Redis.

``bots.politeness.RateLimiter`` is a bucket in one process: N Celery workers
on N hosts would each send a portal its whole allowance, which is how real
accounts get locked. :class:`SharedRateLimiter` keeps one bucket per portal in
Redis instead (the broker the Celery fleet already has), as a GCRA
(generic cell rate algorithm): the key holds the theoretical arrival time of
the next request; one Lua script, atomic on the server, admits a request or
says how long to wait. Time is the Redis server's (``TIME``), so the hosts'
clocks need not agree. In-process dispatch keeps the local bucket.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

KEY_PREFIX = "fleet:politeness:"

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


__all__ = ["KEY_PREFIX", "SharedRateLimiter"]
