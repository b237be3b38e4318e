"""The ShopRight adapter against the fixture world: sign-in through the SPA,
listing and documents through its JSON API, cases through the wizard.

Every answer is compared with the world's own deductions, documents and
disputes, never with constants."""

from __future__ import annotations

import dataclasses
import io
import zipfile
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar

import pytest
from pypdf import PdfReader, PdfWriter

from credentials.secret import Secret
from fixtures.generator import generate
from fixtures.scenario import Deduction
from fixtures.server import RunningWorld
from fixtures.world import World
from portal_adapters.base import AdapterSession, DisputePacket
from portal_adapters.errors import (
    BadCredentials,
    DisputeRejected,
    LayoutChanged,
    MfaFailed,
    NotYetAvailable,
    PortalUnavailable,
    RateLimited,
    RecordInvalid,
    SessionExpired,
)
from portal_adapters.shopright import ShoprightAdapter
from portal_adapters.shopright_api import SUMMARY_KEYS
from records.schemas import DeductionRecord

pytestmark = pytest.mark.browser

PORTAL = "shopright"
ADAPTER = ShoprightAdapter()


class ZipAdapter(ShoprightAdapter):
    use_backup_zip: ClassVar[bool] = True


# ---------------------------------------------------------------------- helpers


async def logged_in(adapter_session: Any, rw: RunningWorld) -> AdapterSession:
    """Signed in, the landing page's own requests done: tests that count the
    portal's requests start counting after them (on a busy machine a late
    one of the landing page was counted as the listing's)."""
    session: AdapterSession = adapter_session(rw, PORTAL)
    await ADAPTER.login(session)
    await (await session.main_page()).wait_for_load_state("networkidle")
    return session


async def collect(session: AdapterSession, since: date | None = None) -> list[DeductionRecord]:
    out: list[DeductionRecord] = []
    async for r in ADAPTER.list_deductions(session, since):
        assert not isinstance(r, RecordInvalid), r
        out.append(r)
    return out


def logins(world: World, step: str) -> list[bool]:
    return [e.ok for e in world.record.logins if e.portal == PORTAL and e.step == step]


def visible(rw: RunningWorld) -> list[Deduction]:
    username = rw.world.scenario.accounts_on(PORTAL)[0].username
    return rw.world.visible_deductions(PORTAL, username)


def check_record(r: DeductionRecord, d: Deduction, world: World) -> None:
    """The record is the world's deduction as of the world's clock."""
    codes = world.scenario.portals[PORTAL].reason_codes
    assert r.portal == PORTAL
    assert r.external_id == d.deduction_id
    assert r.account == d.account
    assert r.amount == world.current_amount(d)
    assert r.currency == d.currency
    assert r.invoice_number == d.invoice_number
    assert r.po_number == d.po_number
    assert r.location == d.location
    assert r.reason_code == d.reason_code
    expected_text = d.reason_text or (codes[d.reason_code].text if d.reason_code in codes else "")
    assert r.reason_text == expected_text
    if d.reason_code in codes:
        assert r.category is not None
        assert r.category.value == codes[d.reason_code].category.value
    assert r.deduction_date == d.deduction_date
    assert r.invoice_date == d.invoice_date
    assert r.posted_date == d.posted_date
    assert r.status == world.current_status(d)
    assert r.promo_id == (d.promo_id or None)
    assert r.carrier == (d.carrier or None)
    assert r.pro_number == (d.pro_number or None)
    assert r.bol_number == (d.bol_number or None)
    assert r.memo == d.memo.replace("\x00", "").strip()
    assert [(ln.sku, ln.quantity, ln.amount) for ln in r.lines] == [
        (ln.sku, ln.quantity, ln.amount) for ln in d.lines
    ]
    assert r.raw["document_number"] == d.deduction_id
    assert all(isinstance(v, str | None) for k, v in r.raw.items() if k != "lines")


def pdf(title: str) -> bytes:
    """A one-page PDF (a stand-in for a POD or a cover letter)."""
    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    writer.add_metadata({"/Title": title})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def packet(d: Deduction, world: World, **kw: Any) -> DisputePacket:
    base = {
        "deduction_external_id": d.deduction_id,
        "idempotency_key": f"test-{d.deduction_id}",
        "reason": "proof_of_delivery",
        "amount": world.current_amount(d),
        "explanation": "Delivered in full; signed POD attached.",
        "attachments": (("POD.pdf", pdf("Proof of delivery")),),
    }
    return DisputePacket(**(base | kw))


# ---------------------------------------------------------------------- listing


async def test_login_list_and_documents(adapter_session: Any, world_factory: Any) -> None:
    rw: RunningWorld = world_factory(generate(7, "small"))
    world = rw.world
    session: AdapterSession = adapter_session(rw, PORTAL)
    assert not await ADAPTER.is_logged_in(session)
    await ADAPTER.login(session)
    assert logins(world, "password") == [True]
    assert logins(world, "totp") == [True]
    assert await ADAPTER.is_logged_in(session)

    before = world.record.requests[PORTAL]
    records = await collect(session)
    listing = world.record.requests[PORTAL] - before
    expected = visible(rw)
    assert [r.external_id for r in records] == [d.deduction_id for d in expected]
    for r, d in zip(records, expected, strict=True):
        check_record(r, d, world)
    pages = -(-len(expected) // world.scenario.portals[PORTAL].page_size)
    assert listing == len(expected) + pages  # one detail per deduction + the list pages
    print(f"shopright list: {listing / len(expected):.2f} requests per deduction")

    before = world.record.requests[PORTAL]
    downloads = len(world.record.downloads)
    empty = []
    for d in expected:
        refs = await ADAPTER.list_documents(session, d.deduction_id)
        available = world.available_documents(d)
        assert [r.ref for r in refs] == [s.doc_id for s in available]
        assert [r.role for r in refs] == [s.kind.value for s in available]
        if not available:
            empty.append(d)
        for ref, spec in zip(refs, available, strict=True):
            [doc] = await ADAPTER.download_document(session, d.deduction_id, ref)
            assert doc.data == world.document_bytes(d, spec)
            assert doc.ref == spec.doc_id
            assert doc.filename == spec.filename
    fetched = len(world.record.downloads) - downloads
    requests = world.record.requests[PORTAL] - before
    assert fetched > 0
    assert empty
    # The listing's detail answers already named the documents: one GET per document.
    assert requests == fetched
    print(f"shopright documents: {fetched} documents in {requests} requests")

    rw.advance_clock(days=15)
    later = [d for d in empty if world.available_documents(d)]
    assert later, "some documents arrive within two weeks"
    before = world.record.requests[PORTAL]
    for d in later:  # asked again in the same job: the portal answers (one request each)
        refs = await ADAPTER.list_documents(session, d.deduction_id)
        assert [r.ref for r in refs] == [s.doc_id for s in world.available_documents(d)]
    assert world.record.requests[PORTAL] - before == len(later)
    assert await ADAPTER.list_documents(session, "CB0000000") == []


async def test_since_stops_paging(adapter_session: Any, world_factory: Any) -> None:
    rw: RunningWorld = world_factory(generate(7, "small"))
    world = rw.world
    session = await logged_in(adapter_session, rw)
    expected = visible(rw)
    since = expected[len(expected) // 3].posted_date
    wanted = [d for d in expected if d.posted_date >= since]
    before = world.record.requests[PORTAL]
    records = await collect(session, since)
    requests = world.record.requests[PORTAL] - before
    assert [r.external_id for r in records] == [d.deduction_id for d in wanted]
    assert requests <= len(wanted) + 2  # details read, one past the edge, one list page
    assert await collect(session, date(2100, 1, 1)) == []


async def test_backup_zip_path(adapter_session: Any, world_factory: Any) -> None:
    rw: RunningWorld = world_factory(generate(7, "small"))
    world = rw.world
    session = await logged_in(adapter_session, rw)
    zipper = ZipAdapter()
    with_docs = next(d for d in visible(rw) if len(world.available_documents(d)) > 1)
    without = next(d for d in visible(rw) if not world.available_documents(d))
    [ref] = await zipper.list_documents(session, with_docs.deduction_id)
    assert ref.ref == f"zip:{with_docs.deduction_id}"
    [doc] = await zipper.download_document(session, with_docs.deduction_id, ref)
    assert doc.media_type == "application/zip"
    with zipfile.ZipFile(io.BytesIO(doc.data)) as zf:
        got = sorted(zf.read(n) for n in zf.namelist())
    assert got == sorted(
        world.document_bytes(with_docs, s) for s in world.available_documents(with_docs)
    )
    assert await zipper.list_documents(session, without.deduction_id) == []
    stale = dataclasses.replace(ref, ref=f"zip:{without.deduction_id}")
    with pytest.raises(NotYetAvailable):
        await zipper.download_document(session, without.deduction_id, stale)


# ---------------------------------------------------------------------- disputes


@pytest.mark.parametrize("layout", [None, 3], ids=["plain", "obfuscated"])
async def test_dispute_filed_once_then_status(
    adapter_session: Any, world_factory: Any, layout: int | None
) -> None:
    rw: RunningWorld = world_factory(
        generate(7, "small"), faults=f"{PORTAL}:obfuscate={layout}" if layout else None
    )
    world = rw.world
    session = await logged_in(adapter_session, rw)
    d = visible(rw)[0]
    assert await ADAPTER.dispute_status(session, d.deduction_id) is None
    two = (("cover letter.pdf", pdf("Cover letter")), ("../POD.pdf", pdf("POD")))
    amount = (world.current_amount(d) / 2).quantize(Decimal("0.01"))
    before = world.record.requests[PORTAL]
    receipt = await ADAPTER.file_dispute(session, packet(d, world, amount=amount, attachments=two))
    print(f"shopright case: {world.record.requests[PORTAL] - before} requests")
    disp = world.dispute_for(PORTAL, d.deduction_id)
    assert disp is not None
    assert receipt.dispute_number == disp.number
    assert not receipt.already_filed
    assert receipt.status == disp.status_at(world.clock.now()).value == "research"
    assert disp.amount == amount
    assert disp.fields["reason_key"] == "received_in_full"
    [att] = disp.attachments  # ShopRight takes one PDF: both were combined
    assert att.filename.endswith(".pdf")
    assert "/" not in att.filename
    again = await ADAPTER.file_dispute(session, packet(d, world))
    assert again.already_filed
    assert again.dispute_number == disp.number
    assert len(world.disputes) == 1

    report = await ADAPTER.dispute_status(session, d.deduction_id)
    assert report is not None
    assert (report.dispute_number, report.status, report.portal_label) == (
        disp.number,
        "research",
        "In review",
    )
    rw.advance_clock(days=60)
    report = await ADAPTER.dispute_status(session, d.deduction_id)
    assert report is not None
    assert report.status == disp.status_at(world.clock.now()).value
    assert report.status != "research"


def test_api_shape_and_status_checks() -> None:
    """What the portal's JSON must look like; pure functions, no portal needed."""
    from portal_adapters.shopright_api import check_status, list_page
    from portal_adapters.web import Reply

    row = dict.fromkeys(SUMMARY_KEYS, "")
    assert list_page({"items": [row], "next_cursor": None, "total": 1}, step="t") == ([row], None)
    for broken in (
        {"items": [row], "total": 1},  # no next_cursor
        {
            "items": [{k: v for k, v in row.items() if k != "amount"}],
            "next_cursor": None,
            "total": 1,
        },
        {"items": "nope", "next_cursor": None, "total": 1},
        {"items": [row], "next_cursor": 5, "total": 1},
    ):
        with pytest.raises(LayoutChanged):
            list_page(broken, step="t")
    csrf = b'{"error": "csrf", "message": "This request was refused (missing request header)."}'
    with pytest.raises(LayoutChanged, match="refused"):
        check_status(Reply(403, {}, csrf, "http://x/api/cases"), step="t")
    with pytest.raises(SessionExpired):
        check_status(Reply(401, {}, b'{"error": "session expired"}', "http://x/api/me"), step="t")
    with pytest.raises(RateLimited) as info:
        check_status(Reply(429, {"retry-after": "7"}, b"", "http://x/api/deductions"), step="t")
    assert info.value.retry_after == 7
    with pytest.raises(PortalUnavailable):
        check_status(Reply(502, {}, b"", "http://x/api/deductions"), step="t")


def test_combined_pdf_keeps_every_page() -> None:
    from records.pdfs import merge_pdfs

    merged = merge_pdfs([pdf("one"), pdf("two")])
    assert len(PdfReader(io.BytesIO(merged)).pages) == 2


async def test_dispute_refusals(adapter_session: Any, world_factory: Any) -> None:
    rw: RunningWorld = world_factory(generate(7, "small"))
    world = rw.world
    session = await logged_in(adapter_session, rw)
    d = visible(rw)[1]
    too_much = world.current_amount(d) + Decimal("1.00")
    with pytest.raises(DisputeRejected, match="cannot be more than"):
        await ADAPTER.file_dispute(session, packet(d, world, amount=too_much))
    with pytest.raises(DisputeRejected, match="not found"):
        await ADAPTER.file_dispute(
            session, dataclasses.replace(packet(d, world), deduction_external_id="CB0000000")
        )
    with pytest.raises(DisputeRejected, match="PDF"):
        await ADAPTER.file_dispute(session, packet(d, world, attachments=(("a.txt", b"hi"),)))
    # The window of the oldest claim closes: the portal itself refuses (409).
    oldest = min(
        (x for x in visible(rw) if world.window_closes(x)), key=lambda x: world.window_closes(x)
    )
    closes = world.window_closes(oldest)
    assert closes is not None
    rw.advance_clock(days=(closes - world.clock.today()).days + 1)
    with pytest.raises(DisputeRejected, match="window"):
        await ADAPTER.file_dispute(session, packet(oldest, world))
    assert world.disputes == {}


# ---------------------------------------------------------------------- failures


async def test_wrong_password_is_one_attempt(adapter_session: Any, world_factory: Any) -> None:
    rw: RunningWorld = world_factory(generate(7, "small"))
    session: AdapterSession = adapter_session(rw, PORTAL)
    session.credentials = dataclasses.replace(session.credentials, password=Secret("wrong-pw-1"))
    with pytest.raises(BadCredentials) as info:
        await ADAPTER.login(session)
    assert "wrong-pw-1" not in str(info.value)
    assert logins(rw.world, "password") == [False]
    assert not session.logged_in


async def test_wrong_totp_is_mfa_failed(adapter_session: Any, world_factory: Any) -> None:
    rw: RunningWorld = world_factory(generate(7, "small"))
    session: AdapterSession = adapter_session(rw, PORTAL)
    session.credentials = dataclasses.replace(
        session.credentials, totp_secret=Secret("JBSWY3DPEHPK3PXPJBSWY3DP")
    )
    with pytest.raises(MfaFailed):
        await ADAPTER.login(session)
    assert logins(rw.world, "password") == [True]
    assert logins(rw.world, "totp") == [False]


async def test_errors_are_portal_unavailable(adapter_session: Any, world_factory: Any) -> None:
    rw: RunningWorld = world_factory(generate(7, "small"))
    session = await logged_in(adapter_session, rw)
    d = visible(rw)[0]
    rw.set_faults(f"{PORTAL}:error_rate=1")
    with pytest.raises(PortalUnavailable):
        await collect(session)
    with pytest.raises(PortalUnavailable):
        await ADAPTER.list_documents(session, d.deduction_id)
    with pytest.raises(PortalUnavailable):
        await ADAPTER.file_dispute(session, packet(d, rw.world))
    with pytest.raises(PortalUnavailable):
        await ADAPTER.login(adapter_session(rw, PORTAL))
    assert rw.world.disputes == {}


async def test_session_expiry(adapter_session: Any, world_factory: Any) -> None:
    rw: RunningWorld = world_factory(generate(7, "small"))
    world = rw.world
    session = await logged_in(adapter_session, rw)
    d = visible(rw)[0]
    rw.set_faults(f"{PORTAL}:expire_every=5")
    with pytest.raises(SessionExpired):
        await collect(session)
    with pytest.raises(SessionExpired):
        await ADAPTER.file_dispute(session, packet(d, world))
    rw.set_faults(None)
    assert not await ADAPTER.is_logged_in(session)
    await ADAPTER.login(session)
    assert [r.external_id for r in await collect(session)] == [x.deduction_id for x in visible(rw)]
    assert world.disputes == {}
