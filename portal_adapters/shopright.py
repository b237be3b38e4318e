"""ShopRight Partners Online (retailer): a single-page app over its own JSON API.

How the adapter drives it:

* **Sign-in through the real UI**, as a person would: "E-mail address" and
  "Password", then "Two-step verification" ("Authenticator code"). The SPA's
  own sign-in calls (``POST /api/session`` and ``/api/session/mfa``) are
  watched while the buttons are clicked, so the answer is read from its status
  and JSON error key rather than from the wording of an alert. One password
  attempt per call, never repeated here. The session cookie the SPA ends up
  with lives in the browser context.
* **Listing and documents through the SPA's JSON API** with that cookie
  (``context.request``; no page render), the client in
  ``portal_adapters.shopright_api``: ``GET /api/deductions`` in cursor
  pages (newest posted first; paging stops at the first deduction posted
  before ``since``), one ``GET /api/deductions/{id}`` per deduction for what
  the list lacks (posted and invoice dates, lines, memo, carrier/PRO/BOL,
  promotion), ``GET .../documents`` to list and one GET per document. Every
  answer's JSON shape is checked: a missing key is LayoutChanged, a 401 is
  SessionExpired, a 403 (the SPA's CSRF defence) is LayoutChanged. One
  deduction whose detail is missing or about another deduction, or holds a
  value that does not parse, is that deduction's RecordInvalid.
* **Disputes ("cases") through the four-step wizard** in the deduction's side
  panel, after looking at the deduction's ``case`` first (so a retry after a
  lost answer never files twice). ShopRight takes one PDF per case: several
  PDF attachments are combined into one file, in packet order.

Requests measured on generate(7, "small") (see the adapter tests): listing is
one detail GET per deduction plus one list GET per 25 deductions (46 for 44
deductions); the detail answer already names the deduction's documents, so
right after a listing list_documents costs nothing and a document is one GET
(otherwise one more GET per deduction to list them); login through the UI is
seven (shell, script, stylesheet, two sign-in calls, the SPA's /api/me and
first list page); a case is nine (look first, the page with its script,
stylesheet, /api/me, list and detail, the wizard's document check, the
submit).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import date
from decimal import Decimal
from functools import partial
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import FilePayload, Locator, Page, Response

from portal_adapters.base import (
    AdapterSession,
    DisputePacket,
    DisputeReceipt,
    DisputeStatusReport,
    DocumentRef,
    FetchedDocument,
    RetailerAdapter,
)
from portal_adapters.errors import (
    BadCredentials,
    DisputeRejected,
    LayoutChanged,
    MfaFailed,
    RecordInvalid,
    SessionExpired,
)
from portal_adapters.shopright_api import (
    CASE_KEYS,
    MAX_JSON_BYTES,
    PORTAL,
    ShoprightApi,
    docs_cache,
    json_object,
    message,
    normalize_status,
    require,
    scalar_text,
)
from portal_adapters.web import (
    expect_heading,
    fill_secret,
    first_line,
    goto,
    is_pdf,
    one_time_code,
    optional_amount,
    playwright_errors,
    raise_for_status,
    upload_name,
    url_path,
)
from records.normalize import clean_text, portal_rules
from records.pdfs import merge_pdfs
from records.schemas import DeductionRecord, LinkRole

LOGIN_PATH = "/login"
LOGIN_HEADING = "Sign in to"  # "Sign in to ShopRight Partners Online"
MFA_HEADING = "Two-step verification"
LIST_HEADING = "Deductions"
WIZARD_NAME = "Create case"
WIZARD_STEPS = 4

UI_TIMEOUT_MS = 15_000
MAX_PAGES = 10_000

# Our reasons -> the wizard's option text (its option values are API keys).
REASON_LABELS: dict[str, str] = {
    "proof_of_delivery": "Merchandise delivered in full (proof of delivery)",
    "allowance_not_owed": "Allowance not agreed or already paid",
    "pricing_per_agreement": "Invoiced cost matches the purchase order",
    "duplicate_deduction": "Duplicate deduction",
    "compliance_met": "Compliance requirement was met",
    "other": "Other",
}

_LOGIN_HEADING_RE = re.compile(r"^\s*sign in to\b", re.I)


class ShoprightAdapter(RetailerAdapter):
    """Stateless; nothing is kept between calls but the context's cookie.

    ``use_backup_zip`` switches the documents path from one ref per document
    (the default: the runtime skips what it already has) to one ref for the
    deduction's backup ZIP (one request for all documents; the runtime
    unpacks it with the vault's guards).
    """

    portal: ClassVar[str] = PORTAL
    use_backup_zip: ClassVar[bool] = False

    # ================================================================== login

    async def login(self, session: AdapterSession) -> None:
        """Sign in through the SPA: password, then the authenticator code.

        One password attempt only (a retry storm locks the account). Raises
        BadCredentials (wrong password or locked), MfaFailed (code refused, or
        the portal asks for one and no TOTP secret is configured),
        SessionExpired (the code step timed out: sign in again), RateLimited,
        PortalUnavailable, LayoutChanged.
        """
        page = await session.main_page()
        with _watching(page) as seen:
            await self._login(session, page, seen)
        session.logged_in = True

    async def _login(self, session: AdapterSession, page: Page, seen: list[Response]) -> None:
        step = "login"
        await goto(session, LOGIN_PATH, step=step)
        heading = await _expect(page, [LOGIN_HEADING, LIST_HEADING], seen, step=step)
        if not _LOGIN_HEADING_RE.search(heading):
            return  # the cookie was still good: /login sent us on to the deductions
        async with playwright_errors(PORTAL, step):
            await page.get_by_label("E-mail address", exact=True).fill(session.credentials.username)
            await fill_secret(
                page.get_by_label("Password", exact=True), session.credentials.password
            )
            answer = await _click_for_response(
                page,
                page.get_by_role("button", name="Sign in", exact=True),
                "/api/session",
            )
        session.requests += 1
        data = await _answer_json(answer, step=step)
        if answer.status in (401, 422, 423):
            found = message(data, "the e-mail address or password was refused")
            raise BadCredentials(found, portal=PORTAL, step=step)
        _check_answer(answer, data, step=step)
        if data.get("status") == "mfa_required":
            await self._answer_mfa(session, page, seen)
        elif data.get("status") != "ok":
            raise LayoutChanged(
                f"sign-in answered {str(data.get('status'))[:40]!r}", portal=PORTAL, step=step
            )
        await _expect(page, [LIST_HEADING], seen, step=step, login_heading=LOGIN_HEADING)

    async def _answer_mfa(self, session: AdapterSession, page: Page, seen: list[Response]) -> None:
        step = "mfa"
        await _expect(page, [MFA_HEADING], seen, step=step)
        code = one_time_code(session, step=step)
        async with playwright_errors(PORTAL, step):
            await fill_secret(page.get_by_label("Authenticator code", exact=True), code)
            answer = await _click_for_response(
                page, page.get_by_role("button", name="Verify", exact=True), "/api/session/mfa"
            )
        session.requests += 1
        data = await _answer_json(answer, step=step)
        if answer.status == 401:
            if data.get("error") == "challenge_expired":
                raise SessionExpired(
                    message(data, "the verification step timed out"), portal=PORTAL, step=step
                )
            raise MfaFailed(
                message(data, "the authenticator code was refused"), portal=PORTAL, step=step
            )
        _check_answer(answer, data, step=step)
        if data.get("status") != "ok":
            raise LayoutChanged(
                f"verification answered {str(data.get('status'))[:40]!r}",
                portal=PORTAL,
                step=step,
            )

    async def is_logged_in(self, session: AdapterSession) -> bool:
        try:
            data = await ShoprightApi(session).me()
        except SessionExpired:
            return False
        return isinstance(data, dict) and isinstance(data.get("email"), str)

    # ================================================================== listing

    async def list_deductions(
        self, session: AdapterSession, since: date | None = None
    ) -> AsyncIterator[DeductionRecord | RecordInvalid]:
        """Every deduction posted on or after ``since`` (all when None), newest first.

        The portal lists newest posted first; paging stops at the first
        deduction posted before ``since`` (as long as that order holds).
        Yields RecordInvalid for a deduction that cannot be read and keeps
        going. Safe to call again: nothing is remembered between calls.
        """
        step = "list_deductions"
        api = ShoprightApi(session)
        rules = portal_rules(PORTAL)
        cursor: str | None = None
        seen_cursors: set[str] = set()
        last_posted: date | None = None
        in_order = True
        for _ in range(MAX_PAGES):
            items, cursor = await api.deductions_page(cursor, step=step)
            for item in items:
                if str(item.get("document_number", "")) in session.listed:
                    continue  # stored before a retry: do not read its detail again
                found = await api.deduction(item, rules)
                if isinstance(found, RecordInvalid):
                    yield found
                    continue
                posted = found.posted_date
                if posted is not None and last_posted is not None and posted > last_posted:
                    in_order = False  # not newest first any more: read to the end
                last_posted = posted or last_posted
                if since is not None and posted is not None and posted < since:
                    if in_order:
                        return
                    continue
                yield found
            if cursor is None:
                return
            if cursor in seen_cursors:
                raise LayoutChanged("the list repeats a page position", portal=PORTAL, step=step)
            seen_cursors.add(cursor)
        raise LayoutChanged(f"the list did not end after {MAX_PAGES} pages", portal=PORTAL)

    # ================================================================== documents

    async def list_documents(self, session: AdapterSession, external_id: str) -> list[DocumentRef]:
        """The documents ShopRight shows for the deduction now.

        Right after list_deductions in the same job, the list its detail
        answer carried is used once (no request); otherwise one request.
        Empty when none is available yet, and when the portal does not show
        the deduction to this account (any more)."""
        step = "list_documents"
        refs = docs_cache(session).pop(external_id, None)
        if refs is None:
            refs = await ShoprightApi(session).documents(external_id, step=step) or []
        if self.use_backup_zip and refs:
            return [
                DocumentRef(
                    ref=f"zip:{external_id}",
                    role=LinkRole.backup.value,
                    filename=f"{external_id}_backup.zip",
                )
            ]
        return refs

    async def download_document(
        self, session: AdapterSession, external_id: str, doc: DocumentRef
    ) -> list[FetchedDocument]:
        """One document's bytes (a ``zip:`` ref: the backup ZIP itself). A document
        that is missing or not what it claims is its RecordInvalid."""
        api = ShoprightApi(session)
        if doc.ref.startswith("zip:"):
            return [await api.backup_zip(external_id, doc, step="backup_zip")]
        return [await api.document(external_id, doc, step="download_document")]

    # ================================================================== disputes

    async def file_dispute(self, session: AdapterSession, packet: DisputePacket) -> DisputeReceipt:
        """File a case through the wizard, or return the case already there.

        Looks at the deduction first (one API request): a case on it means a
        earlier attempt (or a person) filed already, and nothing is filed
        again. Client-side and server-side refusals are DisputeRejected with
        the portal's words; a lost session, 429 or 5xx during the wizard are
        SessionExpired, RateLimited and PortalUnavailable (faults strike before
        the portal acts, and the next attempt looks first).
        """
        step = "file_dispute"
        label = packet.portal_reason or REASON_LABELS.get(packet.reason)
        if label is None:
            raise ValueError(f"unknown dispute reason {packet.reason!r}")
        eid = packet.deduction_external_id
        existing = await self._case(session, eid, step=step, missing_is_rejection=True)
        if existing is not None:
            return DisputeReceipt(existing.dispute_number, existing.status, already_filed=True)
        upload = await _one_pdf(packet)

        page = await session.main_page()
        with _watching(page) as seen:
            await goto(session, "/deductions/" + quote(eid, safe=""), step=step)
            await _expect(page, [f"Deduction {eid}"], seen, step=step, login_heading=LOGIN_HEADING)
            async with playwright_errors(PORTAL, step):
                return await self._wizard(session, page, packet, label, upload, seen)

    async def _wizard(
        self,
        session: AdapterSession,
        page: Page,
        packet: DisputePacket,
        label: str,
        upload: tuple[str, bytes] | None,
        seen: list[Response],
    ) -> DisputeReceipt:
        step = "file_dispute"
        eid = packet.deduction_external_id
        drawer = page.get_by_role("dialog", name=f"Deduction {eid}", exact=True)
        create = drawer.get_by_role("button", name=WIZARD_NAME, exact=True)
        await _settle(page, create, drawer.get_by_role("alert"), seen, step=step)
        await create.click()
        wizard = page.get_by_role("dialog", name=WIZARD_NAME, exact=True)
        await _wizard_step(page, wizard, 1, seen)

        await wizard.get_by_label("Dispute reason", exact=True).select_option(label=label)
        await wizard.get_by_label("Document number", exact=True).fill(eid)
        await _next(page, wizard, 2, seen)

        await wizard.get_by_label("Disputed amount", exact=True).fill(f"{packet.amount:.2f}")
        await wizard.get_by_label("Explanation", exact=True).fill(packet.explanation)
        await _next(page, wizard, 3, seen)

        if upload is not None:
            name, content = upload
            await wizard.get_by_label("Supporting document (PDF)", exact=True).set_input_files(
                files=[FilePayload(name=name, mimeType="application/pdf", buffer=content)]
            )
        await _next(page, wizard, 4, seen)
        # the document number is portal text: a plain has_text string, which
        # Playwright escapes (never a pattern built from it)
        review = wizard.get_by_role("definition").filter(has_text=eid)
        if not await review.count():
            raise LayoutChanged(
                "the review step does not show the document number", portal=PORTAL, step=step
            )

        answer = await _click_for_response(
            page,
            wizard.get_by_role("button", name="Submit case", exact=True),
            "/api/cases",
            method="POST",
        )
        session.requests += 1
        data = await _answer_json(answer, step=step)
        if answer.status in (409, 422, 404, 413, 415):
            refusal = message(data, f"the portal refused the case (HTTP {answer.status})")
            if answer.status == 409:
                again = await self._case(session, eid, step=step)
                if again is not None:  # filed meanwhile (another attempt, a person)
                    return DisputeReceipt(again.dispute_number, again.status, already_filed=True)
            raise DisputeRejected(refusal, portal=PORTAL, step=step)
        _check_answer(answer, data, step=step)
        if answer.status != 201:
            raise LayoutChanged(
                f"creating a case answered HTTP {answer.status}", portal=PORTAL, step=step
            )
        require(data, CASE_KEYS, what="new case", step=step)
        number = scalar_text(data["case_number"])
        if not number or scalar_text(data["document_number"]) != eid:
            raise LayoutChanged("the new case does not match the claim", portal=PORTAL, step=step)
        receipt = DisputeReceipt(number, normalize_status(data, step=step))
        # The case exists now, whatever the page does next: the answer is the receipt.
        with contextlib.suppress(PlaywrightError):
            confirmation = wizard.get_by_role("status").filter(has_text=number)
            await confirmation.first.wait_for(state="visible", timeout=UI_TIMEOUT_MS)
        return receipt

    async def dispute_status(
        self, session: AdapterSession, external_id: str
    ) -> DisputeStatusReport | None:
        """The case on this deduction (one API request), or None."""
        return await self._case(session, external_id, step="dispute_status")

    async def _case(
        self,
        session: AdapterSession,
        external_id: str,
        *,
        step: str,
        missing_is_rejection: bool = False,
    ) -> DisputeStatusReport | None:
        detail = await ShoprightApi(session).case(external_id, step=step)
        if detail is None:
            if missing_is_rejection:
                raise DisputeRejected(
                    f"Document {external_id[:40]} was not found for your account.",
                    portal=PORTAL,
                    step=step,
                )
            return None
        case = detail["case"]
        if case is None:
            return None
        require(case, CASE_KEYS, what="case", step=step)
        if scalar_text(case["document_number"]) != scalar_text(detail["document_number"]):
            raise LayoutChanged("the case belongs to another claim", portal=PORTAL, step=step)
        status = normalize_status(case, step=step)
        return DisputeStatusReport(
            dispute_number=scalar_text(case["case_number"]),
            status=status,
            portal_label=clean_text(scalar_text(case["status_label"])),
            approved_amount=_paid_back(case, status),
        )


def _paid_back(case: dict[str, Any], status: str) -> Decimal | None:
    """The case's "Approved amount", once ShopRight approved it (in full or in part)."""
    if status not in ("approved", "partially_approved"):
        return None
    return optional_amount(PORTAL, scalar_text(case.get("approved_amount", "")))


# ====================================================================== UI plumbing


async def _click_for_response(
    page: Page, button: Locator, path: str, *, method: str = "POST"
) -> Response:
    """Click and return the SPA's answer from ``path`` (the UI's own call)."""

    def wanted(r: Response) -> bool:
        return r.request.method == method and urlsplit(r.url).path == path

    async with page.expect_response(wanted, timeout=UI_TIMEOUT_MS) as info:
        await button.click()
    return await info.value


async def _answer_json(answer: Response, *, step: str) -> dict[str, Any]:
    """The JSON body of an answer the SPA got ({} when it is not JSON)."""
    if not answer.headers.get("content-type", "").startswith("application/json"):
        return {}
    async with playwright_errors(PORTAL, step):
        body = await answer.body()
    return json_object(body[:MAX_JSON_BYTES]) or {}


def _check_answer(answer: Response, data: dict[str, Any], *, step: str) -> None:
    raise_for_status(answer.status, answer.headers, portal=PORTAL, step=step, url=answer.url)
    if answer.status >= 300:
        raise LayoutChanged(
            f"HTTP {answer.status} at {url_path(answer.url)}: "
            f"{message(data, str(data.get('error', ''))[:60] or 'no explanation')}",
            portal=PORTAL,
            step=step,
        )


@contextlib.contextmanager
def _watching(page: Page) -> Iterator[list[Response]]:
    """Every answer the page receives meanwhile (the SPA's API calls, its
    script and stylesheet): what went wrong is read from them, not from the
    words the SPA shows about it."""
    seen: list[Response] = []
    listener: Callable[[Response], None] = partial(_note_response, seen)
    page.on("response", listener)
    try:
        yield seen
    finally:
        page.remove_listener("response", listener)


def _note_response(seen: list[Response], response: Response) -> None:
    if response.status >= 400 and len(seen) < 1000:
        seen.append(response)


async def _expect(
    page: Page,
    names: list[str],
    seen: list[Response],
    *,
    step: str,
    login_heading: str | None = None,
) -> str:
    """expect_heading, except that a page which never rendered because the
    SPA met a 401, 429 or 5xx is that failure, not a changed layout."""
    try:
        return await expect_heading(
            page, names, portal=PORTAL, step=step, login_heading=login_heading
        )
    except LayoutChanged:
        _raise_for_api_failures(seen, 0, step=step)
        raise


def _raise_for_api_failures(seen: list[Response], start: int, *, step: str) -> None:
    """A 401, 429 or 5xx the page met since ``start`` is what went wrong, not
    whatever message the SPA shows about it."""
    for r in seen[start:]:
        raise_for_status(r.status, r.headers, portal=PORTAL, step=step, url=r.url)
        if r.status == 403:
            raise LayoutChanged(
                f"HTTP 403 at {url_path(r.url)} (request refused)", portal=PORTAL, step=step
            )


async def _settle(
    page: Page, wanted: Locator, alert: Locator, seen: list[Response], *, step: str
) -> bool:
    """Wait for ``wanted``, an ``alert`` or the sign-in page; True for ``wanted``.

    A 401, 429 or 5xx the SPA met meanwhile wins over whatever the page says
    about it; the sign-in page is SessionExpired."""
    login = page.get_by_role("heading", name=_LOGIN_HEADING_RE)
    await wanted.or_(alert).or_(login).first.wait_for(state="visible", timeout=UI_TIMEOUT_MS)
    _raise_for_api_failures(seen, 0, step=step)
    if await login.count() and await login.first.is_visible():
        raise SessionExpired("the portal showed its sign-in page", portal=PORTAL, step=step)
    if await wanted.count() and await wanted.first.is_visible():
        return True
    if step == "file_dispute":  # the side panel could not load the deduction
        said = clean_text(await alert.first.inner_text(), max_length=300)
        raise LayoutChanged(f"the deduction panel shows an error: {said}", portal=PORTAL, step=step)
    return False


async def _wizard_step(page: Page, wizard: Locator, n: int, seen: list[Response]) -> None:
    """Wait until the wizard shows step ``n``; an alert instead is the portal's
    refusal (DisputeRejected), the sign-in page is SessionExpired."""
    step = f"wizard_step_{n}"
    shown = wizard.get_by_text(f"Step {n} of {WIZARD_STEPS}")
    alert = wizard.get_by_role("alert")
    if await _settle(page, shown, alert, seen, step=step):
        return
    said = clean_text(await alert.first.inner_text(), max_length=300)
    raise DisputeRejected(said or "the portal refused the case", portal=PORTAL, step=step)


async def _next(page: Page, wizard: Locator, n: int, seen: list[Response]) -> None:
    seen.clear()
    await wizard.get_by_role("button", name="Next", exact=True).click()
    await _wizard_step(page, wizard, n, seen)


async def _one_pdf(packet: DisputePacket) -> tuple[str, bytes] | None:
    """ShopRight takes one PDF per case: the attachment, or all of them combined."""
    atts = packet.attachments
    for i, (name, data) in enumerate(atts, start=1):
        if not is_pdf(data):
            raise DisputeRejected(
                f"{_pdf_name(name, i)}: ShopRight accepts PDF attachments only",
                portal=PORTAL,
                step="file_dispute",
            )
    if not atts:
        return None
    if len(atts) == 1:
        return _pdf_name(atts[0][0], 1), atts[0][1]
    try:
        data = await asyncio.to_thread(merge_pdfs, [d for _, d in atts])
    except Exception as exc:  # pypdf raises many types on hostile input
        raise DisputeRejected(
            f"the attachments cannot be combined into the one PDF ShopRight takes: "
            f"{first_line(exc, 120)}",
            portal=PORTAL,
            step="file_dispute",
        ) from None
    return _pdf_name(f"{packet.deduction_external_id}_supporting_documents.pdf", 1), data


def _pdf_name(name: str, index: int) -> str:
    """A safe file name ending in .pdf (ShopRight shows it; ours is untrusted too)."""
    return upload_name(name, index, suffix=".pdf")


__all__ = ["ShoprightAdapter"]
