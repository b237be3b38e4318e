"""FreshCo Vendor Claims: a grocery retailer's legacy frameset claims portal.

How the adapter drives it:

* **Log on** at ``/login`` ("VENDOR LOG ON": USER ID, PASSWORD, LOG ON). A browser
  the portal has not seen gets "SECURITY QUESTION" (ANSWER, CONTINUE) once; the
  answer earns a long-lived ``FC_DEVICE`` cookie, which the runtime's saved
  storage state keeps, so later jobs skip the question. The log-on lands on the
  frameset (``/main``: banner, nav and main frames); it counts as done when the
  main frame shows "CLAIMS". One password attempt and at most one answer per
  call: a refusal is BadCredentials / MfaFailed, never retried here.
* **Content pages** (claims list, claim detail, document viewer, dispute form)
  are plain pages the frameset's main frame shows; the adapter opens them as
  the top-level page (one request each instead of four for the frameset) and
  checks every one by its heading. The log-on page (or the security question)
  where a content page was expected is SessionExpired: the portal answers an
  idle or over-budget session (``session_max_requests``) with a 303 to
  ``/login?...&expired=1``.
* **Claims** are read from the "Claims" table by header text (the columns move
  under the obfuscation fault), 15 a page, following the portal's "NEXT >"
  link. The list lacks the PO, invoice date, promo, PRO/BOL and memo, so each
  claim's detail page is read once (label/value table). Those reads are kept
  in ``session.notes`` for the job: after a SessionExpired the runtime logs in
  again and calls ``list_deductions`` again, which re-reads the list pages
  (one request per 15 claims) but no detail page it already read, so every
  session makes progress against the portal's 60-request budget.
* **Documents**: the claim page's DOCUMENTS table links to a pop-up viewer
  (``FCDocViewer``). The adapter opens the viewer URL itself instead of the
  named pop-up (no window to reuse or close), reads its "Open PDF" or
  "Download CSV" link, and fetches the bytes through the context's request
  API (cookies, no rendering), checking them (``%PDF-`` or CSV text).
* **Disputes** ("packages"): the claim page shows "PACKAGE <no> - <status>" once
  filed, else "Dispute this claim". ``file_dispute`` looks there first, then
  fills CASE TYPE (``packet.case_type``, else the claim's own CLAIM TYPE, else
  a mapping from ``packet.reason``), DISPUTE AMOUNT, REASON FOR DISPUTE and
  ATTACHMENT 1..n, and reads "Package <no> received". Refusals come back as the
  form with a role=alert message: DisputeRejected with that message.

One claim never stops the listing: a claim page that answers 404, says
"CLAIM NOT FOUND" or shows another claim, and values that do not parse, are
that claim's RecordInvalid (its list row kept as ``raw``); claim ids reach
URLs only through the portal's own links or ``quote``.

The log-on page without an alert during the log-on itself (the portal's
sessions ended between our requests) is SessionExpired, never BadCredentials:
only the portal's own refusal text disables an account.

Requests (measured against the fixture world): log-on 6 (login page, POST,
frameset, banner, nav, claims; +2 for the security question); listing 1 per 15
claims + 1 per claim; a claim's documents 1 (0 for the first look right after
the listing read that claim's page) + 2 per document (viewer, file); a dispute 4
(claim page, form, submit, confirmation); a status 1.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, ClassVar, NoReturn
from urllib.parse import quote, unquote, urlsplit

from playwright.async_api import Page, Response
from playwright.async_api import TimeoutError as PlaywrightTimeout
from pydantic import ValidationError

from credentials.secret import Secret
from portal_adapters.base import (
    AdapterSession,
    Challenge,
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
    PageNotFound,
    RecordInvalid,
    SessionExpired,
)
from portal_adapters.web import (
    TABLE_CELLS_JS,
    FieldError,
    Row,
    alert_text,
    check_record_heading,
    fetch_bytes,
    fetched_document,
    fill_secret,
    goto,
    heading_text,
    optional_amount,
    playwright_errors,
    portal_url,
    raise_for_status,
    read_field,
    read_table,
    record_invalid,
    record_unreadable,
    shows_page,
    submit_form,
    upload_file,
)
from records.normalize import NormalizationError, clean_text, normalize_location, portal_rules
from records.schemas import DeductionRecord, DisputeStatus, LinkRole

PORTAL = "freshco"

LOGIN_PATH = "/login"
CLAIMS_PATH = "/claims"

LOGIN_HEADING = "VENDOR LOG ON"
QUESTION_HEADING = "SECURITY QUESTION"
CLAIMS_HEADING = "CLAIMS"
DETAIL_HEADING = "CLAIM DETAIL - "
FORM_HEADING = "DISPUTE CLAIM - "
CONFIRMATION_HEADING = "DISPUTE CONFIRMATION"
VIEWER_HEADING = "DOCUMENT VIEWER"
NOT_FOUND_HEADING = "CLAIM NOT FOUND"
_INTERSTITIALS = (LOGIN_HEADING, QUESTION_HEADING)

CLAIMS_TABLE = "Claims"
DETAIL_TABLE = "Claim detail"
DOCUMENTS_TABLE = "Documents"
SUMMARY_TABLE = "Claim"
PACKAGE_TABLE = "Package"
VIEWER_TABLE = "Document"
NO_CLAIMS_TEXT = "NO CLAIMS FOUND."
NO_DOCUMENTS_TEXT = "No documents on file"
DISPUTE_LINK = "Dispute this claim"

COL_CLAIM = "Claim No."
COL_TYPE = "Claim Type"
COL_REASON = "Reason"
COL_INVOICE = "Invoice"
COL_STORE = "Store"
COL_AMOUNT = "Amount"
COL_DATE = "Claim Date"
COL_STATUS = "Status"
LIST_COLUMNS = (COL_CLAIM, COL_TYPE, COL_REASON, COL_INVOICE, COL_STORE, COL_AMOUNT, COL_DATE)

POSTING_LAG_DAYS = 7
"""The list shows the claim date, not the posting date (which is on or after it,
a few days at most): a ``since`` listing reads claims dated up to this many days
before ``since`` and stops at the first one older than that (the list is newest
posting first)."""

MAX_PAGES = 1000
HEADING_TIMEOUT_MS = 10_000
MAX_CLAIM_CHARS = 128
DETAIL_NOTE = "freshco.claims"  # claim id -> _ClaimPage read in this job
VIEWER_NOTE = "freshco.viewers"  # (claim id, doc id) -> viewer href
DOCS_REUSE_SECONDS = 600.0
MAX_REASON_CHARS = 1000

DOC_ROLES: dict[str, str] = {
    "CLAIM BACKUP": LinkRole.backup.value,
    "DEAL SHEET": LinkRole.deal_sheet.value,
    "LINE DETAIL": LinkRole.line_detail.value,
    "REMITTANCE DETAIL": LinkRole.remittance.value,
    "PROOF OF DELIVERY": LinkRole.pod.value,
    "BILL OF LADING": LinkRole.bol.value,
}

STATUS_BY_LABEL: dict[str, DisputeStatus] = {
    "not submitted": DisputeStatus.draft,
    "under review": DisputeStatus.research,
    "information requested": DisputeStatus.supplier_action,
    "closed - paid": DisputeStatus.approved,
    "closed - partial": DisputeStatus.partially_approved,
    "closed - denied": DisputeStatus.denied,
    "closed - expired": DisputeStatus.expired,
}

# packet.reason -> FreshCo case type, when neither the packet nor the claim names one.
CASE_TYPE_BY_REASON: dict[str, str] = {
    "proof_of_delivery": "SH",
    "allowance_not_owed": "OI",
    "pricing_per_agreement": "CV",
    "duplicate_deduction": "ORAD",
    "compliance_met": "ORAD",
    "other": "ORAD",
}

_PAGER = re.compile(r"PAGE\s+(\d+)\s+OF\s+(\d+)", re.I)
_REASON = re.compile(r"^(\d{1,6})(?:\s+(.*))?$", re.S)
_PACKAGE_LINE = re.compile(r"^PACKAGE\s+(\S+)\s+-\s+(.+)$", re.I | re.S)
_RECEIVED = re.compile(r"Package\s+(\S+)\s+received", re.I)
_CASE_CODE = re.compile(r"^\s*([A-Za-z]{2,4})\b")
_ATTACHMENT_LABEL = re.compile(r"^ATTACHMENT \d+$")
_ALREADY_FILED = re.compile(r"already exists|was filed for this claim", re.I)

_OPTIONS_JS = "s => Array.from(s.options).map(o => [o.value, (o.textContent || '').trim()])"


# ---------------------------------------------------------------------- small values


@dataclass
class _ClaimPage:
    """What one claim detail page showed (a job-long cache in ``session.notes``)."""

    claim: str
    fields: dict[str, str]
    documents: list[tuple[DocumentRef, str]]  # (ref, viewer href)
    package: tuple[str, str] | None  # (number, status label)
    list_row: dict[str, str] = field(default_factory=dict)
    read_at: float = field(default_factory=time.monotonic)
    docs_used: bool = False


def _cache(session: AdapterSession) -> dict[str, _ClaimPage]:
    cache = session.notes.get(DETAIL_NOTE)
    if not isinstance(cache, dict):
        cache = {}
        session.notes[DETAIL_NOTE] = cache
    return cache


def _viewers(session: AdapterSession) -> dict[tuple[str, str], str]:
    viewers = session.notes.get(VIEWER_NOTE)
    if not isinstance(viewers, dict):
        viewers = {}
        session.notes[VIEWER_NOTE] = viewers
    return viewers


def _claim_path(claim: str) -> str:
    return f"{CLAIMS_PATH}/{quote(claim, safe='')}"


def _status(label: str, *, step: str) -> DisputeStatus:
    status = STATUS_BY_LABEL.get(clean_text(label).casefold())
    if status is None:
        raise LayoutChanged(f"unknown package status {label[:60]!r}", portal=PORTAL, step=step)
    return status


# ---------------------------------------------------------------------- the adapter


class FreshcoAdapter(RetailerAdapter):
    """Stateless; per-job reads (claim pages, viewer links) live in ``session.notes``."""

    portal: ClassVar[str] = PORTAL

    # ------------------------------------------------------------------ login

    async def login(self, session: AdapterSession) -> None:
        """User id and password, then the security question if this browser is new.

        One attempt each, never retried here. Raises BadCredentials (wrong password
        or locked), MfaFailed (wrong or missing answer), LayoutChanged,
        PortalUnavailable, RateLimited.
        """
        step = "login"
        creds = session.credentials
        session.logged_in = False
        page = await goto(session, LOGIN_PATH, step=step)
        await self._expect(page, LOGIN_HEADING, step=step, interstitials=())
        failures: list[Response] = []

        def watch(resp: Response) -> None:  # frames load outside page.goto's answer
            if resp.status == 429 or resp.status >= 500:
                failures.append(resp)

        page.on("response", watch)
        try:
            async with playwright_errors(PORTAL, step):
                await page.get_by_label("USER ID", exact=True).fill(creds.username)
                await fill_secret(page.get_by_label("PASSWORD", exact=True), creds.password)
            await submit_form(session, page, "LOG ON", step)
            if not await self._on_frameset(page, step=step):
                heading = await self._heading(page, step=step)
                if heading == LOGIN_HEADING:
                    await self._refused(page, BadCredentials, step=step)
                if heading != QUESTION_HEADING:
                    raise LayoutChanged(
                        f"after LOG ON saw a page headed {heading[:60]!r}",
                        portal=PORTAL,
                        step=step,
                    )
                await self._answer_question(session, page)
            await self._expect_frameset(session, page, failures, step=step)
        finally:
            page.remove_listener("response", watch)
        session.logged_in = True

    async def _answer_question(
        self, session: AdapterSession, page: Page, given: Secret | None = None
    ) -> None:
        step = "security_question"
        answer = given or session.credentials.security_answer
        if answer is None:
            raise MfaFailed(
                "the portal asks its security question and no answer is configured",
                portal=PORTAL,
                step=step,
            )
        async with playwright_errors(PORTAL, step):
            await fill_secret(page.get_by_label("ANSWER", exact=True), answer)
        await submit_form(session, page, "CONTINUE", step)
        if await self._on_frameset(page, step=step):
            return
        if await self._heading(page, step=step) in _INTERSTITIALS:
            await self._refused(page, MfaFailed, step=step)

    async def challenge(self, session: AdapterSession) -> Challenge | None:
        """The security question the log-on stopped at (its answer is a
        credential: a person types it into the keyring, not the store)."""
        step = "security_question"
        page = await session.main_page()
        if await self._on_frameset(page, step=step):
            return None
        if await self._heading(page, step=step) != QUESTION_HEADING:
            return None
        async with playwright_errors(PORTAL, step):
            row = page.locator("tr").filter(has=page.get_by_text("QUESTION", exact=True))
            asked = clean_text(await row.locator("td").last.inner_text(), max_length=200)
        return Challenge("security_question", f"FreshCo asks: {asked}", secret=True)

    async def answer_challenge(self, session: AdapterSession, answer: Secret) -> bool:
        """Answer the security question the log-on stopped at; True when the
        claims frameset follows (the session is then logged in)."""
        step = "security_question"
        page = await session.main_page()
        try:
            await self._answer_question(session, page, answer)
            await self._expect_frameset(session, page, [], step=step)
        except (MfaFailed, SessionExpired):
            return False
        session.logged_in = True
        return True

    async def _refused(
        self, page: Page, error: type[BadCredentials | MfaFailed], *, step: str
    ) -> NoReturn:
        """Back on the log-on page (or the question) during the log-on: a refusal only
        when the portal says so in an alert; without one the session the portal had
        just opened ended (idle, budget, expiry fault) and a new log-on may work."""
        alert = await alert_text(page, portal=PORTAL, step=step)
        if alert:
            raise error(f"the portal refused the log-on: {alert}", portal=PORTAL, step=step)
        raise SessionExpired(
            "the portal went back to its log-on page without a refusal", portal=PORTAL, step=step
        )

    async def _on_frameset(self, page: Page, *, step: str) -> bool:
        async with playwright_errors(PORTAL, step):
            return await page.locator('frame[name="main"]').count() > 0

    async def _expect_frameset(
        self, session: AdapterSession, page: Page, failures: list[Response], *, step: str
    ) -> None:
        """The log-on ends on the frameset, its main frame showing the claims."""
        main = page.frame_locator('frame[name="main"]')
        heading = main.get_by_role("heading", level=1).first
        async with playwright_errors(PORTAL, step):
            try:
                await heading.wait_for(state="visible", timeout=HEADING_TIMEOUT_MS)
                text = clean_text(await heading.inner_text()).upper()
            except PlaywrightTimeout:
                text = ""
        session.requests += 3  # frameset's banner, nav and main frame
        for resp in failures:
            raise_for_status(resp.status, resp.headers, portal=PORTAL, step=step, url=resp.url)
        if text == CLAIMS_HEADING:
            return
        if text in _INTERSTITIALS:
            raise SessionExpired(
                "the main frame showed the log-on page right after logging on",
                portal=PORTAL,
                step=step,
            )
        raise LayoutChanged(
            f"after logging on expected the frameset with {CLAIMS_HEADING!r}, "
            f"main frame heading {text[:60]!r}",
            portal=PORTAL,
            step=step,
        )

    async def is_logged_in(self, session: AdapterSession) -> bool:
        # a session half through the log-on shows its security question
        return await shows_page(session, CLAIMS_PATH, CLAIMS_HEADING, login_heading=_INTERSTITIALS)

    # ------------------------------------------------------------------ listing

    async def list_deductions(
        self, session: AdapterSession, since: date | None = None
    ) -> AsyncIterator[DeductionRecord | RecordInvalid]:
        """Every claim posted on or after ``since`` (all when None), newest first.

        Resumable: claim pages read earlier in this job are not read again, so a
        call repeated after SessionExpired costs only the list pages. Yields
        RecordInvalid for a claim that cannot be read (its page missing or about
        another claim, a value that does not parse) and keeps going.
        """
        step = "list_deductions"
        rules = portal_rules(PORTAL)
        floor = since - timedelta(days=POSTING_LAG_DAYS) if since is not None else None
        cache = _cache(session)
        seen: set[str] = set()
        url: str | None = CLAIMS_PATH
        last_number = 0
        for _ in range(MAX_PAGES):
            if url is None:
                return
            rows, url, number = await self._claims_page(session, url, step=step)
            if number <= last_number:
                raise LayoutChanged(
                    f"NEXT from page {last_number} led to page {number}", portal=PORTAL, step=step
                )
            last_number = number
            for row, href in rows:
                claim = clean_text(row.get(COL_CLAIM, ""), max_length=MAX_CLAIM_CHARS)
                if not claim:
                    yield RecordInvalid(
                        "a claims row without a claim number",
                        raw={"list_row": row},
                        field=COL_CLAIM,
                        portal=PORTAL,
                        step=step,
                    )
                    continue
                if claim in seen:  # a new posting pushed rows onto the next page
                    continue
                seen.add(claim)
                try:
                    claim_date = read_field(COL_DATE, rules.date, row[COL_DATE])
                except FieldError as exc:
                    yield record_invalid(
                        exc, raw={"list_row": row}, external_id=claim, portal=PORTAL, step=step
                    )
                    continue
                if floor is not None and claim_date < floor:
                    return  # newest posting first: every later row was posted before since
                if claim in session.listed:  # stored before a retry: do not read it again
                    continue
                detail = cache.get(claim)
                if detail is None or detail.list_row != row:
                    try:
                        detail = await self._claim_page(session, claim, href, step=step)
                    except RecordInvalid as exc:
                        exc.raw = {"list_row": row, **exc.raw}
                        yield exc
                        continue
                    detail.list_row = row
                yield self._record(session, row, detail, rules, step=step)
        raise LayoutChanged(f"more than {MAX_PAGES} claims pages", portal=PORTAL, step=step)

    async def _claims_page(
        self, session: AdapterSession, url: str, *, step: str
    ) -> tuple[list[tuple[dict[str, str], str | None]], str | None, int]:
        """One page of the claims table: rows by header text (with each claim's
        link), the NEXT link, and the page's number."""
        page = await goto(session, url, step=step)
        await self._expect(page, CLAIMS_HEADING, step=step)
        async with playwright_errors(PORTAL, step):
            table = page.get_by_role("table", name=CLAIMS_TABLE, exact=True)
            if await table.count() == 0:
                if await page.get_by_text(NO_CLAIMS_TEXT, exact=True).count():
                    return [], None, 1
                raise LayoutChanged(
                    "the claims page has neither a Claims table nor the no-claims text",
                    portal=PORTAL,
                    step=step,
                )
            pager = page.get_by_text(_PAGER).first
            pager_text = await pager.inner_text() if await pager.count() else ""
            nxt = page.get_by_role("link", name="NEXT >", exact=True)
            next_href = await nxt.first.get_attribute("href") if await nxt.count() else None
        m = _PAGER.search(pager_text)
        if not m:
            raise LayoutChanged("no 'PAGE n OF m' under the claims", portal=PORTAL, step=step)
        number, pages = int(m.group(1)), int(m.group(2))
        if next_href is None and number < pages:
            raise LayoutChanged(
                f"page {number} of {pages} has no NEXT link", portal=PORTAL, step=step
            )
        table_rows = await read_table(
            table.first, LIST_COLUMNS, portal=PORTAL, what=CLAIMS_TABLE, step=step
        )
        base = page.url
        rows: list[tuple[dict[str, str], str | None]] = [
            (r.cells, portal_url(session, r.links[COL_CLAIM], step=step, base=base))
            if COL_CLAIM in r.links
            else (r.cells, None)
            for r in table_rows
        ]
        next_url = (
            portal_url(session, next_href, step=step, base=base)
            if next_href and number < pages
            else None
        )
        return rows, next_url, number

    def _record(
        self,
        session: AdapterSession,
        row: dict[str, str],
        detail: _ClaimPage,
        rules: Any,
        *,
        step: str,
    ) -> DeductionRecord | RecordInvalid:
        f = detail.fields
        raw: dict[str, Any] = {"list_row": row, "detail": f}

        def opt(label: str) -> str:
            return clean_text(f.get(label, ""))

        try:
            code, text = _split_reason(row[COL_REASON])
            invoice_date = opt("INVOICE DATE")
            return DeductionRecord(
                portal=PORTAL,
                external_id=detail.claim,
                account=session.account,
                invoice_number=clean_text(row[COL_INVOICE]),
                po_number=opt("PO NO."),
                location=normalize_location(row[COL_STORE]),
                amount=read_field(COL_AMOUNT, rules.amount, row[COL_AMOUNT]),
                currency=opt("CURRENCY") or "USD",
                reason_code=code,
                reason_text=text,
                category=rules.category(code, text) if code or text else None,
                deduction_date=read_field(COL_DATE, rules.date, row[COL_DATE]),
                invoice_date=read_field("INVOICE DATE", rules.date, invoice_date)
                if invoice_date
                else None,
                status=clean_text(row.get(COL_STATUS, "")),
                promo_id=opt("PROMO NO.") or None,
                pro_number=opt("PRO NO.") or None,
                bol_number=opt("BOL NO.") or None,
                memo=clean_text(f.get("MEMO", ""), max_length=20_000),
                raw=raw,
            )
        except (NormalizationError, ValidationError, FieldError, KeyError) as exc:
            return record_invalid(exc, raw=raw, external_id=detail.claim, portal=PORTAL, step=step)

    # ------------------------------------------------------------------ claim page

    async def _claim_page(
        self, session: AdapterSession, claim: str, path: str | None = None, *, step: str
    ) -> _ClaimPage:
        """Read one claim's detail page (fields, documents, package) and remember it.

        RecordInvalid when the portal does not show this claim (HTTP 404,
        "CLAIM NOT FOUND") or shows another one; LayoutChanged when the page is
        not a claim page at all.
        """
        try:
            page = await goto(session, path or _claim_path(claim), step=step)
        except PageNotFound:
            raise record_unreadable(
                claim, "its page answers HTTP 404", portal=PORTAL, step=step
            ) from None
        heading = await self._heading(page, step=step)
        if heading == NOT_FOUND_HEADING or heading.startswith(DETAIL_HEADING):
            check_record_heading(
                heading,
                expected=(DETAIL_HEADING + claim).upper(),
                not_found=NOT_FOUND_HEADING,
                external_id=claim,
                portal=PORTAL,
                step=step,
            )
        else:  # the log-on page (SessionExpired) or no claim page at all (LayoutChanged)
            await self._expect(page, DETAIL_HEADING + claim, step=step)
        async with playwright_errors(PORTAL, step):
            fields_table = page.get_by_role("table", name=DETAIL_TABLE, exact=True)
            if await fields_table.count() != 1:
                raise LayoutChanged("no Claim detail table", portal=PORTAL, step=step)
            fields = _pairs(await fields_table.evaluate(TABLE_CELLS_JS))
            documents = await self._documents(session, page, step=step)
            package = await self._package(page, step=step)
        shown = clean_text(fields.get("CLAIM NO.", ""), max_length=MAX_CLAIM_CHARS)
        if shown != claim:
            raise record_unreadable(
                claim,
                f"its detail shows claim {shown[:60]!r}",
                portal=PORTAL,
                step=step,
                field="CLAIM NO.",
            )
        result = _ClaimPage(claim=claim, fields=fields, documents=documents, package=package)
        _cache(session)[claim] = result
        viewers = _viewers(session)
        for ref, href in documents:
            viewers[(claim, ref.ref)] = href
        return result

    async def _documents(
        self, session: AdapterSession, page: Page, *, step: str
    ) -> list[tuple[DocumentRef, str]]:
        table = page.get_by_role("table", name=DOCUMENTS_TABLE, exact=True)
        if await table.count() == 0:
            if await page.get_by_text(NO_DOCUMENTS_TEXT, exact=True).count():
                return []
            raise LayoutChanged(
                "the claim page has neither a Documents table nor 'No documents on file'",
                portal=PORTAL,
                step=step,
            )
        rows: list[Row] = await read_table(
            table.first,
            ("DOCUMENT TYPE", "FILE NAME"),
            portal=PORTAL,
            what=DOCUMENTS_TABLE,
            step=step,
        )
        out: list[tuple[DocumentRef, str]] = []
        for row in rows:
            viewer = portal_url(session, row.links.get("FILE NAME"), step=step, base=page.url)
            doc_id = unquote(urlsplit(viewer).path.rstrip("/").rsplit("/", 1)[-1])
            if not doc_id:
                raise LayoutChanged("a document link without an id", portal=PORTAL, step=step)
            label = clean_text(row.cells["DOCUMENT TYPE"]).upper()
            ref = DocumentRef(
                ref=doc_id[:200],
                role=DOC_ROLES.get(label, LinkRole.backup.value),
                filename=clean_text(row.cells["FILE NAME"]),
            )
            out.append((ref, viewer))
        return out

    async def _package(self, page: Page, *, step: str) -> tuple[str, str] | None:
        """(package number, status label) when the claim has one; None when it can be
        disputed; LayoutChanged when the page shows neither."""
        line = page.locator("p").filter(has_text=re.compile(r"^\s*PACKAGE\s", re.I))
        if await line.count():
            m = _PACKAGE_LINE.match(clean_text(await line.first.inner_text()))
            if not m:
                raise LayoutChanged("an unreadable package line", portal=PORTAL, step=step)
            return m.group(1), clean_text(m.group(2))
        if await page.get_by_role("link", name=DISPUTE_LINK, exact=True).count():
            return None
        raise LayoutChanged(
            "the claim page shows neither a package nor 'Dispute this claim'",
            portal=PORTAL,
            step=step,
        )

    # ------------------------------------------------------------------ documents

    async def list_documents(self, session: AdapterSession, external_id: str) -> list[DocumentRef]:
        """The documents on the claim page now; [] for "No documents on file".

        The first call for a claim right after the listing read its page reuses
        that read (no request); every other call reads the page again.
        """
        step = "list_documents"
        cached = _cache(session).get(external_id)
        if (
            cached is not None
            and not cached.docs_used
            and time.monotonic() - cached.read_at < DOCS_REUSE_SECONDS
        ):
            cached.docs_used = True
            return [ref for ref, _ in cached.documents]
        detail = await self._claim_page(session, external_id, step=step)
        detail.docs_used = True
        return [ref for ref, _ in detail.documents]

    async def download_document(
        self, session: AdapterSession, external_id: str, doc: DocumentRef
    ) -> list[FetchedDocument]:
        """Open the document viewer, then fetch its PDF or CSV through the request API.

        A file that is missing or not what the viewer says is that document's
        RecordInvalid (``kind="document"``)."""
        step = "download_document"
        href = _viewers(session).get((external_id, doc.ref))
        if href is None:
            detail = await self._claim_page(session, external_id, step=step)
            href = next((h for r, h in detail.documents if r.ref == doc.ref), None)
            if href is None:
                raise LayoutChanged(
                    f"document {doc.ref[:60]!r} is no longer listed on claim {external_id}",
                    portal=PORTAL,
                    step=step,
                )
        page = await goto(session, href, step=step)
        await self._expect(page, VIEWER_HEADING, step=step)
        async with playwright_errors(PORTAL, step):
            info = page.get_by_role("table", name=VIEWER_TABLE, exact=True)
            fields = _pairs(await info.first.evaluate(TABLE_CELLS_JS)) if await info.count() else {}
            pdf = page.get_by_role("link", name="Open PDF", exact=True)
            csv = page.get_by_role("link", name="Download CSV", exact=True)
            if await pdf.count():
                file_href, expect, default_type = (
                    await pdf.first.get_attribute("href"),
                    ("pdf",),
                    "application/pdf",
                )
            elif await csv.count():
                file_href, expect, default_type = (
                    await csv.first.get_attribute("href"),
                    ("text",),
                    "text/csv",
                )
            else:
                raise LayoutChanged(
                    "the viewer has neither 'Open PDF' nor 'Download CSV'",
                    portal=PORTAL,
                    step=step,
                )
        if clean_text(fields.get("CLAIM NO.", "")) != external_id:
            raise LayoutChanged(
                f"the viewer shows claim {fields.get('CLAIM NO.', '')[:40]!r}, not {external_id}",
                portal=PORTAL,
                step=step,
            )
        url = portal_url(session, file_href, step=step, base=page.url)
        reply = await fetch_bytes(session, url, step=step, expect=expect, ref=doc.ref)
        listed = clean_text(fields.get("FILE NAME", "")) or doc.filename or doc.ref
        return [
            fetched_document(
                reply, role=doc.role, ref=doc.ref, filename=listed, default_type=default_type
            )
        ]

    # ------------------------------------------------------------------ disputes

    async def file_dispute(self, session: AdapterSession, packet: DisputePacket) -> DisputeReceipt:
        """File a dispute package once: an existing package is returned instead.

        Raises DisputeRejected with the portal's message (window closed, amount,
        missing reason...), LayoutChanged, SessionExpired, PortalUnavailable.
        """
        step = "file_dispute"
        claim = packet.deduction_external_id
        try:
            detail = await self._claim_page(session, claim, step=step)
        except RecordInvalid as exc:
            raise DisputeRejected(str(exc.args[0]), portal=PORTAL, step=step) from None
        if detail.package is not None:
            number, label = detail.package
            return DisputeReceipt(number, _status(label, step=step), already_filed=True)
        page = await session.main_page()
        dispute_link = page.get_by_role("link", name=DISPUTE_LINK, exact=True)
        await submit_form(session, page, dispute_link, step)
        await self._expect(page, FORM_HEADING + claim, step=step)
        async with playwright_errors(PORTAL, step):
            if await page.get_by_role("button", name="SUBMIT DISPUTE", exact=True).count() == 0:
                # Filed between our look and the form (another job, or a lost answer).
                return await self._existing(session, claim, step=step)
            summary = page.get_by_role("table", name=SUMMARY_TABLE, exact=True)
            claim_fields = (
                _pairs(await summary.first.evaluate(TABLE_CELLS_JS))
                if await summary.count()
                else {}
            )
            await self._fill_case_type(page, packet, claim_fields.get("CLAIM TYPE", ""), step)
            await page.get_by_label("DISPUTE AMOUNT", exact=True).fill(f"{packet.amount:.2f}")
            await page.get_by_label("REASON FOR DISPUTE", exact=True).fill(packet.explanation)
            await self._attach(page, packet, step=step)
        await submit_form(session, page, "SUBMIT DISPUTE", step)
        heading = await self._heading(page, step=step)
        if heading in _INTERSTITIALS:
            raise SessionExpired("the log-on page answered the dispute", portal=PORTAL, step=step)
        _cache(session).pop(claim, None)
        if heading == CONFIRMATION_HEADING:
            return await self._confirmation(page, claim, step=step)
        alert = await alert_text(page, portal=PORTAL, step=step)
        if heading == (FORM_HEADING + claim).upper() and alert:
            if _ALREADY_FILED.search(alert):
                return await self._existing(session, claim, step=step)
            raise DisputeRejected(alert, portal=PORTAL, step=step)
        raise LayoutChanged(
            f"after SUBMIT DISPUTE expected {CONFIRMATION_HEADING!r}, saw heading {heading[:60]!r}",
            portal=PORTAL,
            step=step,
        )

    async def _existing(self, session: AdapterSession, claim: str, *, step: str) -> DisputeReceipt:
        detail = await self._claim_page(session, claim, step=step)
        if detail.package is None:
            raise LayoutChanged(
                "the portal says a package exists but the claim shows none",
                portal=PORTAL,
                step=step,
            )
        number, label = detail.package
        return DisputeReceipt(number, _status(label, step=step), already_filed=True)

    async def _fill_case_type(
        self, page: Page, packet: DisputePacket, claim_type: str, step: str
    ) -> None:
        select = page.get_by_label("CASE TYPE", exact=True)
        options = [(v, clean_text(t)) for v, t in await select.evaluate(_OPTIONS_JS) if v]
        wanted = (
            packet.case_type
            or claim_type
            or packet.portal_reason
            or CASE_TYPE_BY_REASON.get(packet.reason, "ORAD")
        )
        m = _CASE_CODE.match(wanted)
        code = m.group(1).upper() if m else ""
        for value, label in options:
            if label.upper().startswith(f"{code} -") or value.upper() == code:
                await select.select_option(value=value)
                return
        offered = ", ".join(label for _, label in options)[:300]
        raise DisputeRejected(
            f"FreshCo offers no case type {wanted[:40]!r} (it offers: {offered})",
            portal=PORTAL,
            step=step,
        )

    async def _attach(self, page: Page, packet: DisputePacket, *, step: str) -> None:
        if not packet.attachments:
            return
        slots = page.get_by_label(_ATTACHMENT_LABEL)
        count = await slots.count()
        if len(packet.attachments) > count:
            raise DisputeRejected(
                f"FreshCo takes at most {count} attachments; the packet has "
                f"{len(packet.attachments)}",
                portal=PORTAL,
                step=step,
            )
        for i, (name, data) in enumerate(packet.attachments, start=1):
            await page.get_by_label(f"ATTACHMENT {i}", exact=True).set_input_files(
                files=[upload_file(name, data, i)]
            )

    async def _confirmation(self, page: Page, claim: str, *, step: str) -> DisputeReceipt:
        async with playwright_errors(PORTAL, step):
            status = page.get_by_role("status")
            text = clean_text(await status.first.inner_text()) if await status.count() else ""
            table = page.get_by_role("table", name=PACKAGE_TABLE, exact=True)
            fields = (
                _pairs(await table.first.evaluate(TABLE_CELLS_JS)) if await table.count() else {}
            )
        m = _RECEIVED.search(text)
        if not m:
            raise LayoutChanged("no 'Package ... received' message", portal=PORTAL, step=step)
        number = m.group(1)
        if clean_text(fields.get("PACKAGE NO.", "")) != number or (
            clean_text(fields.get("CLAIM NO.", "")) != claim
        ):
            raise LayoutChanged(
                "the confirmation's package table does not match the message",
                portal=PORTAL,
                step=step,
            )
        return DisputeReceipt(number, _status(fields.get("STATUS", ""), step=step))

    async def dispute_status(
        self, session: AdapterSession, external_id: str
    ) -> DisputeStatusReport | None:
        """The package on the claim (from its page) or None when it has none;
        RecordInvalid when the claim's page is missing or about another claim."""
        step = "dispute_status"
        detail = await self._claim_page(session, external_id, step=step)
        if detail.package is None:
            return None
        number, label = detail.package
        status = _status(label, step=step)
        approved = None
        if status in (DisputeStatus.approved, DisputeStatus.partially_approved):
            approved = await self._amount_paid(session, number, step=step)
        return DisputeStatusReport(number, status, label, approved_amount=approved)

    async def _amount_paid(
        self, session: AdapterSession, number: str, *, step: str
    ) -> Decimal | None:
        """The package page's AMOUNT PAID (one more page, only once it is closed paid)."""
        page = await goto(session, f"/disputes/{quote(number, safe='')}", step=step)
        await self._expect(page, f"DISPUTE PACKAGE - {number}", step=step)
        async with playwright_errors(PORTAL, step):
            table = page.get_by_role("table", name=PACKAGE_TABLE, exact=True)
            fields = (
                _pairs(await table.first.evaluate(TABLE_CELLS_JS)) if await table.count() else {}
            )
        return optional_amount(PORTAL, clean_text(fields.get("AMOUNT PAID", "")))

    # ------------------------------------------------------------------ page plumbing

    async def _heading(self, page: Page, *, step: str) -> str:
        """The page's h1, upper-cased ("" when it has none)."""
        return (await heading_text(page, portal=PORTAL, step=step)).upper()

    async def _expect(
        self,
        page: Page,
        expected: str,
        *,
        step: str,
        interstitials: tuple[str, ...] = _INTERSTITIALS,
    ) -> None:
        """The page is the one asked for; the log-on page or the security question
        instead is SessionExpired, anything else LayoutChanged (never empty data)."""
        heading = await self._heading(page, step=step)
        if heading == expected.upper():
            return
        if heading in interstitials:
            raise SessionExpired(
                f"the portal showed {heading!r} where {expected!r} was expected",
                portal=PORTAL,
                step=step,
            )
        alert = await alert_text(page, portal=PORTAL, step=step)
        raise LayoutChanged(
            f"expected a page headed {expected[:80]!r}, saw {heading[:60]!r}"
            + (f" ({alert[:120]})" if alert else ""),
            portal=PORTAL,
            step=step,
        )


# ---------------------------------------------------------------------- parsing


def _pairs(cells: list[list[list[Any]]]) -> dict[str, str]:
    """A label/value table (one or two pairs a row) as {LABEL: value}."""
    out: dict[str, str] = {}
    for row in cells:
        for i in range(0, len(row) - 1, 2):
            label = clean_text(str(row[i][0])).rstrip(":").upper()
            if label and label not in out:
                out[label] = str(row[i + 1][0]).strip()
    return out


def _split_reason(text: str) -> tuple[str, str]:
    """ "2 OI - promo allowance difference" -> ("2", "OI - promo allowance difference")."""
    cleaned = clean_text(text)
    m = _REASON.match(cleaned)
    if m:
        return m.group(1), clean_text(m.group(2) or "")
    return "", cleaned


__all__ = ["FreshcoAdapter"]
