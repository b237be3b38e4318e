"""A portal's limits held by the whole fleet: two processes pacing requests to
one portal through Redis (bots/politeness_shared.py) send, together, what one
allowance permits, where two local buckets would send twice that; processes
taking session slots never hold more than ``max_sessions`` at once, and a
killed one's slot frees itself. The Celery fleet's runtime gets both whenever
its broker is Redis (real workers: test_cross_host_limit.py)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid

import redis

from bots.politeness_shared import (
    KEY_PREFIX,
    SESSIONS_PREFIX,
    SharedRateLimiter,
    SharedSessionSlots,
)
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


_HOLDER = """
import asyncio, json, sys, time
from bots.politeness_shared import SharedSessionSlots
url, portal, limit, jobs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

async def main():
    slots = SharedSessionSlots(url, portal, limit, lease_seconds=2, poll_seconds=0.05)
    held = []
    for _ in range(jobs):
        async with slots.hold():
            start = time.time()
            await asyncio.sleep(0.3)  # a job logged in to the portal
            held.append((start, time.time()))
    await slots.close()
    print(json.dumps(held))

asyncio.run(main())
"""


def _most_at_once(intervals: list[tuple[float, float]]) -> int:
    """The most intervals open at one instant (an end before a start at a tie)."""
    edges = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    most = now = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def test_two_processes_share_one_portals_session_slots() -> None:
    """max_sessions = 2 across three processes: never three jobs at once,
    though each process alone would run its own (one at a time here, three
    processes: three at once if the slots were per process)."""
    client = _redis()
    portal = f"test-{uuid.uuid4().hex[:8]}"
    try:
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", _HOLDER, URL, portal, "2", "4"],
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        outs = [p.communicate(timeout=60)[0] for p in procs]
        assert all(p.returncode == 0 for p in procs)
        assert client.zcard(SESSIONS_PREFIX + portal) == 0, "every slot given back"
    finally:
        client.delete(SESSIONS_PREFIX + portal)
    held = [tuple(i) for o in outs for i in json.loads(o)]
    assert len(held) == 12
    assert _most_at_once(held) == 2  # the limit, and it was reached


def test_a_dead_workers_session_slot_frees_itself() -> None:
    """A worker killed while logged in never gives its slot back: the lease
    expires, and the next job gets the slot then, not never."""
    client = _redis()
    portal = f"test-{uuid.uuid4().hex[:8]}"
    taken = """
import asyncio, sys
from bots.politeness_shared import SharedSessionSlots

async def main():
    slots = SharedSessionSlots(sys.argv[1], sys.argv[2], 1, lease_seconds=1)
    async with slots.hold():
        print("held", flush=True)
        await asyncio.sleep(600)

asyncio.run(main())
"""
    proc = subprocess.Popen(
        [sys.executable, "-c", taken, URL, portal], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "held"
        time.sleep(1.5)  # renewed past its first lifetime: a live holder keeps its slot
        assert client.zcard(SESSIONS_PREFIX + portal) == 1
        proc.kill()
        proc.wait(timeout=10)

        async def next_job() -> None:
            slots = SharedSessionSlots(URL, portal, 1, lease_seconds=1, poll_seconds=0.05)
            try:
                async with asyncio.timeout(10), slots.hold():
                    pass
            finally:
                await slots.close()

        asyncio.run(next_job())
    finally:
        if proc.poll() is None:
            proc.kill()
        client.delete(SESSIONS_PREFIX + portal)


async def test_the_celery_fleets_jobs_per_portal_are_held_in_redis() -> None:
    """What the runtime does around a job (``Politeness.jobs``) takes a lease in
    Redis when the broker is Redis, and gives it back after."""
    client = _redis()
    polite = politeness_from(Settings(broker_url=URL, portal_concurrency={"megamart": 1}))
    key = SESSIONS_PREFIX + "megamart"
    client.delete(key)
    try:
        async with polite.jobs("megamart"):
            assert client.zcard(key) == 1
        assert client.zcard(key) == 0
    finally:
        await polite.aclose()
        client.delete(key)
