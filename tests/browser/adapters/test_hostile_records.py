"""Portal text is hostile input: one record never stops a portal.

Every adapter against its fixture portal, in real Chromium, with records built
in the test on top of the hand-written scenario:

* a claim whose number holds path, quote, regex and selector metacharacters
  and a bidi override is listed, opened, its documents fetched byte for byte,
  and disputed, on every retailer portal;
* a claim whose page answers 404 is that claim's RecordInvalid and the
  listing goes on to the end;
* a shipment whose values fail validation (an absurd piece count) is that
  shipment's RecordInvalid, and the next PRO is still fetched.

Expected values are the world's, never the adapter's own helpers.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from playwright.async_api import BrowserContext, Route

from fixtures.scenario import Deduction, Scenario
from fixtures.server import RunningWorld
from portal_adapters.base import (
    AdapterSession,
    CarrierAdapter,
    DisputePacket,
    RetailerAdapter,
    ShipmentDocuments,
)
from portal_adapters.errors import (
    DisputeRejected,
    LayoutChanged,
    PortalUnavailable,
    RecordInvalid,
)
from portal_adapters.freshco import FreshcoAdapter
from portal_adapters.haulstar import HaulstarAdapter
from portal_adapters.megamart import MegamartAdapter
from portal_adapters.parcelnet import ParcelnetAdapter
from portal_adapters.shopright import ShoprightAdapter
from portal_adapters.web import playwright_errors
from records.schemas import DeductionRecord

pytestmark = pytest.mark.browser

RETAILERS: dict[str, RetailerAdapter] = {
    "megamart": MegamartAdapter(),
    "shopright": ShoprightAdapter(),
    "freshco": FreshcoAdapter(),
}
HOSTILE_CLAIM = 'C/1(2)[3]"4\\5*6$7\u202e8>>9'
"""`/` (a path segment, and the end of a Playwright regex literal), `( [ * $ \\`
(regex), `"` (selector strings), `>>` (Playwright's selector chaining), and a
right-to-left override."""
HOSTILE_DOC = 'doc/1"(x)*$\\'
PDF = b"%PDF-1.4\n% test attachment\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
ABSURD_PIECES = 1_000_000_000


# ---------------------------------------------------------------------- worlds


def with_hostile_claim(scenario: Scenario, portal: str) -> tuple[Scenario, Deduction]:
    """The scenario plus a copy of one of the portal's claims (documents
    included) under the hostile number, with hostile document ids too."""
    base = next(d for d in scenario.deductions if d.portal == portal and d.documents)
    docs = [
        spec.model_copy(update={"doc_id": f"{HOSTILE_DOC}{i}"})
        for i, spec in enumerate(base.documents)
    ]
    hostile = base.model_copy(
        update={"deduction_id": HOSTILE_CLAIM, "documents": docs, "changes": []}
    )
    return scenario.model_copy(update={"deductions": [*scenario.deductions, hostile]}), hostile


def with_absurd_shipment(scenario: Scenario, carrier: str, pro: str) -> Scenario:
    """The scenario plus a shipment on ``carrier`` whose piece count no real
    shipment has (over the record's bound)."""
    base = next(s for s in scenario.shipments if s.carrier == carrier)
    absurd = base.model_copy(
        update={"pro_number": pro, "bol_number": f"BOL-{pro}", "pieces_shipped": ABSURD_PIECES}
    )
    return scenario.model_copy(update={"shipments": [absurd, *scenario.shipments]})


async def collect(
    adapter: RetailerAdapter, session: AdapterSession
) -> tuple[list[DeductionRecord], list[RecordInvalid]]:
    records: list[DeductionRecord] = []
    invalid: list[RecordInvalid] = []
    async for item in adapter.list_deductions(session):
        (invalid if isinstance(item, RecordInvalid) else records).append(item)  # type: ignore[arg-type]
    return records, invalid


# ---------------------------------------------------------------------- retailers


@pytest.mark.parametrize("portal", sorted(RETAILERS))
async def test_a_claim_number_full_of_metacharacters_is_listed_opened_fetched_and_disputed(
    adapter_session: Any, world_factory: Any, hand_scenario: Scenario, portal: str
) -> None:
    scenario, hostile = with_hostile_claim(hand_scenario, portal)
    rw: RunningWorld = world_factory(scenario)
    world = rw.world
    adapter = RETAILERS[portal]
    session: AdapterSession = adapter_session(rw, portal)
    await adapter.login(session)

    records, invalid = await collect(adapter, session)
    assert invalid == []
    expected = world.visible_deductions(portal, session.account)
    assert [r.external_id for r in records] == [d.deduction_id for d in expected]
    (found,) = [r for r in records if r.external_id == HOSTILE_CLAIM]
    assert found.amount == world.current_amount(hostile)
    assert found.invoice_number == hostile.invoice_number

    refs = await adapter.list_documents(session, HOSTILE_CLAIM)
    available = {s.doc_id: s for s in world.available_documents(hostile)}
    assert sorted(r.ref for r in refs) == sorted(available)
    for ref in refs:
        (doc,) = await adapter.download_document(session, HOSTILE_CLAIM, ref)
        assert doc.data == world.document_bytes(hostile, available[ref.ref])

    assert await adapter.dispute_status(session, HOSTILE_CLAIM) is None
    packet = DisputePacket(
        deduction_external_id=HOSTILE_CLAIM,
        idempotency_key="hostile-1",
        reason="other",
        amount=Decimal(hostile.amount),
        explanation="Delivered in full; see the attached proof.",
        attachments=(("proof.pdf", PDF),),
    )
    if portal == "shopright":
        # ShopRight's own rule: a '/' separates document numbers, one per case.
        # The portal's refusal, in its words; nothing filed.
        with pytest.raises(DisputeRejected, match="one document number"):
            await adapter.file_dispute(session, packet)
        assert world.dispute_for(portal, HOSTILE_CLAIM) is None
        return
    receipt = await adapter.file_dispute(session, packet)
    filed = world.dispute_for(portal, HOSTILE_CLAIM)
    assert filed is not None
    assert receipt.dispute_number == filed.number
    status = await adapter.dispute_status(session, HOSTILE_CLAIM)
    assert status is not None
    assert status.dispute_number == filed.number


async def answer_404(context: BrowserContext, path: str) -> None:
    """The portal's page at ``path`` answers 404 with a generic error page, as a
    portal whose claim was withdrawn (or whose router chokes on it) would."""

    async def not_found(route: Route) -> None:
        await route.fulfill(
            status=404,
            content_type="text/html",
            body="<!doctype html><title>Not found</title><h1>Page not found</h1>",
        )

    await context.route(lambda url: urlsplit(url).path == path, not_found)


@pytest.mark.parametrize("portal", ["megamart", "freshco"])
async def test_a_claim_page_that_answers_404_is_that_claims_record_invalid(
    adapter_session: Any, world_factory: Any, hand_scenario: Scenario, portal: str
) -> None:
    rw: RunningWorld = world_factory(hand_scenario)
    adapter = RETAILERS[portal]
    session: AdapterSession = adapter_session(rw, portal)
    await adapter.login(session)
    expected = rw.world.visible_deductions(portal, session.account)
    gone = expected[len(expected) // 2].deduction_id
    page_of = {"megamart": "/deductions/", "freshco": "/claims/"}[portal]
    await answer_404(session.context, page_of + quote(gone, safe=""))

    records, invalid = await collect(adapter, session)

    assert [r.external_id for r in records] == [
        d.deduction_id for d in expected if d.deduction_id != gone
    ]
    (bad,) = invalid
    assert bad.external_id == gone
    assert bad.kind == "deduction"
    assert "404" in str(bad)
    assert gone in bad.raw["list_row"].values()  # the row as the list showed it is kept
    with pytest.raises(RecordInvalid) as again:
        await adapter.list_documents(session, gone)
    assert again.value.external_id == gone


async def test_a_shopright_deduction_whose_detail_answers_404_is_its_record_invalid(
    adapter_session: Any, world_factory: Any, hand_scenario: Scenario
) -> None:
    """The list shows the deduction; its detail says it is not this account's
    (the portal lies between list and detail): that one is RecordInvalid."""
    portal = "shopright"
    ours = next(a for a in hand_scenario.accounts if a.portal == portal)
    other = ours.model_copy(update={"username": "someone-else@example.com"})
    listed = next(d for d in hand_scenario.deductions if d.portal == portal)
    shadow = listed.model_copy(update={"account": other.username})
    scenario = hand_scenario.model_copy(
        update={
            "accounts": [*hand_scenario.accounts, other],
            "deductions": [*hand_scenario.deductions, shadow],
        }
    )
    rw: RunningWorld = world_factory(scenario)
    adapter = RETAILERS[portal]
    session: AdapterSession = adapter_session(rw, portal, ours.username)
    await adapter.login(session)
    expected = rw.world.visible_deductions(portal, session.account)
    assert listed.deduction_id in [d.deduction_id for d in expected]

    records, invalid = await collect(adapter, session)

    assert [r.external_id for r in records] == [
        d.deduction_id for d in expected if d.deduction_id != listed.deduction_id
    ]
    (bad,) = invalid
    assert bad.external_id == listed.deduction_id
    assert "404" in str(bad)
    assert bad.raw["document_number"] == listed.deduction_id


async def test_an_invalid_selector_stops_as_layout_changed_not_a_retried_outage(
    context: BrowserContext,
) -> None:
    """What once happened to a claim number with a '/': Playwright refuses the
    selector. A retry meets the same selector, so it is not PortalUnavailable."""
    page = await context.new_page()
    await page.set_content("<h1>Claim 1/2</h1>")
    with pytest.raises(LayoutChanged) as caught:
        async with playwright_errors("megamart", "list_deductions"):
            await page.locator("internal:role=heading[name=/Claim 1/2/i]").count()
    assert not isinstance(caught.value, PortalUnavailable)
    assert "selector" in str(caught.value).lower()


# ---------------------------------------------------------------------- carriers


CARRIERS = {
    "haulstar-api": ("haulstar", HaulstarAdapter(), "7777777", "1234567"),
    "haulstar-web": ("haulstar", HaulstarAdapter(), "7777777", "1234567"),
    "parcelnet": ("parcelnet", ParcelnetAdapter(), "12345678901", "98765432101"),
}


@pytest.mark.parametrize("way", sorted(CARRIERS))
async def test_a_shipment_with_an_absurd_piece_count_is_its_record_invalid_and_the_next_is_fetched(
    adapter_session: Any, world_factory: Any, hand_scenario: Scenario, way: str
) -> None:
    carrier, adapter, absurd_pro, next_pro = CARRIERS[way]
    assert isinstance(adapter, CarrierAdapter)
    rw: RunningWorld = world_factory(with_absurd_shipment(hand_scenario, carrier, absurd_pro))
    world = rw.world
    session: AdapterSession = adapter_session(rw, carrier)
    if way == "haulstar-web":
        session.credentials = dataclasses.replace(session.credentials, api_key=None)
    await adapter.login(session)

    bad = await adapter.fetch_shipment_documents(session, pro_number=absurd_pro)

    assert isinstance(bad, RecordInvalid), bad
    assert bad.kind == "shipment"
    assert bad.external_id == absurd_pro
    assert bad.field is not None
    assert "pieces" in bad.field.lower()
    assert "pieces" in str(bad).lower()
    assert str(ABSURD_PIECES) in [str(v).replace(",", "") for v in bad.raw.values()]
    assert world.record.downloads == []  # nothing fetched for a shipment that cannot be read

    found = await adapter.fetch_shipment_documents(session, pro_number=next_pro)

    assert isinstance(found, ShipmentDocuments), found
    shipment = world.shipment_by_pro(carrier, next_pro)
    assert shipment is not None
    assert found.shipment.pro_number == next_pro
    assert found.shipment.pieces_shipped == shipment.pieces_shipped
    assert found.pod_available
    pod = next(d for d in found.documents if d.role == "pod")
    assert pod.data == world.pod_bytes(shipment)
