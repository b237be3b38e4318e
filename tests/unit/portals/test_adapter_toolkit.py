"""The adapter toolkit's pure parts (portal_adapters.web): how failures are
classed, how header values and portal text are read, and where a link may
lead. The parts that drive a page are tested through the adapters in
tests/browser/adapters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

from credentials.login import Login
from credentials.secret import Secret
from portal_adapters.base import AdapterSession, PortalAdapter
from portal_adapters.errors import LayoutChanged, PortalUnavailable, RecordInvalid
from portal_adapters.web import (
    FieldError,
    build_record,
    check_record_heading,
    filename_from_disposition,
    media_type,
    portal_url,
    read_field,
    retry_after_seconds,
    sniff_kind,
    translate_playwright_error,
    upload_name,
)
from records.schemas import ShipmentRecord

# ---------------------------------------------------------------------- failures


@pytest.mark.parametrize(
    "error",
    [
        PlaywrightTimeout("Locator.wait_for: Timeout 10000ms exceeded."),
        PlaywrightError("Page.goto: net::ERR_CONNECTION_REFUSED at http://127.0.0.2:1/login"),
        PlaywrightError("APIRequestContext.fetch: read ECONNRESET"),
        PlaywrightError("Page.title: Target page, context or browser has been closed"),
        PlaywrightError("Locator.evaluate: Execution context was destroyed, most likely because"),
        PlaywrightError("Locator.click: Element is not attached to the DOM"),
    ],
)
def test_outages_and_pages_that_went_away_are_portal_unavailable(error: PlaywrightError) -> None:
    assert type(translate_playwright_error(error, portal="p", step="s")) is PortalUnavailable


@pytest.mark.parametrize(
    "error",
    [
        PlaywrightError(
            "Locator.count: InvalidSelectorError: Error while parsing selector "
            '`heading[name=/Claim C/1/i]` - unexpected symbol "1" at position 22'
        ),
        PlaywrightError(
            'Locator.click: Error: strict mode violation: get_by_role("button") resolved to 2'
        ),
        PlaywrightError("Locator.evaluate: TypeError: Cannot read properties of null"),
        PlaywrightError("Page.goto: net::ERR_INVALID_URL at http://"),
        PlaywrightError("Page.goto: Download is starting"),
    ],
)
def test_what_a_retry_would_meet_again_is_layout_changed(error: PlaywrightError) -> None:
    """Never PortalUnavailable (retried six times): the job stops with its artifacts."""
    translated = translate_playwright_error(error, portal="megamart", step="list_deductions")
    assert type(translated) is LayoutChanged
    assert str(translated).startswith("[megamart:list_deductions] unexpected browser error")


def test_a_field_that_cannot_be_read_is_named() -> None:
    with pytest.raises(FieldError) as caught:
        read_field("Amount", int, "12 cases")
    assert caught.value.field == "Amount"
    assert str(caught.value).startswith("Amount: ")


def test_a_record_that_does_not_validate_is_its_record_invalid_naming_the_field() -> None:
    raw = {"PRO Number": "7777777", "Pieces": "1000000000"}
    found = build_record(
        lambda: ShipmentRecord(
            carrier="haulstar", pro_number="7777777", pieces_shipped=1_000_000_000, raw=raw
        ),
        raw=raw,
        external_id="7777777",
        kind="shipment",
        portal="haulstar",
        step="lookup",
        what="the shipment summary cannot be read",
    )
    assert isinstance(found, RecordInvalid)
    assert (found.kind, found.external_id, found.field) == ("shipment", "7777777", "pieces_shipped")
    assert found.raw == raw
    assert "pieces_shipped" in str(found)


def test_a_record_page_about_another_record_or_none_is_that_records_record_invalid() -> None:
    shown = {"expected": "Claim A/1", "not_found": "Claim not found", "external_id": "A/1"}
    assert check_record_heading("Claim A/1", **shown, portal="megamart", step="s") is None
    for heading, field in (("Claim not found", None), ("Claim A/12", "heading")):
        with pytest.raises(RecordInvalid) as caught:
            check_record_heading(heading, **shown, portal="megamart", step="s")
        assert (caught.value.external_id, caught.value.field) == ("A/1", field)


# ---------------------------------------------------------------------- header values

NOW = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("Sun, 01 Nov 2026 09:01:30 GMT", 90.0),  # an HTTP date: until then
        ("Sun, 01 Nov 2026 08:00:00 GMT", 0.0),  # already past
        ("soon", 30.0),  # unreadable: the default
        ("", 30.0),
        (None, 30.0),
    ],
)
def test_retry_after_is_seconds_or_an_http_date(value: str | None, seconds: float) -> None:
    assert retry_after_seconds(value, now=NOW) == seconds


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ('attachment; filename="Claim 12.pdf"', "Claim 12.pdf"),
        ("attachment; filename*=UTF-8''%E2%82%AC%20rates.pdf", "€ rates.pdf"),
        # both given: the RFC 2231 form wins (RFC 6266 4.3)
        ("attachment; filename=\"plain.pdf\"; filename*=UTF-8''%E2%82%AC.pdf", "€.pdf"),
        ('attachment; filename="a \\"quoted\\" name.pdf"', 'a "quoted" name.pdf'),
        ("attachment; filename=../../etc/passwd", "../../etc/passwd"),  # metadata only
        ("attachment", "fallback.pdf"),
        (None, "fallback.pdf"),
    ],
)
def test_content_disposition_file_names(header: str | None, name: str) -> None:
    assert filename_from_disposition(header, "fallback.pdf") == name


def test_media_type_is_type_slash_subtype_or_the_default() -> None:
    assert media_type({"content-type": "Application/PDF; charset=binary"}) == "application/pdf"
    assert media_type({"content-type": "pdf please"}, "x/y") == "x/y"
    assert media_type({}) == "application/octet-stream"


# ---------------------------------------------------------------------- bytes and names


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"%PDF-1.7\n1 0 obj", "pdf"),
        (b"\xef\xbb\xbf\r\n%PDF-1.4\n", "pdf"),  # a BOM and a blank line first: readers open it
        (b" " * 1100 + b"%PDF-1.4\n", "text"),  # past the first 1024 bytes: not a PDF
        (b"<!doctype html><title>Sign in</title>", "html"),
        (b"PK\x03\x04rest", "zip"),
        (b"sku,qty\nA,1\nB,2\n", "text"),
        (b"\x00\x01\x02\x03" * 10, "binary"),
    ],
)
def test_what_bytes_are_comes_from_the_bytes(data: bytes, kind: str) -> None:
    assert sniff_kind(data) == kind


@pytest.mark.parametrize(
    ("name", "suffix", "safe"),
    [
        ("POD_1.pdf", "", "POD_1.pdf"),
        ("../../etc/passwd", ".pdf", "passwd.pdf"),
        ("C:\\proof\\scan.PDF", ".pdf", "scan.PDF"),
        ("re\u202efdp.exe", "", "refdp.exe"),  # the right-to-left override goes
        ("", ".pdf", "attachment-3.pdf"),
        ("report.docx", ".pdf", "report.docx.pdf"),
        ("CON.pdf", "", "_CON.pdf"),
    ],
)
def test_upload_names_are_safe_file_names(name: str, suffix: str, safe: str) -> None:
    assert upload_name(name, 3, suffix=suffix) == safe


# ---------------------------------------------------------------------- links


def session_on(base_url: str) -> AdapterSession:
    """An AdapterSession for the URL rules alone (no browser is touched)."""
    creds = Login(portal="megamart", username="u", password=Secret("p"))
    return AdapterSession(
        portal="freshco",
        account="u",
        base_url=base_url,
        context=None,  # type: ignore[arg-type]
        credentials=creds,
    )


def test_links_resolve_on_the_portals_origin_only() -> None:
    session = session_on("http://127.0.0.4:8000")
    page = "http://127.0.0.4:8000/claims/C%2F1"
    assert portal_url(session, "/claims/C%2F1", step="s") == page
    assert portal_url(session, "dispute", step="s", base=page) == (
        "http://127.0.0.4:8000/claims/dispute"
    )
    assert portal_url(session, page, step="s") == page
    for elsewhere in (
        "https://127.0.0.4:8000/claims",  # another scheme
        "http://evil.example/claims",
        "//evil.example/claims",
        "javascript:alert(1)",
        "",
    ):
        with pytest.raises(LayoutChanged):
            portal_url(session, elsewhere, step="s", base=page)


# ---------------------------------------------------------------------- signing in


class _CountingAdapter(PortalAdapter):
    """What ``ensure_logged_in`` asks of an adapter, and in which order."""

    portal = "megamart"
    kind = "retailer"

    def __init__(self, *, still_signed_in: bool) -> None:
        self.still_signed_in = still_signed_in
        self.calls: list[str] = []

    async def login(self, session: AdapterSession) -> None:
        self.calls.append("login")

    async def is_logged_in(self, session: AdapterSession) -> bool:
        self.calls.append("is_logged_in")
        return self.still_signed_in


@pytest.mark.parametrize(
    ("restored", "still_signed_in", "calls"),
    [
        (False, True, ["login"]),  # no cookies: asking would cost a page load for a no
        (True, True, ["is_logged_in"]),  # a saved session still good: no sign-in at all
        (True, False, ["is_logged_in", "login"]),  # a saved session the portal ended
    ],
)
async def test_only_a_restored_session_is_checked_before_signing_in(
    restored: bool, still_signed_in: bool, calls: list[str]
) -> None:
    adapter = _CountingAdapter(still_signed_in=still_signed_in)
    session = session_on("http://127.0.0.4:8000")
    session.restored = restored
    await adapter.ensure_logged_in(session)
    assert adapter.calls == calls
    assert session.logged_in
    await adapter.ensure_logged_in(session)  # known to be signed in: nothing more
    assert adapter.calls == calls
