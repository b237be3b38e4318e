from __future__ import annotations

import pytest

from bots.politeness import Politeness, PortalLimits

pytestmark = pytest.mark.browser


async def test_page_traffic_is_paced_per_portal(context, world_factory) -> None:  # type: ignore[no-untyped-def]
    running = world_factory()
    polite = Politeness({"megamart": PortalLimits(requests_per_minute=600, burst=2)})
    throttle = await polite.install("megamart", context)
    assert throttle is not None
    page = await context.new_page()
    bucket = polite.bucket("megamart")
    assert bucket is not None
    before = running.world.record.requests["megamart"]
    for _ in range(8):
        await page.goto(running.urls["megamart"] + "/login")
        await throttle()  # a request-API download waits on the same bucket
    served = running.world.record.requests["megamart"] - before
    assert served >= 8
    # every request the portal saw went through the bucket, and so did the 8 downloads
    # (the pacing itself is tested with a clock of its own in tests/unit/bots)
    assert bucket.granted >= served + 8
    assert bucket.waited > 0
    assert running.world.record.statuses.get(("megamart", 429), 0) == 0
