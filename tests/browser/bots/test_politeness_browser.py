from __future__ import annotations

import time

import pytest

from bots.politeness import Politeness, PortalLimits

pytestmark = pytest.mark.browser


async def test_page_traffic_is_paced_per_portal(context, world_factory) -> None:  # type: ignore[no-untyped-def]
    running = world_factory()
    polite = Politeness({"megamart": PortalLimits(requests_per_minute=600, burst=2)})
    throttle = await polite.install("megamart", context)
    assert throttle is not None
    page = await context.new_page()
    before = running.world.record.requests["megamart"]
    started = time.monotonic()
    for _ in range(8):
        await page.goto(running.urls["megamart"] + "/login")
        await throttle()  # a request-API download waits on the same bucket
    elapsed = time.monotonic() - started
    served = running.world.record.requests["megamart"] - before
    assert served >= 8
    # 2 free, then 10 a second for the other 14 or more paced requests (a lower bound)
    assert elapsed >= (served + 8 - 2) / 10 * 0.9
    assert running.world.record.statuses.get(("megamart", 429), 0) == 0
