from __future__ import annotations

import time

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from fixtures.faults import FaultMiddleware, FaultPlan, FaultSpecError, RecordMiddleware
from fixtures.portals.kit import SessionStore
from fixtures.world import World


def _app() -> Starlette:
    async def ok(_):  # type: ignore[no-untyped-def]
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/x", ok), Route("/_world/state", ok)])


def _client(world: World, sessions: SessionStore | None = None) -> httpx.AsyncClient:
    inner = FaultMiddleware(
        _app(),
        world=world,
        portal="megamart",
        on_expire=sessions.expire_all if sessions else None,
    )
    app = RecordMiddleware(inner, world=world, portal="megamart")
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mm")


def test_spec_grammar() -> None:
    plan = FaultPlan.parse("latency_ms=150,jitter_ms=50;megamart:error_rate=0.1,obfuscate=3")
    assert plan.for_portal("freshco").latency_ms == 150
    mm = plan.for_portal("megamart")
    assert (mm.latency_ms, mm.error_rate, mm.obfuscate) == (150, 0.1, 3)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nonsense=1", "unknown fault 'nonsense'"),
        ("megamart:error_rate=1.5", "a share between 0 and 1"),
        ("walmart:latency_ms=1", "unknown portal 'walmart'"),
        ("latency_ms", "expected key=value"),
        ("latency_ms=fast", "not a number"),
        ("latency_ms=-1", "must not be negative"),
    ],
)
def test_bad_specs_are_refused_with_the_part_named(spec: str, message: str) -> None:
    with pytest.raises(FaultSpecError, match=message):
        FaultPlan.parse(spec)


async def test_error_rate_one_fails_every_request_but_not_control(hand_scenario) -> None:  # type: ignore[no-untyped-def]
    world = World(hand_scenario, FaultPlan.parse("error_rate=1"))
    async with _client(world) as c:
        statuses = [(await c.get("/x")).status_code for _ in range(20)]
        control = await c.get("/_world/state")
    assert all(s in (500, 502, 503) for s in statuses)
    assert control.status_code == 200
    assert world.record.faults[("megamart", "5xx")] == 20


async def test_error_share_is_about_as_asked_and_reproducible(hand_scenario) -> None:  # type: ignore[no-untyped-def]
    runs = []
    for _ in range(2):
        world = World(hand_scenario, FaultPlan.parse("error_rate=0.2"))
        async with _client(world) as c:
            runs.append([(await c.get("/x")).status_code for _ in range(500)])
    assert runs[0] == runs[1]
    failed = sum(s >= 500 for s in runs[0])
    assert 60 <= failed <= 140


async def test_429_bursts_carry_retry_after(hand_scenario) -> None:  # type: ignore[no-untyped-def]
    world = World(
        hand_scenario, FaultPlan.parse("burst_429_every=10,burst_429_length=3,retry_after=7")
    )
    async with _client(world) as c:
        responses = [await c.get("/x") for _ in range(30)]
    limited = [i + 1 for i, r in enumerate(responses) if r.status_code == 429]
    assert limited == [10, 11, 12, 20, 21, 22, 30]
    assert responses[9].headers["retry-after"] == "7"


async def test_hung_request_answers_only_after_the_hang(hand_scenario) -> None:  # type: ignore[no-untyped-def]
    world = World(hand_scenario, FaultPlan.parse("hang_rate=1,hang_seconds=0.3"))
    async with _client(world) as c:
        started = time.monotonic()
        r = await c.get("/x")
    assert r.status_code == 504
    assert time.monotonic() - started >= 0.3


async def test_latency_is_added(hand_scenario) -> None:  # type: ignore[no-untyped-def]
    world = World(hand_scenario, FaultPlan.parse("latency_ms=100"))
    async with _client(world) as c:
        started = time.monotonic()
        for _ in range(3):
            assert (await c.get("/x")).status_code == 200
    assert time.monotonic() - started >= 0.3


async def test_sessions_expire_every_n_requests(hand_scenario) -> None:  # type: ignore[no-untyped-def]
    world = World(hand_scenario, FaultPlan.parse("expire_every=5"))
    store = SessionStore()
    s = store.create("acme-ar", "ok")
    async with _client(world, store) as c:
        for _ in range(4):
            await c.get("/x")
        assert store.get(s.sid) is not None
        await c.get("/x")
    assert store.get(s.sid) is None
    assert world.record.faults[("megamart", "session_expired")] == 1


async def test_record_counts_requests_and_statuses(hand_scenario) -> None:  # type: ignore[no-untyped-def]
    world = World(hand_scenario)
    async with _client(world) as c:
        await c.get("/x")
        await c.get("/missing")
    assert world.record.requests["megamart"] == 2
    assert world.record.statuses[("megamart", 404)] == 1
