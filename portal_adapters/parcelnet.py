"""ParcelNet Shipping (parcel/LTL carrier): shipment, Proof of Delivery and Bill
of Lading by PRO or BOL number, through "Document search".

The portal has a plain account login (no second factor). Some searches meet a
"Security check" interstitial (a CAPTCHA) instead of the result: the adapter
recognises it and raises CaptchaRequired with the searched number as ``ref``,
so that one lookup becomes a needs-human item; it never tries to solve it.
Document links behind an unsolved check answer 403, also CaptchaRequired.

The result is read from the "Shipment" table by header text (columns move
after a redesign) and the lines under it ("Signed for by", "Exceptions"); the
documents are fetched through the context's request API (cookies, no
rendering) and checked to be PDFs. A Proof of Delivery listed as "(scanned
image)" has no text layer; that is noted in the record's raw payload.

Requests per shipment: 1 search (+1 to open the form when the page is not on
it already) + 1 per document (POD and BOL: 3).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar
from urllib.parse import urljoin, urlsplit

from playwright.async_api import Locator, Page
from pydantic import ValidationError

from portal_adapters.base import (
    AdapterSession,
    CarrierAdapter,
    FetchedDocument,
    ShipmentDocuments,
)
from portal_adapters.errors import (
    BadCredentials,
    CaptchaRequired,
    LayoutChanged,
    RecordInvalid,
    SessionExpired,
)
from portal_adapters.web import (
    DEFAULT_MAX_BYTES,
    DOWNLOAD_TIMEOUT_MS,
    alert_text,
    check_response,
    expect_heading,
    filename_from_disposition,
    goto,
    link_href,
    playwright_errors,
    shows_page,
    sniff_kind,
    submit_form,
)
from records.normalize import NormalizationError, clean_text, portal_rules
from records.schemas import PodStatus, ShipmentRecord

PORTAL = "parcelnet"

LOGIN_HEADING = "Log in to My ParcelNet"
SEARCH_HEADING = "Document search"
CAPTCHA_HEADING = "Security check"
RESULTS_HEADING = "Search results"
NO_RESULTS_HEADING = "No results"
SEARCH_PATH = "/search"
NUMBER_LABEL = "Tracking or BOL number"
RESULT_TABLE = "Shipment"
POD_LINK = "Proof of Delivery"
BOL_LINK = "Bill of Lading"
SEARCH_OPTIONS = {"pro": "PRO number", "bol": "BOL number"}
RESULT_HEADERS = ("PRO Number", "BOL Number", "Ship Date", "Delivered", "Consignee")

_QUERY = re.compile(r"[A-Za-z0-9][A-Za-z0-9./_-]{0,34}")
_SIGNER_LINE = re.compile(r"^Signed for by:\s*(?P<v>.+)$")
_EXCEPTIONS_LINE = re.compile(r"^Exceptions:\s*(?P<v>.+)$")
_SCANNED = re.compile(r"Proof of Delivery\s*\(scanned image\)", re.I)
_LOGIN_PAGE = re.compile(rb"Log in to My ParcelNet", re.I)
_ROWS_JS = """t => Array.from(t.querySelectorAll('tr')).map(
    r => Array.from(r.querySelectorAll('th,td')).map(c => (c.innerText || '').trim()))"""


def normalize_number(by: str, raw: str) -> str | None:
    """What the search box takes: spaces dropped (and dashes, for a PRO, which is
    digits only); None when it cannot be a ParcelNet number."""
    q = "".join((raw or "").split())
    if by == "pro":
        q = q.replace("-", "")
        return q if q.isdigit() and 7 <= len(q) <= 20 else None
    return q if _QUERY.fullmatch(q) else None


class ParcelnetAdapter(CarrierAdapter):
    """Stateless; everything lives in the session's browser context."""

    portal: ClassVar[str] = PORTAL

    # ------------------------------------------------------------------ login

    async def login(self, session: AdapterSession) -> None:
        """One password attempt (ParcelNet has no second factor).

        Raises BadCredentials (never retried here), LayoutChanged,
        PortalUnavailable.
        """
        step = "login"
        page = await goto(session, "/login", step=step)
        session.requests += 1
        heading = await expect_heading(
            page, [SEARCH_HEADING, LOGIN_HEADING], portal=PORTAL, step=step
        )
        if _is(heading, SEARCH_HEADING):
            session.logged_in = True
            return  # the context's cookies are still good
        creds = session.credentials
        async with playwright_errors(PORTAL, step):
            await page.get_by_label("User ID", exact=True).fill(creds.username)
            await page.get_by_label("Password", exact=True).fill(creds.password.reveal())
        await submit_form(session, page, "Log in", step)
        heading = await expect_heading(
            page, [SEARCH_HEADING, LOGIN_HEADING], portal=PORTAL, step=step
        )
        if _is(heading, LOGIN_HEADING):
            message = await alert_text(page)
            raise BadCredentials(
                f"the portal refused the login: {message or 'no reason shown'}",
                portal=PORTAL,
                step=step,
            )
        session.logged_in = True

    async def is_logged_in(self, session: AdapterSession) -> bool:
        return await shows_page(session, SEARCH_PATH, SEARCH_HEADING, login_heading=LOGIN_HEADING)

    # ------------------------------------------------------------------ lookup

    async def fetch_shipment_documents(
        self,
        session: AdapterSession,
        *,
        pro_number: str | None = None,
        bol_number: str | None = None,
    ) -> ShipmentDocuments | None:
        """The shipment with its Bill of Lading and (once imaged) Proof of Delivery.

        None when ParcelNet has no results for the number. Raises
        CaptchaRequired(ref=<the number>) when a security check stands in the
        way; SessionExpired when the portal shows its login page. Safe to call
        again after any failure (nothing on the portal changes).
        """
        if pro_number:
            by, number = "pro", normalize_number("pro", pro_number)
        elif bol_number:
            by, number = "bol", normalize_number("bol", bol_number)
        else:
            raise ValueError("give a PRO or a BOL number")
        if number is None:
            return None
        step = "search"
        page = await self._search_form(session, step)
        async with playwright_errors(PORTAL, step):
            await page.get_by_label("Search by", exact=True).select_option(label=SEARCH_OPTIONS[by])
            await page.get_by_label(NUMBER_LABEL, exact=True).fill(number)
        await submit_form(session, page, "Search", step)
        heading = await expect_heading(
            page,
            [CAPTCHA_HEADING, SEARCH_HEADING],
            portal=PORTAL,
            step=step,
            login_heading=LOGIN_HEADING,
        )
        if _is(heading, CAPTCHA_HEADING):
            raise CaptchaRequired(
                f"a security check stands before the {SEARCH_OPTIONS[by]} search {number}",
                portal=PORTAL,
                step=step,
                ref=number,
            )
        async with playwright_errors(PORTAL, step):
            if await _heading_count(page, NO_RESULTS_HEADING):
                return None
            if not await _heading_count(page, RESULTS_HEADING):
                message = await alert_text(page)
                if re.search(r"Enter a valid", message, re.I):
                    return None
                raise LayoutChanged(
                    f"neither results nor 'No results' after a search ({message[:80]!r})",
                    portal=PORTAL,
                    step=step,
                )
            region = page.get_by_role("region", name=RESULTS_HEADING, exact=True)
            if await region.count() != 1:
                raise LayoutChanged("the results section is missing", portal=PORTAL, step=step)
            table = region.get_by_role("table", name=RESULT_TABLE, exact=True)
            if await table.count() != 1:
                raise LayoutChanged("the Shipment table is missing", portal=PORTAL, step=step)
            row = await _read_single_row(table, step)
            text = await region.inner_text()
            pod_href = await link_href(region, POD_LINK)
            bol_href = await link_href(region, BOL_LINK)
            pod_note = ""
            status = region.get_by_role("status")
            if await status.count():
                pod_note = clean_text(await status.first.inner_text())
        key = "PRO Number" if by == "pro" else "BOL Number"
        if row[key].upper() != number.upper():
            raise LayoutChanged(f"the result is for another {key}", portal=PORTAL, step=step)
        pro = row["PRO Number"]
        documents: list[FetchedDocument] = []
        for role, href in (("pod", pod_href), ("bol", bol_href)):
            if href is None:
                continue
            doc = await _download(session, urljoin(page.url, href), role=role, pro=pro, ref=number)
            if doc is not None:
                documents.append(doc)
        pod_available = any(d.role == "pod" for d in documents)
        record = _record(row, text, pod_note, pod_available)
        return ShipmentDocuments(shipment=record, documents=documents, pod_available=pod_available)

    async def _search_form(self, session: AdapterSession, step: str) -> Page:
        """The "Document search" page with its form: the open page when it already
        is that page (a previous search's result), else a fresh load."""
        page = await session.main_page()
        if urlsplit(page.url).path == SEARCH_PATH and _same_origin(session, page.url):
            async with playwright_errors(PORTAL, step):
                here = await _heading_count(page, SEARCH_HEADING, level=1)
                form = await page.get_by_label(NUMBER_LABEL, exact=True).count()
            if here and form:
                return page
        page = await goto(session, SEARCH_PATH, step=step)
        session.requests += 1
        await expect_heading(
            page, [SEARCH_HEADING], portal=PORTAL, step=step, login_heading=LOGIN_HEADING
        )
        return page


# ---------------------------------------------------------------------- record


def _record(row: dict[str, str], text: str, pod_note: str, pod_available: bool) -> ShipmentRecord:
    rules = portal_rules(PORTAL)
    raw: dict[str, Any] = dict(row)
    signer, exceptions = "", []
    for line in (clean_text(x) for x in text.splitlines()):
        if m := _SIGNER_LINE.match(line):
            raw["Signed for by"] = m["v"]
            signer = m["v"]
        elif m := _EXCEPTIONS_LINE.match(line):
            raw["Exceptions"] = m["v"]
            exceptions = [e.strip() for e in m["v"].split(";") if e.strip()]
    if _SCANNED.search(clean_text(text, max_length=100_000)):
        raw["Proof of Delivery"] = "scanned image"
    if pod_note:
        raw["POD message"] = pod_note
    try:
        delivered = row.get("Delivered", "")
        pieces = row.get("Pieces", "").replace(",", "")
        return ShipmentRecord(
            carrier=PORTAL,
            pro_number=row["PRO Number"],
            bol_number=row["BOL Number"],
            tracking_number=row.get("Tracking Number", ""),
            consignee=row["Consignee"],
            ship_date=rules.date(row["Ship Date"]) if row["Ship Date"] else None,
            delivery_date=rules.date(delivered) if delivered else None,
            pieces_shipped=int(pieces) if pieces else None,
            exceptions=exceptions,
            signer=signer,
            pod_status=PodStatus.fetched if pod_available else PodStatus.not_available,
            raw=raw,
        )
    except (NormalizationError, ValidationError, ValueError) as exc:
        raise RecordInvalid(
            f"the shipment result cannot be read: {_first(exc)}",
            raw=raw,
            external_id=row.get("PRO Number"),
            kind="shipment",
            portal=PORTAL,
            step="search",
        ) from None


# ---------------------------------------------------------------------- plumbing


def _is(heading: str, name: str) -> bool:
    return name.lower() in heading.lower()


def _first(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


async def _heading_count(page: Page, name: str, level: int | None = None) -> int:
    if level is None:
        return await page.get_by_role("heading", name=name, exact=True).count()
    return await page.get_by_role("heading", name=name, exact=True, level=level).count()


async def _read_single_row(table: Locator, step: str) -> dict[str, str]:
    """The table's one data row keyed by header text (columns may move)."""
    rows: list[list[str]] = await table.evaluate(_ROWS_JS)
    if len(rows) < 2:
        raise LayoutChanged("the Shipment table has no data row", portal=PORTAL, step=step)
    headers = [clean_text(h) for h in rows[0]]
    missing = [h for h in RESULT_HEADERS if h not in headers]
    if missing or len(rows[1]) != len(headers):
        raise LayoutChanged(
            f"the Shipment table lacks columns {missing} (has {headers})",
            portal=PORTAL,
            step=step,
        )
    return {h: clean_text(v) for h, v in zip(headers, rows[1], strict=True)}


def _same_origin(session: AdapterSession, url: str) -> bool:
    a, b = urlsplit(url), urlsplit(session.base_url)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)


async def _download(
    session: AdapterSession, url: str, *, role: str, pro: str, ref: str
) -> FetchedDocument | None:
    """A document link's bytes through the context's request API.

    403 is the unsolved security check (CaptchaRequired); 404 on the POD means
    it is not imaged (None); a login page is SessionExpired; anything but a PDF
    is LayoutChanged.
    """
    step = f"download_{role}"
    if not _same_origin(session, url):
        raise LayoutChanged("a document link points off the portal", portal=PORTAL, step=step)
    if session.throttle is not None:
        await session.throttle()
    async with playwright_errors(PORTAL, step):
        resp = await session.context.request.get(url, timeout=DOWNLOAD_TIMEOUT_MS, max_redirects=5)
        try:
            check_response(resp, portal=PORTAL, step=step)
            length = int(resp.headers.get("content-length") or 0)
            if length > DEFAULT_MAX_BYTES:
                raise LayoutChanged(
                    f"a document of {length} bytes is over the cap", portal=PORTAL, step=step
                )
            data = await resp.body()
            status, headers = resp.status, dict(resp.headers)
        finally:
            await resp.dispose()
    session.requests += 1
    if status == 403:
        raise CaptchaRequired(
            "the document is behind an unsolved security check",
            portal=PORTAL,
            step=step,
            ref=ref,
        )
    if status == 404 and role == "pod":
        return None  # not imaged after all: look again later
    kind = sniff_kind(data)
    if kind == "html" and _LOGIN_PAGE.search(data[:20_000]):
        raise SessionExpired(
            "the login page came back instead of a document", portal=PORTAL, step=step
        )
    if status != 200 or kind != "pdf" or len(data) > DEFAULT_MAX_BYTES:
        raise LayoutChanged(
            f"expected a PDF for the {role}, got HTTP {status} with {kind}",
            portal=PORTAL,
            step=step,
        )
    return FetchedDocument(
        role=role,
        filename=filename_from_disposition(
            headers.get("content-disposition"), f"{role.upper()}_{pro}.pdf"
        ),
        data=data,
        media_type=headers.get("content-type", "").split(";", 1)[0].strip().lower()
        or "application/octet-stream",
        ref=f"{role}:{pro}",
    )
