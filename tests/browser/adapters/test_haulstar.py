"""The HaulStar adapter against the fixture world, on both of its paths: the
document API (account with an API key) and the web pages (account without).

Every answer is compared with the world's own shipments and document bytes,
never with constants."""

from __future__ import annotations

import dataclasses
from typing import Any

import pyotp
import pytest

from credentials.secret import Secret
from fixtures.generator import generate
from fixtures.scenario import Scenario, Shipment
from fixtures.server import RunningWorld
from fixtures.world import World
from portal_adapters.base import AdapterSession, ShipmentDocuments
from portal_adapters.errors import (
    BadCredentials,
    MfaFailed,
    PortalUnavailable,
    RateLimited,
    SessionExpired,
)
from portal_adapters.haulstar import HaulstarAdapter
from records.schemas import PodStatus

pytestmark = pytest.mark.browser

PORTAL = "haulstar"
ADAPTER = HaulstarAdapter()


# ---------------------------------------------------------------------- helpers


def api_session(adapter_session: Any, rw: RunningWorld) -> AdapterSession:
    session: AdapterSession = adapter_session(rw, PORTAL)
    assert session.credentials.api_key is not None, "the scenario's account has an API key"
    return session


def web_session(adapter_session: Any, rw: RunningWorld, **creds: Any) -> AdapterSession:
    """The same account as the vault would hand it over without an API key."""
    session: AdapterSession = adapter_session(rw, PORTAL)
    session.credentials = dataclasses.replace(session.credentials, api_key=None, **creds)
    return session


def delivered(world: World, s: Shipment) -> bool:
    return s.delivery_date is not None and s.delivery_date <= world.clock.today()


def check(found: ShipmentDocuments | None, s: Shipment, world: World, *, api: bool) -> None:
    """The adapter's answer is the world's shipment, documents byte for byte."""
    assert found is not None, s.pro_number
    r = found.shipment
    done = delivered(world, s)
    assert r.carrier == PORTAL
    assert r.pro_number == s.pro_number
    assert r.bol_number == s.bol_number
    assert r.consignee == s.consignee.name
    assert r.shipper == s.shipper.name
    assert r.po_numbers == list(s.po_numbers)
    assert r.ship_date == s.ship_date
    assert r.delivery_date == (s.delivery_date if done else None)
    assert r.pieces_shipped == s.pieces_shipped
    assert r.weight_lb == s.weight_lb
    assert r.exceptions == (list(s.exceptions) if done else [])
    assert r.signer == (s.signer if done else "")
    if api:
        assert r.consignee_address == s.consignee.address
        assert r.pieces_delivered == (s.pieces_delivered if done else None)
    pod_ready = done and world.pod_available(s)
    assert found.pod_available is pod_ready
    assert r.pod_status is (PodStatus.fetched if pod_ready else PodStatus.not_available)
    docs = {d.role: d for d in found.documents}
    assert set(docs) == ({"pod", "bol"} if pod_ready else {"bol"})
    assert docs["bol"].data == world.bol_bytes(s)
    assert docs["bol"].media_type == "application/pdf"
    if pod_ready:
        assert docs["pod"].data == world.pod_bytes(s)
        assert docs["pod"].data.startswith(b"%PDF-")
        assert docs["pod"].ref == f"pod:{s.pro_number}"


def sample(world: World, n: int) -> list[Shipment]:
    """Shipments of every kind the world has: imaged, not imaged yet, never imaged."""
    ours = [s for s in world.scenario.shipments if s.carrier == PORTAL]
    ready = [s for s in ours if world.pod_available(s)]
    later = [s for s in ours if s.pod_available_from and not world.pod_available(s)]
    never = [s for s in ours if s.pod_available_from is None]
    exceptions = [s for s in ready if s.exceptions]
    picked = later[:3] + never[:2] + exceptions[:2]
    picked += [s for s in ready if s not in picked][: max(0, n - len(picked))]
    assert later, "the generated world has PODs imaged later"
    assert never, "the generated world has PODs never imaged"
    assert exceptions, "the generated world has delivery exceptions"
    return picked


def with_portal(scenario: Scenario, **update: Any) -> Scenario:
    cfg = scenario.portals[PORTAL].model_copy(update=update)
    return scenario.model_copy(update={"portals": {**scenario.portals, PORTAL: cfg}})


def with_shipment(scenario: Scenario, pro: str, **update: Any) -> Scenario:
    ships = [s.model_copy(update=update) if s.pro_number == pro else s for s in scenario.shipments]
    return scenario.model_copy(update={"shipments": ships})


def logins(world: World, step: str) -> list[bool]:
    return [e.ok for e in world.record.logins if e.portal == PORTAL and e.step == step]


# ---------------------------------------------------------------------- API path


async def test_api_fetches_shipments_and_documents(
    adapter_session: Any, world_factory: Any
) -> None:
    rw: RunningWorld = world_factory(generate(7, "small"))
    world = rw.world
    session = api_session(adapter_session, rw)
    await ADAPTER.login(session)
    assert await ADAPTER.is_logged_in(session)
    assert logins(world, "api_token") == [True]
    assert "masked" in repr(session.notes)  # the bearer token never shows in a repr

    picked = sample(world, 15)
    before = world.record.requests[PORTAL]
    docs_before = len(world.record.downloads)
    for s in picked:
        check(
            await ADAPTER.fetch_shipment_documents(session, pro_number=s.pro_number),
            s,
            world,
            api=True,
        )
    requests = world.record.requests[PORTAL] - before
    documents = len(world.record.downloads) - docs_before
    # One lookup plus one GET per document, nothing else.
    assert requests == len(picked) + documents
    print(
        f"haulstar api: {requests / len(picked):.2f} requests per shipment, {documents} documents"
    )

    by_bol = picked[0]
    check(
        await ADAPTER.fetch_shipment_documents(session, bol_number=by_bol.bol_number),
        by_bol,
        world,
        api=True,
    )
    dashed = picked[-1].pro_number
    dashed = f"{dashed[:3]}-{dashed[3:]}"
    check(
        await ADAPTER.fetch_shipment_documents(session, pro_number=dashed),
        picked[-1],
        world,
        api=True,
    )
    assert await ADAPTER.fetch_shipment_documents(session, pro_number="9999999") is None
    assert await ADAPTER.fetch_shipment_documents(session, bol_number="BOL-NOPE-1") is None
    assert logins(world, "api_token") == [True]  # one token for the whole job


async def test_api_token_is_renewed_once(adapter_session: Any, world_factory: Any) -> None:
    rw: RunningWorld = world_factory()
    world = rw.world
    s = world.shipment_by_pro(PORTAL, "1234567")
    assert s is not None
    session = api_session(adapter_session, rw)
    check(await ADAPTER.fetch_shipment_documents(session, pro_number="1234567"), s, world, api=True)
    # The portal drops every token on its next request: the adapter fetches a new
    # one by itself and the lookup still succeeds.
    n = world.record.requests[PORTAL]
    rw.set_faults(f"haulstar:expire_every={n + 1}")
    check(await ADAPTER.fetch_shipment_documents(session, pro_number="1234567"), s, world, api=True)
    assert logins(world, "api_token") == [True, True]
    # Tokens dropped on every request: one renewal, then SessionExpired (not a loop).
    rw.set_faults("haulstar:expire_every=1")
    with pytest.raises(SessionExpired):
        await ADAPTER.fetch_shipment_documents(session, pro_number="1234567")
    assert logins(world, "api_token") == [True, True, True]
    rw.set_faults(None)
    await ADAPTER.login(session)
    check(await ADAPTER.fetch_shipment_documents(session, pro_number="1234567"), s, world, api=True)


async def test_api_wrong_password_is_one_attempt(adapter_session: Any, world_factory: Any) -> None:
    rw: RunningWorld = world_factory()
    session = api_session(adapter_session, rw)
    session.credentials = dataclasses.replace(session.credentials, password=Secret("not-it-9!"))
    with pytest.raises(BadCredentials) as info:
        await ADAPTER.login(session)
    assert "not-it-9!" not in str(info.value)
    assert logins(rw.world, "password") == [False]
    assert logins(rw.world, "api_token") == [False]


# ---------------------------------------------------------------------- web path


async def test_web_login_with_mfa_and_fetch(adapter_session: Any, world_factory: Any) -> None:
    rw: RunningWorld = world_factory(generate(7, "small"))
    world = rw.world
    session = web_session(adapter_session, rw)
    assert not await ADAPTER.is_logged_in(session)
    await ADAPTER.login(session)
    assert logins(world, "password") == [True]
    assert logins(world, "totp") == [True]
    assert await ADAPTER.is_logged_in(session)

    picked = sample(world, 10)
    before = world.record.requests[PORTAL]
    docs_before = len(world.record.downloads)
    for s in picked:
        check(
            await ADAPTER.fetch_shipment_documents(session, pro_number=s.pro_number),
            s,
            world,
            api=False,
        )
    requests = world.record.requests[PORTAL] - before
    documents = len(world.record.downloads) - docs_before
    assert requests <= 2 * len(picked) + documents
    print(
        f"haulstar web: {requests / len(picked):.2f} requests per shipment, {documents} documents"
    )

    check(
        await ADAPTER.fetch_shipment_documents(session, bol_number=picked[1].bol_number),
        picked[1],
        world,
        api=False,
    )
    assert await ADAPTER.fetch_shipment_documents(session, pro_number="9999999") is None
    assert await ADAPTER.fetch_shipment_documents(session, bol_number="BOL-NOPE-1") is None
    assert logins(world, "api_token") == []  # no API key, no API


async def test_web_wrong_password_is_one_attempt(adapter_session: Any, world_factory: Any) -> None:
    rw: RunningWorld = world_factory()
    session = web_session(adapter_session, rw, password=Secret("not-it-9!"))
    with pytest.raises(BadCredentials) as info:
        await ADAPTER.login(session)
    assert "not-it-9!" not in str(info.value)
    assert logins(rw.world, "password") == [False]


async def test_web_wrong_totp_is_mfa_failed(adapter_session: Any, world_factory: Any) -> None:
    rw: RunningWorld = world_factory()
    session = web_session(adapter_session, rw, totp_secret=Secret(pyotp.random_base32()))
    with pytest.raises(MfaFailed):
        await ADAPTER.login(session)
    assert logins(rw.world, "password") == [True]
    assert logins(rw.world, "totp") == [False]
    # An account with a second factor but no stored secret is MfaFailed too.
    session = web_session(adapter_session, rw, totp_secret=None)
    await session.context.clear_cookies()
    with pytest.raises(MfaFailed):
        await ADAPTER.login(session)


async def test_web_obfuscated_layout(adapter_session: Any, world_factory: Any) -> None:
    rw: RunningWorld = world_factory(generate(7, "small"), faults="haulstar:obfuscate=3")
    world = rw.world
    session = web_session(adapter_session, rw)
    await ADAPTER.login(session)
    for s in sample(world, 4):
        check(
            await ADAPTER.fetch_shipment_documents(session, pro_number=s.pro_number),
            s,
            world,
            api=False,
        )


async def test_web_session_expiry(adapter_session: Any, world_factory: Any) -> None:
    rw: RunningWorld = world_factory()
    world = rw.world
    s = world.shipment_by_pro(PORTAL, "1234567")
    assert s is not None
    session = web_session(adapter_session, rw)
    await ADAPTER.login(session)
    rw.set_faults("haulstar:expire_every=1")
    with pytest.raises(SessionExpired):
        await ADAPTER.fetch_shipment_documents(session, pro_number="1234567")
    rw.set_faults(None)
    assert not await ADAPTER.is_logged_in(session)
    await ADAPTER.login(session)
    check(
        await ADAPTER.fetch_shipment_documents(session, pro_number="1234567"), s, world, api=False
    )


# ---------------------------------------------------------------------- both paths


@pytest.mark.parametrize("api", [True, False], ids=["api", "web"])
async def test_pod_not_imaged_then_available(
    adapter_session: Any, world_factory: Any, api: bool
) -> None:
    rw: RunningWorld = world_factory()
    world = rw.world
    s = world.shipment_by_bol(PORTAL, "BOL-900002")
    assert s is not None
    session = api_session(adapter_session, rw) if api else web_session(adapter_session, rw)
    await ADAPTER.login(session)
    found = await ADAPTER.fetch_shipment_documents(session, bol_number="BOL-900002")
    check(found, s, world, api=api)
    assert found is not None
    assert not found.pod_available
    if not api:
        assert "not yet available" in found.shipment.raw["POD message"]
    rw.advance_clock(days=4)
    found = await ADAPTER.fetch_shipment_documents(session, pro_number=s.pro_number)
    check(found, s, world, api=api)
    assert found is not None
    assert found.pod_available


@pytest.mark.parametrize("api", [True, False], ids=["api", "web"])
async def test_in_transit_shipment(
    adapter_session: Any, world_factory: Any, hand_scenario: Scenario, api: bool
) -> None:
    rw: RunningWorld = world_factory(with_shipment(hand_scenario, "7654321", delivery_date=None))
    world = rw.world
    s = world.shipment_by_pro(PORTAL, "7654321")
    assert s is not None
    session = api_session(adapter_session, rw) if api else web_session(adapter_session, rw)
    await ADAPTER.login(session)
    found = await ADAPTER.fetch_shipment_documents(session, pro_number="7654321")
    check(found, s, world, api=api)
    assert found is not None
    assert found.shipment.delivery_date is None
    assert [d.role for d in found.documents] == ["bol"]


@pytest.mark.parametrize("api", [True, False], ids=["api", "web"])
async def test_rate_limited(
    adapter_session: Any, world_factory: Any, hand_scenario: Scenario, api: bool
) -> None:
    rw: RunningWorld = world_factory(with_portal(hand_scenario, rate_limit_per_minute=3))
    world = rw.world
    s = world.shipment_by_pro(PORTAL, "1234567")
    assert s is not None
    session = api_session(adapter_session, rw) if api else web_session(adapter_session, rw)
    await ADAPTER.login(session)
    # Lookup, POD and BOL: exactly the three lookups a minute allows.
    check(await ADAPTER.fetch_shipment_documents(session, pro_number="1234567"), s, world, api=api)
    with pytest.raises(RateLimited) as info:
        await ADAPTER.fetch_shipment_documents(session, pro_number="1234567")
    assert info.value.retry_after > 0


@pytest.mark.parametrize("api", [True, False], ids=["api", "web"])
async def test_errors_are_portal_unavailable(
    adapter_session: Any, world_factory: Any, api: bool
) -> None:
    rw: RunningWorld = world_factory()
    session = api_session(adapter_session, rw) if api else web_session(adapter_session, rw)
    await ADAPTER.login(session)
    rw.set_faults("haulstar:error_rate=1")
    with pytest.raises(PortalUnavailable):
        await ADAPTER.fetch_shipment_documents(session, pro_number="1234567")
    session.notes.clear()
    await session.context.clear_cookies()
    with pytest.raises(PortalUnavailable):
        await ADAPTER.login(session)
