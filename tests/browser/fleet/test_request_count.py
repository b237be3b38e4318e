"""A run's ``requests`` count is what the portal served: page traffic and the
request API's downloads alike (ops reads it as the load the fleet puts on a
portal, the bench as requests per document)."""

from __future__ import annotations

import pytest

from bots.jobs import Job

pytestmark = pytest.mark.browser


async def test_a_syncs_request_count_matches_the_portals_own_record(make_demo) -> None:  # type: ignore[no-untyped-def]
    async with make_demo() as demo:
        account = demo.scenario.accounts_on("megamart")[0].username
        before = demo.world.world.record.requests["megamart"]
        [result] = await demo.run_jobs([Job("megamart", account, "sync")])
        served = demo.world.world.record.requests["megamart"] - before
        assert result.status == "succeeded", result
        assert result.counts["documents.new"] > 0  # documents came through the request API
        assert result.counts["requests"] == served
