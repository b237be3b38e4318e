"""A portal's request limit held by the whole fleet: two processes pacing
requests to one portal through Redis (bots/politeness_shared.py) send, together,
what one allowance permits, where two local buckets would send twice that.
The Celery fleet's runtime gets the shared bucket whenever its broker is Redis."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import redis

from bots.politeness_shared import KEY_PREFIX, SharedRateLimiter
from fleet.runtime_factory import politeness_from
from fleet.settings import Settings
from tests.requirements import missing

URL = "redis://127.0.0.1:6379/13"
PER_MINUTE, BURST, SECONDS = 120, 2, 4.0

_PACER = """
import asyncio, json, sys, time
from bots.politeness_shared import SharedRateLimiter
url, portal, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])

async def main():
    limiter = SharedRateLimiter(url, portal, PER_MINUTE, burst=BURST)
    granted = []
    end = time.time() + seconds
    while time.time() < end:
        await limiter.acquire()
        granted.append(time.time())
    await limiter.close()
    print(json.dumps(granted))

asyncio.run(main())
""".replace("PER_MINUTE", str(PER_MINUTE)).replace("BURST", str(BURST))


def _redis() -> redis.Redis:
    client = redis.Redis.from_url(URL)
    try:
        client.ping()
    except redis.ConnectionError:
        missing(f"Redis at {URL}")
    return client


def test_two_processes_share_one_portals_allowance() -> None:
    client = _redis()
    portal = f"test-{uuid.uuid4().hex[:8]}"
    try:
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", _PACER, URL, portal, str(SECONDS)],
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outs = [p.communicate(timeout=60)[0] for p in procs]
        assert all(p.returncode == 0 for p in procs)
    finally:
        client.delete(KEY_PREFIX + portal)
    each = [json.loads(o) for o in outs]
    granted = sorted(t for stamps in each for t in stamps)
    rate = PER_MINUTE / 60
    # the whole allowance for the span: a burst, then the rate (one more for rounding)
    span = granted[-1] - granted[0]
    assert len(granted) <= BURST + rate * span + 1, (len(granted), span)
    # two local buckets would have granted about twice the rate over these seconds
    assert len(granted) < 2 * rate * SECONDS
    assert all(len(stamps) >= 2 for stamps in each), "both processes are served"
    for i, start in enumerate(granted):  # no one-second window past a burst and the rate
        window = [t for t in granted[i:] if t < start + 1.0]
        assert len(window) <= BURST + rate, window


def test_the_celery_fleet_paces_portals_through_redis_and_in_process_locally() -> None:
    _redis()
    limits = {"megamart": 30}
    shared = politeness_from(Settings(broker_url=URL, portal_requests_per_minute=limits))
    assert isinstance(shared.bucket("megamart"), SharedRateLimiter)
    assert shared.bucket("shopright") is None  # no limit set: nothing to pace
    local = politeness_from(Settings(portal_requests_per_minute=limits))
    assert not isinstance(local.bucket("megamart"), SharedRateLimiter)


async def test_closing_the_politeness_lets_go_of_the_redis_connection() -> None:
    """What ``open_runtime`` does when the runtime closes: the fleet-wide
    bucket's Redis connection goes back, so a worker that opens and closes
    runtimes does not leak one per portal each time."""
    from redis.asyncio import Redis

    _redis()
    polite = politeness_from(Settings(broker_url=URL, portal_requests_per_minute={"megamart": 600}))
    bucket = polite.bucket("megamart")
    assert isinstance(bucket, SharedRateLimiter)
    await bucket.acquire()  # opens its connection
    probe = Redis.from_url(URL)
    try:
        names = [c.get("name", "") for c in await probe.client_list()]
        before = len(names)
        await polite.aclose()
        after = len([c.get("name", "") for c in await probe.client_list()])
    finally:
        await probe.aclose()
    assert after == before - 1, (before, after)
    assert polite.bucket("megamart") is not bucket, "a new bucket after closing, not the old one"
