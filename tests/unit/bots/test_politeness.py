from __future__ import annotations

import asyncio
import time

import pytest

from bots.politeness import Politeness, PortalLimits, RateLimiter


async def test_rate_limiter_paces_after_the_burst() -> None:
    limiter = RateLimiter(per_minute=1200, burst=3)  # 20 a second
    started = time.monotonic()
    for _ in range(13):
        await limiter.acquire()
    # 3 free, then 10 at 20/s: at least half a second (a lower bound, not a timing test)
    assert time.monotonic() - started >= 0.45
    assert limiter.waited >= 0.45


async def test_rate_limiter_serves_waiters_in_order() -> None:
    limiter = RateLimiter(per_minute=6000, burst=1)
    order: list[int] = []

    async def take(i: int) -> None:
        await limiter.acquire()
        order.append(i)

    await asyncio.gather(*(take(i) for i in range(8)))
    assert order == list(range(8))


def test_bad_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(per_minute=0)


async def test_jobs_per_portal_are_capped() -> None:
    polite = Politeness({"megamart": PortalLimits(concurrent_jobs=2)})
    running = peak = 0
    gate = asyncio.Event()

    async def job() -> None:
        nonlocal running, peak
        async with polite.jobs("megamart"):
            running += 1
            peak = max(peak, running)
            await gate.wait()
            running -= 1

    tasks = [asyncio.create_task(job()) for _ in range(5)]
    for _ in range(10):
        await asyncio.sleep(0)
    assert peak == 2
    gate.set()
    await asyncio.gather(*tasks)
    assert polite.bucket("megamart") is None  # no request limit configured
    assert polite.for_portal("freshco") == PortalLimits()
