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


async def test_a_forms_redirect_hop_is_paced_too(context, world_factory) -> None:  # type: ignore[no-untyped-def]
    """Logging in posts a form answered by a redirect (post/redirect/get): a
    route sees the POST but not the hop, which would reach the portal unpaced."""
    running = world_factory()
    account = running.world.scenario.accounts_on("megamart")[0]
    polite = Politeness({"megamart": PortalLimits(requests_per_minute=6000, burst=2)})
    await polite.install("megamart", context)
    bucket = polite.bucket("megamart")
    assert bucket is not None
    page = await context.new_page()
    before = running.world.record.requests["megamart"]
    await page.goto(running.urls["megamart"] + "/login")
    await page.fill("input[name=username]", account.username)
    await page.fill("input[name=password]", account.password)
    async with page.expect_navigation():
        await page.click("[type=submit]")
    assert running.world.record.statuses.get(("megamart", 303), 0) >= 1  # a redirect happened
    served = running.world.record.requests["megamart"] - before
    assert served >= 3  # the form, the post, the page it redirected to
    assert bucket.granted == served, (bucket.granted, served)
