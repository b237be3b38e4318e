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

One shipment that cannot be read (a value that does not validate, such as an
absurd piece count; a result for another number; a document that is missing or
not a PDF) comes back as that shipment's RecordInvalid, never as an exception:
the caller quarantines it and looks up the next number.

Requests per shipment: 1 search (+1 to open the form when the page is not on
it already) + 1 per document (POD and BOL: 3).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, ClassVar

from playwright.async_api import Page

from credentials.secret import Secret
from portal_adapters.base import (
    AdapterSession,
    CarrierAdapter,
    Challenge,
    ShipmentDocuments,
)
from portal_adapters.errors import BadCredentials, CaptchaRequired, LayoutChanged, RecordInvalid
from portal_adapters.web import (
    ShipmentResult,
    alert_text,
    expect_heading,
    fill_secret,
    form_page,
    goto,
    heading_text,
    playwright_errors,
    read_lines,
    shipment_from_result,
    shipment_record,
    shows_page,
    split_list,
    submit_form,
)
from records.normalize import clean_text
from records.schemas import ShipmentRecord

PORTAL = "parcelnet"

LOGIN_HEADING = "Log in to My ParcelNet"
SEARCH_HEADING = "Document search"
CAPTCHA_HEADING = "Security check"
CAPTCHA_IMAGE = "Security code image"
NOT_A_ROBOT = "I'm not a robot"
CODE_LABEL = "Enter the characters shown"
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
_SCANNED = re.compile(r"Proof of Delivery\s*\(scanned image\)", re.I)


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
        heading = await expect_heading(
            page, [SEARCH_HEADING, LOGIN_HEADING], portal=PORTAL, step=step
        )
        if _is(heading, SEARCH_HEADING):
            session.logged_in = True
            return  # the context's cookies are still good
        creds = session.credentials
        async with playwright_errors(PORTAL, step):
            await page.get_by_label("User ID", exact=True).fill(creds.username)
            await fill_secret(page.get_by_label("Password", exact=True), creds.password)
        await submit_form(session, page, "Log in", step)
        heading = await expect_heading(
            page, [SEARCH_HEADING, LOGIN_HEADING], portal=PORTAL, step=step
        )
        if _is(heading, LOGIN_HEADING):
            message = await alert_text(page, portal=PORTAL, step=step)
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
    ) -> ShipmentDocuments | RecordInvalid | None:
        """The shipment with its Bill of Lading and (once imaged) Proof of Delivery.

        None when ParcelNet has no results for the number; the shipment's
        RecordInvalid when what it shows cannot be read. Raises
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
        page = await form_page(
            session,
            SEARCH_PATH,
            heading=SEARCH_HEADING,
            field_label=NUMBER_LABEL,
            login_heading=LOGIN_HEADING,
            step=step,
        )
        async with playwright_errors(PORTAL, step):
            await page.get_by_label("Search by", exact=True).select_option(label=SEARCH_OPTIONS[by])
            await page.get_by_label(NUMBER_LABEL, exact=True).fill(number)
        await submit_form(session, page, "Search", step)
        heading = await _search_or_check(page, step)
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
                message = await alert_text(page, portal=PORTAL, step=step)
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
        return await shipment_from_result(
            session,
            page,
            region,
            table=RESULT_TABLE,
            headers=RESULT_HEADERS,
            links={"pod": POD_LINK, "bol": BOL_LINK},
            parse=lambda result: _record(result, asked=(by, number)),
            step=step,
            forbidden=security_check(number),
        )

    # ------------------------------------------------------------- hand-off

    async def challenge(self, session: AdapterSession) -> Challenge | None:
        """The security check's code image, when the page is the security check."""
        page = await session.main_page()
        step = "challenge"
        heading = await heading_text(page, portal=PORTAL, step=step)
        if not _is(heading, CAPTCHA_HEADING):
            return None
        async with playwright_errors(PORTAL, step):
            image = page.get_by_role("img", name=CAPTCHA_IMAGE, exact=True)
            if await image.count() != 1:
                return None
            png = await image.screenshot(type="png", timeout=10_000)
        return Challenge("captcha", CODE_LABEL, png)

    async def answer_challenge(self, session: AdapterSession, answer: Secret) -> bool:
        """Tick "I'm not a robot", type the code, Verify: True when the search
        result (not the check again) follows."""
        step = "challenge"
        page = await session.main_page()
        async with playwright_errors(PORTAL, step):
            await page.get_by_label(NOT_A_ROBOT, exact=True).check()
            await fill_secret(page.get_by_label(CODE_LABEL, exact=True), answer)
        await submit_form(session, page, "Verify", step)
        heading = await _search_or_check(page, step)
        return not _is(heading, CAPTCHA_HEADING)


# ---------------------------------------------------------------------- record


async def _search_or_check(page: Page, step: str) -> str:
    """The heading after a search or an answer: the result page or the check."""
    return await expect_heading(
        page,
        [CAPTCHA_HEADING, SEARCH_HEADING],
        portal=PORTAL,
        step=step,
        login_heading=LOGIN_HEADING,
    )


def security_check(number: str) -> Callable[[str], CaptchaRequired]:
    """What a document link answering 403 means here: the search's unsolved
    security check, a needs-human item for ``number``."""

    def forbidden(role: str) -> CaptchaRequired:
        return CaptchaRequired(
            f"the {role} document is behind an unsolved security check",
            portal=PORTAL,
            step=f"download_{role}",
            ref=number,
        )

    return forbidden


def _record(result: ShipmentResult, *, asked: tuple[str, str]) -> ShipmentRecord | RecordInvalid:
    """The shipment the result shows, or its RecordInvalid (a value that does not
    validate, or a result for another number than the one searched)."""
    raw: dict[str, Any] = dict(result.row)
    lines = read_lines(result, ("Signed for by", "Exceptions"), raw)
    if _SCANNED.search(clean_text(result.text, max_length=100_000)):
        raw["Proof of Delivery"] = "scanned image"
    return shipment_record(
        result,
        carrier=PORTAL,
        asked=asked,
        raw=raw,
        delivered="Delivered",
        step="search",
        extra=lambda: {
            "tracking_number": result.row.get("Tracking Number", ""),
            "exceptions": split_list(lines.get("Exceptions", "")),
            "signer": lines.get("Signed for by", ""),
        },
    )


# ---------------------------------------------------------------------- plumbing


def _is(heading: str, name: str) -> bool:
    return name.lower() in heading.lower()


async def _heading_count(page: Page, name: str) -> int:
    return await page.get_by_role("heading", name=name, exact=True).count()
