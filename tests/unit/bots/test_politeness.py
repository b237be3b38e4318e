from __future__ import annotations

import asyncio

import pytest

from bots.politeness import Politeness, PortalLimits, RateLimiter


class FakeClock:
    """Time that moves only when the limiter sleeps: the pacing, without the waiting."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def test_rate_limiter_paces_after_the_burst() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_minute=1200, burst=3, clock=clock, sleep=clock.sleep)  # 20 a second
    granted_at = []
    for _ in range(13):
        await limiter.acquire()
        granted_at.append(round(clock.now - 100.0, 6))
    # 3 at once from the burst, then one every 1/20 s
    assert granted_at == [0.0, 0.0, 0.0] + [round(0.05 * i, 6) for i in range(1, 11)]
    assert limiter.waited == pytest.approx(0.5)
    assert limiter.granted == 13


async def test_rate_limiter_refills_while_idle_but_never_past_the_burst() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_minute=60, burst=2, clock=clock, sleep=clock.sleep)  # 1 a second
    for _ in range(2):
        await limiter.acquire()
    clock.now += 3600  # an hour idle saves up two tokens, not 3,600
    start = clock.now
    for _ in range(4):
        await limiter.acquire()
    assert clock.now - start == pytest.approx(2.0)


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
