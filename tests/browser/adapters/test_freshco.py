"""The FreshCo adapter in real Chromium against the fixture world.

Every answer is compared with the world (its visible claims, current amounts
and statuses, document bytes, dispute packages, and the record of what the
portal served), never with constants.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import date, timedelta
from typing import Any

import pytest

from credentials.secret import Secret
from fixtures.generator import generate
from fixtures.portals.freshco import STATUS_LABELS, claim_type
from fixtures.scenario import Deduction, Scenario
from fixtures.server import RunningWorld
from fixtures.world import World
from portal_adapters.base import AdapterSession, DisputePacket
from portal_adapters.errors import (
    BadCredentials,
    DisputeRejected,
    MfaFailed,
    PortalUnavailable,
    RecordInvalid,
    SessionExpired,
)
from portal_adapters.freshco import POSTING_LAG_DAYS, FreshcoAdapter
from records.schemas import DeductionRecord
from tests.unit.portals.test_freshco import freshco_scenario

pytestmark = pytest.mark.browser

PORTAL = "freshco"
ADAPTER = FreshcoAdapter()
PDF = b"%PDF-1.4\n% test attachment\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture(scope="module")
def small() -> Scenario:
    return generate(7, "small")


# ---------------------------------------------------------------------- helpers


def with_portal(scenario: Scenario, **update: Any) -> Scenario:
    cfg = scenario.portals[PORTAL].model_copy(update=update)
    return scenario.model_copy(update={"portals": {**scenario.portals, PORTAL: cfg}})


async def signed_in(adapter_session: Any, rw: RunningWorld, **kw: Any) -> AdapterSession:
    session: AdapterSession = adapter_session(rw, PORTAL, **kw)
    await ADAPTER.login(session)
    return session


def visible(rw: RunningWorld, session: AdapterSession) -> list[Deduction]:
    return rw.world.visible_deductions(PORTAL, session.account)


async def collect(
    session: AdapterSession, since: date | None = None, *, into: list[Any] | None = None
) -> list[DeductionRecord]:
    out: list[Any] = [] if into is None else into
    async for item in ADAPTER.list_deductions(session, since):
        assert not isinstance(item, RecordInvalid), item
        out.append(item)
    return out


def check_record(r: DeductionRecord, d: Deduction, world: World, account: str) -> None:
    """One record is the world's claim as the portal shows it today."""
    codes = world.scenario.portals[PORTAL].reason_codes
    assert r.portal == PORTAL
    assert r.external_id == d.deduction_id
    assert r.account == account
    assert r.amount == world.current_amount(d)
    assert r.currency == d.currency
    assert r.invoice_number == d.invoice_number
    assert r.po_number == d.po_number
    assert r.location == d.location  # FreshCo's "DC 07" / "Store 0001" read as shown
    assert r.reason_code == d.reason_code
    if d.reason_text:
        assert r.reason_text == d.reason_text
    if d.reason_code in codes:
        assert r.category is not None
        assert r.category.value == codes[d.reason_code].category.value
    assert r.deduction_date == d.deduction_date
    assert r.invoice_date == d.invoice_date
    assert r.posted_date is None  # FreshCo never shows it
    assert r.status == world.current_status(d)
    assert r.promo_id == (d.promo_id or None)
    assert r.pro_number == (d.pro_number or None)
    assert r.bol_number == (d.bol_number or None)
    assert r.carrier is None  # not shown
    assert r.memo == d.memo
    assert r.raw["list_row"]["Claim No."] == d.deduction_id


def served(rw: RunningWorld) -> int:
    return rw.world.record.requests[PORTAL]


async def settled(rw: RunningWorld) -> int:
    """The served count once it stops moving (the world counts a request after
    its body went out, a moment after the browser has it)."""
    last = -1
    for _ in range(100):
        now = served(rw)
        if now == last:
            break
        last = now
        await asyncio.sleep(0.02)
    return served(rw)


def detail_reads(rw: RunningWorld) -> dict[str, int]:
    return {
        path: n
        for (portal, path), n in rw.world.record.requests_by_path.items()
        if portal == PORTAL and path.startswith("/claims/") and path.count("/") == 2
    }


def logins(world: World) -> list[tuple[str, bool]]:
    return [(e.step, e.ok) for e in world.record.logins if e.portal == PORTAL]


def window_open(world: World, d: Deduction) -> bool:
    closes = world.window_closes(d)
    return closes is None or world.clock.today() <= closes


def packet(d: Deduction, **kw: Any) -> DisputePacket:
    values: dict[str, Any] = {
        "deduction_external_id": d.deduction_id,
        "idempotency_key": f"test-{d.deduction_id}",
        "reason": "allowance_not_owed",
        "amount": d.amount,
        "explanation": "Promotion paid in full on invoice; see attached agreement.",
        "attachments": (("agreement.pdf", PDF),),
    }
    values.update(kw)
    return DisputePacket(**values)


# ---------------------------------------------------------------------- log-on


async def test_log_on_with_question_once_then_list_everything(
    adapter_session: Any, world_factory: Any, small: Scenario
) -> None:
    rw: RunningWorld = world_factory(small)
    world = rw.world
    session = await signed_in(adapter_session, rw)
    assert logins(world) == [("password", True), ("security_question", True)]
    assert await ADAPTER.is_logged_in(session)

    expected = visible(rw, session)
    assert len(expected) > 30, "the generated world pages its claims"
    before = await settled(rw)
    records = await collect(session)
    used = await settled(rw) - before
    assert [r.external_id for r in records] == [d.deduction_id for d in expected]
    for r, d in zip(records, expected, strict=True):
        check_record(r, d, world, session.account)
    pages = -(-len(expected) // 15)
    assert used == pages + len(expected)  # one per list page, one per claim page
    print(f"freshco listing: {used / len(expected):.3f} requests per deduction")

    # The same browser again: the device cookie spares the question.
    await ADAPTER.login(session)
    assert logins(world)[-1] == ("password", True)
    assert [s for s, _ in logins(world)].count("security_question") == 1


async def test_wrong_password_is_one_attempt(adapter_session: Any, world_factory: Any) -> None:
    rw: RunningWorld = world_factory()
    session: AdapterSession = adapter_session(rw, PORTAL)
    session.credentials = dataclasses.replace(session.credentials, password=Secret("nope-7!x"))
    with pytest.raises(BadCredentials) as info:
        await ADAPTER.login(session)
    assert "nope-7!x" not in str(info.value)
    assert logins(rw.world) == [("password", False)]


async def test_wrong_or_missing_answer_is_mfa_failed(
    adapter_session: Any, world_factory: Any
) -> None:
    rw: RunningWorld = world_factory()
    session: AdapterSession = adapter_session(rw, PORTAL)
    session.credentials = dataclasses.replace(
        session.credentials, security_answer=Secret("Atlantis-3")
    )
    with pytest.raises(MfaFailed) as info:
        await ADAPTER.login(session)
    assert "Atlantis-3" not in str(info.value)
    assert logins(rw.world) == [("password", True), ("security_question", False)]

    session.credentials = dataclasses.replace(session.credentials, security_answer=None)
    with pytest.raises(MfaFailed):
        await ADAPTER.login(session)
    assert logins(rw.world)[-1] == ("password", True)  # no answer was guessed
    # half through the log-on, the portal shows its question where the claims were
    # asked for: not signed in (the runtime logs in again), never a changed layout
    assert await ADAPTER.is_logged_in(session) is False


@pytest.mark.parametrize("nth", [3, 5])  # the question page, then the frameset
async def test_a_session_ending_during_log_on_is_not_a_refusal(
    adapter_session: Any, world_factory: Any, nth: int
) -> None:
    """The portal's sessions all end on its 3rd (5th) request: the log-on page
    comes back without an alert. That is SessionExpired, never BadCredentials
    (which would disable the account) nor MfaFailed."""
    rw: RunningWorld = world_factory()
    rw.set_faults(f"freshco:expire_every={nth}")
    session: AdapterSession = adapter_session(rw, PORTAL)
    with pytest.raises(SessionExpired):
        await ADAPTER.login(session)
    assert ("password", False) not in logins(rw.world)
    assert ("security_question", False) not in logins(rw.world)
    rw.set_faults(None)
    await ADAPTER.login(session)
    assert await ADAPTER.is_logged_in(session)


# ---------------------------------------------------------------------- listing


async def test_since_reads_only_recent_claims(
    adapter_session: Any, world_factory: Any, small: Scenario
) -> None:
    rw: RunningWorld = world_factory(small)
    world = rw.world
    session = await signed_in(adapter_session, rw)
    expected = visible(rw, session)
    since = expected[len(expected) // 3].posted_date
    before = await settled(rw)
    records = await collect(session, since)
    used = await settled(rw) - before
    got = {r.external_id for r in records}
    wanted = {d.deduction_id for d in expected if d.posted_date >= since}
    assert wanted <= got  # every claim posted since is there ...
    floor = since - timedelta(days=POSTING_LAG_DAYS)
    assert all(r.deduction_date is not None and r.deduction_date >= floor for r in records)
    assert len(got) < len(expected)  # ... and the listing stopped early
    assert used < len(expected)
    by_id = {d.deduction_id: d for d in expected}
    for r in records:
        check_record(r, by_id[r.external_id], world, session.account)


# ---------------------------------------------------------------------- documents


async def test_documents_are_the_worlds_bytes_and_appear_later(
    adapter_session: Any, world_factory: Any, small: Scenario
) -> None:
    rw: RunningWorld = world_factory(small)
    world = rw.world
    session = await signed_in(adapter_session, rw)
    today = world.clock.today()
    claims = visible(rw, session)
    ready = [d for d in claims if d.documents and world.available_documents(d) == d.documents]
    later = [d for d in claims if d.documents and not world.available_documents(d)]
    assert ready, "the generated world has claims with every document on file"
    assert later, "the generated world has claims whose documents come later"
    picked = ready[:4]

    before, downloads = await settled(rw), len(world.record.downloads)
    n_docs = 0
    for d in picked:
        refs = await ADAPTER.list_documents(session, d.deduction_id)
        assert [r.ref for r in refs] == [s.doc_id for s in d.documents]
        for ref, spec in zip(refs, d.documents, strict=True):
            assert ref.role == spec.kind.value
            got = await ADAPTER.download_document(session, d.deduction_id, ref)
            assert [g.data for g in got] == [world.document_bytes(d, spec)]
            assert got[0].ref == spec.doc_id
            assert got[0].filename == spec.filename
            assert got[0].media_type == ("text/csv" if spec.form == "csv" else "application/pdf")
            n_docs += 1
    used = await settled(rw) - before
    assert len(world.record.downloads) - downloads == n_docs  # each document once
    assert used == len(picked) + 2 * n_docs  # claim page; viewer + file per document
    print(
        f"freshco documents: {used / n_docs:.2f} requests per document "
        f"({used / len(picked):.2f} per claim)"
    )

    d = later[0]
    assert await ADAPTER.list_documents(session, d.deduction_id) == []
    first = min(s.available_from for s in d.documents if s.available_from)
    rw.advance_clock(days=(first - today).days)
    refs = await ADAPTER.list_documents(session, d.deduction_id)
    assert [r.ref for r in refs] == [s.doc_id for s in world.available_documents(d)]
    assert refs
    for ref, spec in zip(refs, world.available_documents(d), strict=True):
        got = await ADAPTER.download_document(session, d.deduction_id, ref)
        assert got[0].data == world.document_bytes(d, spec)


# ---------------------------------------------------------------------- disputes


async def test_dispute_is_filed_once_and_tracked(
    adapter_session: Any, world_factory: Any, hand_scenario: Scenario
) -> None:
    rw: RunningWorld = world_factory(freshco_scenario(hand_scenario))
    world = rw.world
    session = await signed_in(adapter_session, rw)
    d = world.deduction(PORTAL, session.account, "FC00012345")
    assert d is not None
    assert await ADAPTER.dispute_status(session, d.deduction_id) is None

    before = await settled(rw)
    receipt = await ADAPTER.file_dispute(session, packet(d, amount=d.amount - 80))
    used = await settled(rw) - before
    assert used == 4  # claim page, form, submit, confirmation
    disp = world.dispute_for(PORTAL, d.deduction_id)
    assert disp is not None
    assert receipt.dispute_number == disp.number
    assert receipt.already_filed is False
    assert receipt.status == "research"
    assert disp.fields == {"case_type": claim_type(world, d)}  # the claim's own type
    assert disp.amount == d.amount - 80
    assert [(a.filename, a.size) for a in disp.attachments] == [("agreement.pdf", len(PDF))]

    again = await ADAPTER.file_dispute(session, packet(d))
    assert again == dataclasses.replace(receipt, already_filed=True)
    assert len([x for x in world.disputes.values() if x.portal == PORTAL]) == 1

    for days in (0, 5, 13):
        rw.advance_clock(days=days)
        report = await ADAPTER.dispute_status(session, d.deduction_id)
        assert report is not None
        label = STATUS_LABELS[disp.status_at(world.clock.now())]
        assert report.dispute_number == disp.number
        assert report.portal_label == label
        assert report.status == disp.status_at(world.clock.now()).value
    assert report.status == "partially_approved"


async def test_refusals_are_dispute_rejected(
    adapter_session: Any, world_factory: Any, small: Scenario
) -> None:
    rw: RunningWorld = world_factory(small)
    world = rw.world
    session = await signed_in(adapter_session, rw)
    claims = visible(rw, session)
    closed = next(d for d in claims if not window_open(world, d))
    with pytest.raises(DisputeRejected, match="window"):
        await ADAPTER.file_dispute(session, packet(closed))
    open_ = next(d for d in claims if window_open(world, d))
    with pytest.raises(DisputeRejected, match="reason"):
        await ADAPTER.file_dispute(session, packet(open_, explanation="  "))
    with pytest.raises(DisputeRejected, match="case type"):
        await ADAPTER.file_dispute(session, packet(open_, case_type="ZZ"))
    assert world.dispute_for(PORTAL, open_.deduction_id) is None
    # The explicit case type wins over the claim's own.
    receipt = await ADAPTER.file_dispute(
        session, packet(open_, case_type="OV - OVERAGE", attachments=())
    )
    disp = world.dispute_for(PORTAL, open_.deduction_id)
    assert disp is not None
    assert disp.number == receipt.dispute_number
    assert disp.fields == {"case_type": "OV"}


# ---------------------------------------------------------------------- faults


async def test_obfuscated_layout_gives_the_same_answers(
    adapter_session: Any, world_factory: Any, hand_scenario: Scenario
) -> None:
    rw: RunningWorld = world_factory(freshco_scenario(hand_scenario))
    rw.set_faults("freshco:obfuscate=3")
    world = rw.world
    session = await signed_in(adapter_session, rw)
    expected = visible(rw, session)
    records = await collect(session)
    assert [r.external_id for r in records] == [d.deduction_id for d in expected]
    for r, d in zip(records, expected, strict=True):
        check_record(r, d, world, session.account)

    # The listing read each claim page a moment ago: the first look at a claim's
    # documents reuses that read; a second look goes to the portal again.
    d = world.deduction(PORTAL, session.account, "FC00012346")  # a malformed PDF
    assert d is not None
    before = await settled(rw)
    refs = await ADAPTER.list_documents(session, d.deduction_id)
    assert await settled(rw) == before
    got = await ADAPTER.download_document(session, d.deduction_id, refs[0])
    assert got[0].data == world.document_bytes(d, d.documents[0])
    assert [r.ref for r in await ADAPTER.list_documents(session, d.deduction_id)] == [
        s.doc_id for s in d.documents
    ]
    assert await settled(rw) == before + 3

    d = world.deduction(PORTAL, session.account, "FC00012345")
    assert d is not None
    refs = await ADAPTER.list_documents(session, d.deduction_id)
    for ref, spec in zip(refs, d.documents, strict=True):
        got = await ADAPTER.download_document(session, d.deduction_id, ref)
        assert got[0].data == world.document_bytes(d, spec)
    receipt = await ADAPTER.file_dispute(session, packet(d, case_type="OI"))
    assert world.disputes[receipt.dispute_number].fields == {"case_type": "OI"}


async def test_server_errors_are_portal_unavailable(
    adapter_session: Any, world_factory: Any, small: Scenario
) -> None:
    rw: RunningWorld = world_factory(small)
    session: AdapterSession = adapter_session(rw, PORTAL)
    rw.set_faults("freshco:error_rate=1")
    with pytest.raises(PortalUnavailable):
        await ADAPTER.login(session)
    rw.set_faults(None)
    await ADAPTER.login(session)
    rw.set_faults("freshco:error_rate=1")
    with pytest.raises(PortalUnavailable):
        await collect(session)
    d = visible(rw, session)[0]
    with pytest.raises(PortalUnavailable):
        await ADAPTER.list_documents(session, d.deduction_id)
    with pytest.raises(PortalUnavailable):
        await ADAPTER.file_dispute(session, packet(d))
    rw.set_faults(None)
    assert rw.world.dispute_for(PORTAL, d.deduction_id) is None


async def test_expiry_is_raised_and_a_new_log_on_resumes(
    adapter_session: Any, world_factory: Any, small: Scenario
) -> None:
    """The portal's own 60-request budget (here 20) ends the session mid-listing:
    SessionExpired, never a short list; after each new log-on the listing goes on
    without reading a claim page twice."""
    rw: RunningWorld = world_factory(with_portal(small, session_max_requests=20))
    world = rw.world
    session = await signed_in(adapter_session, rw)
    expected = visible(rw, session)
    expiries = 0
    records: list[DeductionRecord] = []
    for _ in range(6):
        records = []
        try:
            await collect(session, into=records)
            break
        except SessionExpired:
            expiries += 1
            await ADAPTER.login(session)
    assert expiries >= 2
    assert [r.external_id for r in records] == [d.deduction_id for d in expected]
    for r, d in zip(records, expected, strict=True):
        check_record(r, d, world, session.account)
    # Each claim page read once, but for the reads the expiry answered with the log-on page.
    reads = detail_reads(rw)
    assert set(reads) == {f"/claims/{d.deduction_id}" for d in expected}
    assert sum(reads.values()) <= len(expected) + expiries
    print(f"freshco listing with a 20-request budget: {expiries} new log-ons")

    # The expiry fault: a document download meets the log-on page.
    d = expected[0]
    refs = await ADAPTER.list_documents(session, d.deduction_id)
    rw.set_faults("freshco:expire_every=1")
    with pytest.raises(SessionExpired):
        await ADAPTER.download_document(session, d.deduction_id, refs[0])
    with pytest.raises(SessionExpired):
        await ADAPTER.dispute_status(session, d.deduction_id)
    rw.set_faults(None)
    await ADAPTER.login(session)
    got = await ADAPTER.download_document(session, d.deduction_id, refs[0])
    assert got[0].data == world.document_bytes(d, d.documents[0])
