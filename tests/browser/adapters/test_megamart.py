"""The MegaMart adapter in real Chromium against the fixture world.

Every answer is compared with the world (its visible deductions, current
amounts and statuses, document bytes, disputes, and the record of what the
portal served), never with constants.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from credentials.secret import Secret
from fixtures.generator import generate
from fixtures.scenario import Deduction, Scenario
from fixtures.server import RunningWorld
from fixtures.world import World
from portal_adapters.base import AdapterSession, DisputePacket
from portal_adapters.errors import (
    BadCredentials,
    DisputeRejected,
    MfaFailed,
    PortalUnavailable,
    RateLimited,
    RecordInvalid,
    SessionExpired,
)
from portal_adapters.megamart import MegamartAdapter
from records.schemas import DeductionRecord

pytestmark = pytest.mark.browser

PORTAL = "megamart"
ADAPTER = MegamartAdapter()
PDF = b"%PDF-1.4\n% test attachment\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

# What the portal's own text reads as in a record, written out (never computed with
# the adapter's normalizers). The worlds here show locations as "DC 1234" (kept) or
# "Store #1234" (the store number without "#").
LOCATIONS = {
    "Store #1032": "Store 1032",
    "Store #2993": "Store 2993",
    "Store #3260": "Store 3260",
    "Store #3765": "Store 3765",
    "Store #4663": "Store 4663",
    "Store #5362": "Store 5362",
}
# The one memo of generate(7, "small") that is not in NFC: U+0343 (combining
# koronis) is canonically U+0313; the zero-width characters stay.
MEMOS = {
    "4057497421": "Z\u0351\u0358a\u0367\u0313l\u035bg\u0346o\u0350 te\u200bxt \ufeffwith "
    "zero-width Must arrive by: 2026-09-03. Received: 2026-09-06. Fine basis: 3.00% of 9413.88.",
}
# File names as the Documents table shows them (a browser trims cell text).
FILE_NAMES = {" leading space 4055343795 .pdf": "leading space 4055343795 .pdf"}


@pytest.fixture(scope="module")
def small() -> Scenario:
    return generate(7, "small")


# ---------------------------------------------------------------------- helpers


async def signed_in(adapter_session: Any, rw: RunningWorld) -> AdapterSession:
    session: AdapterSession = adapter_session(rw, PORTAL)
    await ADAPTER.login(session)
    return session


def visible(rw: RunningWorld, session: AdapterSession) -> list[Deduction]:
    return rw.world.visible_deductions(PORTAL, session.account)


async def collect(
    session: AdapterSession,
    since: date | None = None,
    *,
    into: list[DeductionRecord] | None = None,
) -> list[DeductionRecord]:
    """Every record the listing yields (into ``into``, kept if the listing raises)."""
    out: list[DeductionRecord] = [] if into is None else into
    async for item in ADAPTER.list_deductions(session, since):
        assert not isinstance(item, RecordInvalid), item
        out.append(item)
    return out


async def lists_the_world(
    rw: RunningWorld, session: AdapterSession
) -> tuple[list[DeductionRecord], int]:
    """A full listing is the world's, record by record, in order, at one claim
    page per deduction plus one list page per 20 rows, less the first list
    page (the sign-in landed on it, and the listing reads it there). Returns
    the records and that cost in requests."""
    expected = visible(rw, session)
    before = served(rw)
    records = await collect(session)
    assert [r.external_id for r in records] == [d.deduction_id for d in expected]
    for r, d in zip(records, expected, strict=True):
        check_record(r, d, rw.world, session.account)
    cost = len(expected) + -(-len(expected) // 20) - 1
    assert await served_at_least(rw, before + cost) - before == cost
    return records, cost


def check_record(r: DeductionRecord, d: Deduction, world: World, account: str) -> None:
    """One record is the world's deduction as the portal shows it today."""
    codes = world.scenario.portals[PORTAL].reason_codes
    assert r.portal == PORTAL
    assert r.external_id == d.deduction_id
    assert r.account == account
    assert r.amount == world.current_amount(d)
    assert r.currency == "USD"
    assert r.invoice_number == d.invoice_number
    assert r.po_number == d.po_number
    assert "#" not in d.location or d.location in LOCATIONS, d.location  # a form not written out
    assert r.location == LOCATIONS.get(d.location, d.location)
    assert r.reason_code == d.reason_code
    assert r.deduction_date == d.deduction_date
    assert r.invoice_date == d.invoice_date
    assert r.posted_date == d.posted_date
    assert r.status == world.current_status(d)
    if d.reason_code in codes:
        assert r.category is not None
        assert r.category.value == codes[d.reason_code].category.value
    carrier = world.scenario.portals[d.carrier].display_name if d.carrier else None
    assert r.carrier == carrier
    assert r.pro_number == (d.pro_number or None)
    assert r.bol_number == (d.bol_number or None)
    assert r.memo == MEMOS.get(d.deduction_id, d.memo)
    assert [(x.sku, x.quantity, x.amount) for x in r.lines] == [
        (x.sku, x.quantity, x.amount) for x in d.lines
    ]
    assert r.raw["list_row"]["Claim Number"] == d.deduction_id


def served(rw: RunningWorld) -> int:
    return rw.world.record.requests[PORTAL]


async def served_at_least(rw: RunningWorld, minimum: int) -> int:
    """The served count once it reaches ``minimum`` (or after 2 s).

    The world counts a request after its body went out, so the browser may
    hold the bytes a moment before the count moves: wait for the condition.
    """
    for _ in range(200):
        if served(rw) >= minimum:
            break
        await asyncio.sleep(0.01)
    return served(rw)


def window_open(world: World, d: Deduction) -> bool:
    closes = world.window_closes(d)
    return closes is None or closes >= world.clock.today()


def packet(d: Deduction, reason: str, attachments: Any = (("POD_1.pdf", PDF),)) -> DisputePacket:
    return DisputePacket(
        deduction_external_id=d.deduction_id,
        idempotency_key=f"test-{d.deduction_id}",
        reason=reason,
        amount=d.amount,
        explanation="Signed POD shows every case delivered in good order.",
        attachments=tuple(attachments),
    )


# ---------------------------------------------------------------------- sign-in


async def test_login_with_authenticator_code(adapter_session: Any, world_factory: Any) -> None:
    rw: RunningWorld = world_factory()
    session: AdapterSession = adapter_session(rw, PORTAL)
    assert await ADAPTER.is_logged_in(session) is False
    await ADAPTER.login(session)
    steps = [(e.step, e.ok) for e in rw.world.record.logins]
    assert steps == [("password", True), ("totp", True)]
    assert await ADAPTER.is_logged_in(session) is True


async def test_wrong_password_is_one_attempt_and_bad_credentials(
    adapter_session: Any, world_factory: Any
) -> None:
    rw: RunningWorld = world_factory()
    session: AdapterSession = adapter_session(rw, PORTAL)
    wrong = "not-the-password-9!"
    session.credentials = dataclasses.replace(session.credentials, password=Secret(wrong))
    with pytest.raises(BadCredentials) as caught:
        await ADAPTER.login(session)
    attempts = [e for e in rw.world.record.logins if e.username == session.account]
    assert [(e.step, e.ok) for e in attempts] == [("password", False)]
    assert wrong not in str(caught.value)
    assert not rw.world.is_locked(PORTAL, session.account)


async def test_wrong_authenticator_code_is_mfa_failed(
    adapter_session: Any, world_factory: Any
) -> None:
    rw: RunningWorld = world_factory()
    session: AdapterSession = adapter_session(rw, PORTAL)
    other = Secret("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")  # a valid secret, not this account's
    session.credentials = dataclasses.replace(session.credentials, totp_secret=other)
    with pytest.raises(MfaFailed):
        await ADAPTER.login(session)
    steps = [(e.step, e.ok) for e in rw.world.record.logins]
    assert steps == [("password", True), ("totp", False)]


def list_page_loads(rw: RunningWorld) -> int:
    """Requests the portal served for its deductions list (any page, any filter)."""
    return rw.world.record.requests_by_path[(PORTAL, "/deductions")]


async def test_a_fresh_session_signs_in_at_once_and_lists_where_it_landed(
    adapter_session: Any, world_factory: Any, small: Scenario
) -> None:
    """Counted in requests, not time: a signed-in check before the sign-in of a
    context with no cookies, or the first list page loaded again after the
    sign-in landed on it, each shows as one more load of the list."""
    rw: RunningWorld = world_factory(small)
    session: AdapterSession = adapter_session(rw, PORTAL)
    assert not session.restored
    await ADAPTER.ensure_logged_in(session)
    assert [(e.step, e.ok) for e in rw.world.record.logins] == [("password", True), ("totp", True)]
    assert list_page_loads(rw) == 1  # where the sign-in lands; no check before it
    records = await collect(session)
    expected = visible(rw, session)
    assert [r.external_id for r in records] == [d.deduction_id for d in expected]
    assert list_page_loads(rw) == -(-len(expected) // 20)  # each list page read once


async def test_a_restored_session_is_checked_once_and_lists_from_the_check(
    adapter_session: Any, world_factory: Any, small: Scenario
) -> None:
    rw: RunningWorld = world_factory(small)
    await ADAPTER.login(adapter_session(rw, PORTAL))  # the context now holds the cookies
    signed_ins, loads = len(rw.world.record.logins), list_page_loads(rw)
    session: AdapterSession = adapter_session(rw, PORTAL)
    session.restored = True
    await ADAPTER.ensure_logged_in(session)
    assert len(rw.world.record.logins) == signed_ins  # the saved session was still good
    assert list_page_loads(rw) == loads + 1  # the check
    records = await collect(session)
    expected = visible(rw, session)
    assert [r.external_id for r in records] == [d.deduction_id for d in expected]
    assert list_page_loads(rw) == loads + -(-len(expected) // 20)


# ---------------------------------------------------------------------- listing


@pytest.mark.parametrize("layout", [None, 3], ids=["plain", "obfuscated"])
async def test_list_deductions_is_the_world(
    adapter_session: Any, world_factory: Any, small: Scenario, layout: int | None
) -> None:
    rw: RunningWorld = world_factory(small, f"{PORTAL}:obfuscate={layout}" if layout else None)
    session = await signed_in(adapter_session, rw)
    expected = visible(rw, session)
    records, cost = await lists_the_world(rw, session)
    assert any(r.carrier for r in records)
    assert any(r.lines for r in records)
    # a second listing loads every list page itself (the landed page is used once)
    before = served(rw)
    again = await collect(session)
    assert [r.external_id for r in again] == [d.deduction_id for d in expected]
    assert await served_at_least(rw, before + cost + 1) - before == cost + 1


async def test_list_deductions_reads_claim_pages_side_by_side(
    adapter_session: Any, world_factory: Any, small: Scenario
) -> None:
    """Three pages of the one login read the claim pages three at a time: the
    same records in the same order, no request more, one sign-in."""
    rw: RunningWorld = world_factory(small, f"{PORTAL}:latency_ms=30")
    session = await signed_in(adapter_session, rw)
    session.pages = 3
    await lists_the_world(rw, session)
    assert rw.world.record.most_in_flight[PORTAL] == 3
    assert [e.step for e in rw.world.record.logins] == ["password", "totp"]


async def test_list_since_reads_only_recent_postings(
    adapter_session: Any, world_factory: Any, small: Scenario
) -> None:
    rw: RunningWorld = world_factory(small)
    session = await signed_in(adapter_session, rw)
    everything = visible(rw, session)
    since = everything[len(everything) // 4].posted_date
    expected = [d for d in everything if d.posted_date >= since]
    assert 0 < len(expected) < len(everything)
    before = served(rw)
    records = await collect(session, since)
    requests = await served_at_least(rw, before + len(expected) + 1) - before
    assert [r.external_id for r in records] == [d.deduction_id for d in expected]
    for r, d in zip(records, expected, strict=True):
        check_record(r, d, rw.world, session.account)
    # The portal's date filter and the stop at the first older posting keep it short.
    assert requests <= len(expected) + 3, (requests, len(expected))

    future = rw.world.clock.today() + timedelta(days=1)
    assert await collect(session, future) == []


# ---------------------------------------------------------------------- documents


async def test_documents_are_the_worlds_bytes(
    adapter_session: Any, world_factory: Any, small: Scenario
) -> None:
    rw: RunningWorld = world_factory(small)
    session = await signed_in(adapter_session, rw)
    world = rw.world
    downloads = 0
    for d in visible(rw, session):
        refs = await ADAPTER.list_documents(session, d.deduction_id)
        available = world.available_documents(d)
        assert sorted(r.ref for r in refs) == sorted(s.doc_id for s in available)
        specs = {s.doc_id: s for s in available}
        for ref in refs:
            spec = specs[ref.ref]
            assert ref.role == spec.kind.value
            assert ref.filename == FILE_NAMES.get(spec.filename, spec.filename)
            (doc,) = await ADAPTER.download_document(session, d.deduction_id, ref)
            assert doc.data == world.document_bytes(d, spec)
            assert doc.role == spec.kind.value
            assert doc.ref == spec.doc_id
            downloads += 1
    assert sorted(e.ref for e in world.record.downloads) == sorted(
        s.doc_id for d in visible(rw, session) for s in world.available_documents(d)
    )
    # One GET per document (through the request API: no page render, no retry).
    await served_at_least(rw, 1)
    by_path = world.record.requests_by_path
    assert sum(n for (p, path), n in by_path.items() if "/documents/" in path) == downloads


async def test_documents_appear_when_the_portal_has_them(
    adapter_session: Any, world_factory: Any, small: Scenario
) -> None:
    rw: RunningWorld = world_factory(small)
    session = await signed_in(adapter_session, rw)
    today = rw.world.clock.today()
    later = [
        d
        for d in visible(rw, session)
        if d.documents and all(s.available_from and s.available_from > today for s in d.documents)
    ]
    assert later, "the scenario has a claim whose backup comes later"
    d = later[0]
    assert await ADAPTER.list_documents(session, d.deduction_id) == []
    last = max(s.available_from for s in d.documents if s.available_from)
    rw.advance_clock(days=(last - today).days)
    refs = await ADAPTER.list_documents(session, d.deduction_id)
    assert sorted(r.ref for r in refs) == sorted(s.doc_id for s in d.documents)
    for ref in refs:
        spec = next(s for s in d.documents if s.doc_id == ref.ref)
        (doc,) = await ADAPTER.download_document(session, d.deduction_id, ref)
        assert doc.data == rw.world.document_bytes(d, spec)


# ---------------------------------------------------------------------- disputes


async def test_dispute_is_filed_once_and_tracked(
    adapter_session: Any, world_factory: Any, small: Scenario
) -> None:
    rw: RunningWorld = world_factory(small)
    session = await signed_in(adapter_session, rw)
    world = rw.world
    d = next(x for x in visible(rw, session) if window_open(world, x))
    assert await ADAPTER.dispute_status(session, d.deduction_id) is None

    p = packet(d, "proof_of_delivery", [("POD_1.pdf", PDF), ("BOL_1.pdf", PDF)])
    receipt = await ADAPTER.file_dispute(session, p)
    assert receipt.already_filed is False
    disp = world.dispute_for(PORTAL, d.deduction_id)
    assert disp is not None
    assert receipt.dispute_number == disp.number
    assert receipt.status == disp.status_at(world.clock.now()).value == "research"
    assert disp.reason == "Proof of delivery attached"
    assert disp.comment == p.explanation
    assert [a.filename for a in disp.attachments] == ["POD_1.pdf", "BOL_1.pdf"]

    again = await ADAPTER.file_dispute(session, p)  # a retry after a lost answer
    assert again.already_filed is True
    assert again.dispute_number == disp.number
    assert len(world.disputes) == 1

    status = await ADAPTER.dispute_status(session, d.deduction_id)
    assert status is not None
    assert status.dispute_number == disp.number
    assert (status.status, status.portal_label) == ("research", "MegaMart research")
    rw.advance_clock(days=disp.script.days_to_outcome)
    status = await ADAPTER.dispute_status(session, d.deduction_id)
    assert status is not None
    assert status.status == disp.status_at(world.clock.now()).value != "research"


async def test_refusals_are_dispute_rejected_and_a_draft_is_completed(
    adapter_session: Any, world_factory: Any, small: Scenario
) -> None:
    rw: RunningWorld = world_factory(small)
    session = await signed_in(adapter_session, rw)
    world = rw.world
    closing = [x for x in visible(rw, session) if world.window_closes(x) is not None]
    closed = min(closing, key=lambda x: world.window_closes(x) or date.max)
    closes = world.window_closes(closed)
    assert closes is not None
    rw.advance_clock(days=(closes - world.clock.today()).days + 1)  # the window shuts
    with pytest.raises(DisputeRejected, match="window"):
        await ADAPTER.file_dispute(session, packet(closed, "compliance_met"))
    assert world.dispute_for(PORTAL, closed.deduction_id) is None

    d = next(x for x in visible(rw, session) if window_open(world, x))
    not_pdf = packet(d, "compliance_met", [("scan.png", b"\x89PNG\r\n\x1a\n....")])
    with pytest.raises(DisputeRejected, match="PDF"):
        await ADAPTER.file_dispute(session, not_pdf)
    draft = world.dispute_for(PORTAL, d.deduction_id)
    assert draft is not None
    assert draft.submitted_at is None
    status = await ADAPTER.dispute_status(session, d.deduction_id)
    assert status is not None
    assert status.status == "draft"

    receipt = await ADAPTER.file_dispute(session, packet(d, "compliance_met"))
    assert receipt.dispute_number == draft.number
    assert receipt.already_filed is False
    assert draft.submitted_at is not None
    assert draft.reason == "Other"
    assert len(world.disputes) == 1


# ---------------------------------------------------------------------- faults


async def test_obfuscated_layout_documents_and_disputes(
    adapter_session: Any, world_factory: Any, small: Scenario
) -> None:
    rw: RunningWorld = world_factory(small, f"{PORTAL}:obfuscate=3")
    session = await signed_in(adapter_session, rw)
    world = rw.world
    d = next(x for x in visible(rw, session) if len(world.available_documents(x)) > 1)
    refs = await ADAPTER.list_documents(session, d.deduction_id)
    assert sorted(r.ref for r in refs) == sorted(s.doc_id for s in world.available_documents(d))
    for ref in refs:
        spec = next(s for s in d.documents if s.doc_id == ref.ref)
        (doc,) = await ADAPTER.download_document(session, d.deduction_id, ref)
        assert doc.data == world.document_bytes(d, spec)
    target = next(x for x in visible(rw, session) if window_open(world, x))
    receipt = await ADAPTER.file_dispute(session, packet(target, "allowance_not_owed"))
    disp = world.dispute_for(PORTAL, target.deduction_id)
    assert disp is not None
    assert disp.submitted_at is not None
    assert receipt.dispute_number == disp.number
    status = await ADAPTER.dispute_status(session, target.deduction_id)
    assert status is not None
    assert status.status == "research"


async def test_server_errors_are_portal_unavailable(
    adapter_session: Any, world_factory: Any, small: Scenario
) -> None:
    rw: RunningWorld = world_factory(small)
    session = await signed_in(adapter_session, rw)
    d = next(x for x in visible(rw, session) if rw.world.available_documents(x))
    refs = await ADAPTER.list_documents(session, d.deduction_id)
    rw.set_faults(f"{PORTAL}:error_rate=1")
    with pytest.raises(PortalUnavailable):
        await collect(session)
    with pytest.raises(PortalUnavailable):
        await ADAPTER.list_documents(session, d.deduction_id)
    with pytest.raises(PortalUnavailable):
        await ADAPTER.download_document(session, d.deduction_id, refs[0])
    with pytest.raises(PortalUnavailable):
        await ADAPTER.file_dispute(session, packet(d, "other"))
    with pytest.raises(PortalUnavailable):
        await ADAPTER.login(adapter_session(rw, PORTAL))
    assert rw.world.disputes == {}

    rw.set_faults(f"{PORTAL}:burst_429_every=1,burst_429_length=100,retry_after=7")
    with pytest.raises(RateLimited) as caught:
        await ADAPTER.dispute_status(session, d.deduction_id)
    assert caught.value.retry_after == 7


async def test_session_expiry_is_raised_then_a_new_login_resumes(
    adapter_session: Any, world_factory: Any, small: Scenario
) -> None:
    rw: RunningWorld = world_factory(small)
    fresh: AdapterSession = adapter_session(rw, PORTAL)
    with pytest.raises(SessionExpired):  # never signed in: not "zero deductions"
        await collect(fresh)

    session = await signed_in(adapter_session, rw)
    expected = visible(rw, session)
    by_id = {d.deduction_id: d for d in expected}
    d = next(x for x in expected if rw.world.available_documents(x))
    refs = await ADAPTER.list_documents(session, d.deduction_id)
    # The portal ends the session on every n-th request it has served; the fifth
    # request from now falls inside the listing, whatever the browser asked for
    # before (the full browser's favicon, say).
    rw.set_faults(f"{PORTAL}:expire_every={rw.world.record.requests[PORTAL] + 5}")
    partial: list[DeductionRecord] = []
    with pytest.raises(SessionExpired):
        await collect(session, into=partial)
    assert 0 < len(partial) < len(expected)
    for r in partial:  # what came before the expiry is right, nothing made up
        check_record(r, by_id[r.external_id], rw.world, session.account)

    rw.set_faults(f"{PORTAL}:expire_every=1")
    with pytest.raises(SessionExpired):
        await ADAPTER.download_document(session, d.deduction_id, refs[0])
    with pytest.raises(SessionExpired):
        await ADAPTER.file_dispute(session, packet(d, "other"))
    assert rw.world.disputes == {}

    rw.set_faults(None)
    assert await ADAPTER.is_logged_in(session) is False
    await ADAPTER.login(session)
    since = expected[len(expected) // 5].posted_date
    records = await collect(session, since)
    assert [r.external_id for r in records] == [
        x.deduction_id for x in expected if x.posted_date >= since
    ]
    (doc,) = await ADAPTER.download_document(session, d.deduction_id, refs[0])
    spec = next(s for s in d.documents if s.doc_id == refs[0].ref)
    assert doc.data == rw.world.document_bytes(d, spec)
    assert Decimal(records[0].amount) == rw.world.current_amount(by_id[records[0].external_id])
