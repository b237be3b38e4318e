"""The ParcelNet adapter against the fixture world: document search, scanned
PODs, the "Security check" interstitial (handed to a person, never solved) and
the failures every adapter must classify.

Every answer is compared with the world's own shipments and document bytes."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest

from credentials.secret import Secret
from fixtures.generator import generate
from fixtures.scenario import DocumentForm, Scenario, Shipment
from fixtures.server import RunningWorld
from fixtures.world import World
from portal_adapters.base import AdapterSession, ShipmentDocuments
from portal_adapters.errors import (
    BadCredentials,
    CaptchaRequired,
    PortalUnavailable,
    SessionExpired,
)
from portal_adapters.parcelnet import ParcelnetAdapter, security_check
from portal_adapters.web import ShipmentResult, linked_documents
from records.schemas import PodStatus

pytestmark = pytest.mark.browser

PORTAL = "parcelnet"
ADAPTER = ParcelnetAdapter()
HAND_PRO = "98765432101"
HAND_BOL = "PB-77001"


# ---------------------------------------------------------------------- helpers


def delivered(world: World, s: Shipment) -> bool:
    return s.delivery_date is not None and s.delivery_date <= world.clock.today()


def check(found: ShipmentDocuments | None, s: Shipment, world: World) -> None:
    """The adapter's answer is the world's shipment, documents byte for byte."""
    assert found is not None, s.pro_number
    r = found.shipment
    done = delivered(world, s)
    assert r.carrier == PORTAL
    assert r.pro_number == s.pro_number
    assert r.bol_number == s.bol_number
    assert r.tracking_number == s.tracking_number
    assert r.consignee == s.consignee.name
    assert r.ship_date == s.ship_date
    assert r.delivery_date == (s.delivery_date if done else None)
    assert r.pieces_shipped == s.pieces_shipped
    assert r.exceptions == (list(s.exceptions) if done else [])
    assert r.signer == (s.signer if done else "")
    pod_ready = done and world.pod_available(s)
    assert found.pod_available is pod_ready
    assert r.pod_status is (PodStatus.fetched if pod_ready else PodStatus.not_available)
    docs = {d.role: d for d in found.documents}
    assert set(docs) == ({"pod", "bol"} if pod_ready else {"bol"})
    assert docs["bol"].data == world.bol_bytes(s)
    if pod_ready:
        assert docs["pod"].data == world.pod_bytes(s)
        assert docs["pod"].data.startswith(b"%PDF-")
        scanned = s.pod_form == DocumentForm.image_pdf
        assert (r.raw.get("Proof of Delivery") == "scanned image") is scanned


def shipments(world: World) -> list[Shipment]:
    return [s for s in world.scenario.shipments if s.carrier == PORTAL]


def logins(world: World, step: str) -> list[bool]:
    return [e.ok for e in world.record.logins if e.portal == PORTAL and e.step == step]


def with_shipment(scenario: Scenario, pro: str, **update: Any) -> Scenario:
    ships = [s.model_copy(update=update) if s.pro_number == pro else s for s in scenario.shipments]
    return scenario.model_copy(update={"shipments": ships})


async def logged_in(adapter_session: Any, rw: RunningWorld) -> AdapterSession:
    session: AdapterSession = adapter_session(rw, PORTAL)
    await ADAPTER.login(session)
    return session


# ---------------------------------------------------------------------- tests


async def test_login_and_fetch_every_shipment(adapter_session: Any, world_factory: Any) -> None:
    rw: RunningWorld = world_factory(generate(7, "small"))
    world = rw.world
    session: AdapterSession = adapter_session(rw, PORTAL)
    assert not await ADAPTER.is_logged_in(session)
    await ADAPTER.login(session)
    assert logins(world, "password") == [True]
    assert await ADAPTER.is_logged_in(session)

    ours = shipments(world)
    assert any(s.pod_available_from is None for s in ours)
    assert any(s.pod_form == DocumentForm.image_pdf for s in ours)
    before = world.record.requests[PORTAL]
    docs_before = len(world.record.downloads)
    for s in ours:
        check(await ADAPTER.fetch_shipment_documents(session, pro_number=s.pro_number), s, world)
    requests = world.record.requests[PORTAL] - before
    documents = len(world.record.downloads) - docs_before
    assert requests <= len(ours) + documents + 1
    print(f"parcelnet: {requests / len(ours):.2f} requests per shipment, {documents} documents")

    for s in ours[:3]:
        check(await ADAPTER.fetch_shipment_documents(session, bol_number=s.bol_number), s, world)
    assert await ADAPTER.fetch_shipment_documents(session, pro_number="12345678900") is None
    assert await ADAPTER.fetch_shipment_documents(session, bol_number="BOL-NOPE-1") is None
    assert world.record.captchas == []


async def test_scanned_pod_not_imaged_then_available(
    adapter_session: Any, world_factory: Any, hand_scenario: Scenario
) -> None:
    later = hand_scenario.as_of + timedelta(days=2)
    rw: RunningWorld = world_factory(
        with_shipment(hand_scenario, HAND_PRO, pod_available_from=later)
    )
    world = rw.world
    s = world.shipment_by_pro(PORTAL, HAND_PRO)
    assert s is not None
    assert s.pod_form == DocumentForm.image_pdf
    session = await logged_in(adapter_session, rw)
    found = await ADAPTER.fetch_shipment_documents(session, bol_number=HAND_BOL)
    check(found, s, world)
    assert found is not None
    assert not found.pod_available
    assert "not yet available" in found.shipment.raw["POD message"]
    rw.advance_clock(days=2)
    found = await ADAPTER.fetch_shipment_documents(session, bol_number=HAND_BOL)
    check(found, s, world)
    assert found is not None
    assert found.pod_available
    assert found.shipment.raw["Proof of Delivery"] == "scanned image"


async def test_wrong_password_is_one_attempt(adapter_session: Any, world_factory: Any) -> None:
    rw: RunningWorld = world_factory()
    session: AdapterSession = adapter_session(rw, PORTAL)
    session.credentials = dataclasses.replace(session.credentials, password=Secret("not-it-9!"))
    with pytest.raises(BadCredentials) as info:
        await ADAPTER.login(session)
    assert "not-it-9!" not in str(info.value)
    assert logins(rw.world, "password") == [False]


async def test_security_check_is_handed_to_a_person(
    adapter_session: Any, world_factory: Any
) -> None:
    rw: RunningWorld = world_factory(faults="parcelnet:captcha_rate=1")
    session = await logged_in(adapter_session, rw)
    with pytest.raises(CaptchaRequired) as info:
        await ADAPTER.fetch_shipment_documents(session, pro_number=HAND_PRO)
    assert info.value.ref == HAND_PRO
    with pytest.raises(CaptchaRequired) as info:
        await ADAPTER.fetch_shipment_documents(session, bol_number=HAND_BOL)
    assert info.value.ref == HAND_BOL
    assert rw.world.record.captchas == [(PORTAL, HAND_PRO), (PORTAL, HAND_BOL)]
    assert rw.world.record.downloads == []
    # Nothing was attempted on the check itself.
    assert ("parcelnet", "/search/verify") not in rw.world.record.requests_by_path


async def test_document_link_behind_an_unsolved_check(
    adapter_session: Any, world_factory: Any
) -> None:
    """A document link followed without a passed search answers 403: that is the
    security check again (CaptchaRequired), never a broken document."""
    rw: RunningWorld = world_factory(faults="parcelnet:captcha_rate=1")
    session = await logged_in(adapter_session, rw)
    shown = ShipmentResult(row={}, text="", links={"pod": f"/shipments/{HAND_PRO}/pod"}, note="")
    with pytest.raises(CaptchaRequired) as info:
        await linked_documents(
            session,
            shown,
            base=session.url("/search"),
            pro=HAND_PRO,
            forbidden=security_check(HAND_PRO),
        )
    assert info.value.ref == HAND_PRO
    assert rw.world.record.downloads == []


async def test_only_the_predicted_lookups_meet_the_check(
    adapter_session: Any, world_factory: Any
) -> None:
    rw: RunningWorld = world_factory(generate(7, "small"), faults="parcelnet:captcha_rate=0.3")
    world = rw.world
    session = await logged_in(adapter_session, rw)
    ours = shipments(world)[:24]
    due = [s for s in ours if world.captcha_due(PORTAL, s.pro_number)]
    assert 0 < len(due) < len(ours)
    for s in ours:
        if s in due:
            with pytest.raises(CaptchaRequired) as info:
                await ADAPTER.fetch_shipment_documents(session, pro_number=s.pro_number)
            assert info.value.ref == s.pro_number
        else:
            found = await ADAPTER.fetch_shipment_documents(session, pro_number=s.pro_number)
            check(found, s, world)
    assert world.record.captchas == [(PORTAL, s.pro_number) for s in due]


async def test_obfuscated_layout(adapter_session: Any, world_factory: Any) -> None:
    rw: RunningWorld = world_factory(generate(7, "small"), faults="parcelnet:obfuscate=3")
    world = rw.world
    session = await logged_in(adapter_session, rw)
    for s in shipments(world)[:6]:
        check(await ADAPTER.fetch_shipment_documents(session, pro_number=s.pro_number), s, world)


async def test_errors_are_portal_unavailable(adapter_session: Any, world_factory: Any) -> None:
    rw: RunningWorld = world_factory()
    session = await logged_in(adapter_session, rw)
    rw.set_faults("parcelnet:error_rate=1")
    with pytest.raises(PortalUnavailable):
        await ADAPTER.fetch_shipment_documents(session, pro_number=HAND_PRO)
    await session.context.clear_cookies()
    with pytest.raises(PortalUnavailable):
        await ADAPTER.login(session)


async def test_session_expiry(adapter_session: Any, world_factory: Any) -> None:
    rw: RunningWorld = world_factory()
    world = rw.world
    s = world.shipment_by_pro(PORTAL, HAND_PRO)
    assert s is not None
    session = await logged_in(adapter_session, rw)
    check(await ADAPTER.fetch_shipment_documents(session, pro_number=HAND_PRO), s, world)
    rw.set_faults("parcelnet:expire_every=1")
    with pytest.raises(SessionExpired):
        await ADAPTER.fetch_shipment_documents(session, pro_number=HAND_PRO)
    rw.set_faults(None)
    assert not await ADAPTER.is_logged_in(session)
    await ADAPTER.login(session)
    check(await ADAPTER.fetch_shipment_documents(session, pro_number=HAND_PRO), s, world)
