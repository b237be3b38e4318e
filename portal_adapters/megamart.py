"""MegaMart Supplier Payables (big-box retailer): deductions, their backup, disputes.

How the portal is driven (server-rendered pages, no JavaScript needed):

* **Sign-in**: ``/login`` ("Sign in to MegaMart Supplier Payables": "User ID",
  "Password", "Sign in"), then "Two-step verification" ("Authenticator code",
  "Verify"). One attempt per call: a refused password is BadCredentials, a
  refused code MfaFailed; the runtime decides about retrying.
* **Listing**: the "Deductions" table at ``/deductions``, read by header text
  (the layout fault reorders columns and renames every id and class), 20 rows a
  page ("Page X of Y", query ``page``), newest posting first. The list shows the
  *deduction* date but not the *posted* date, so ``since`` works in two steps:
  the portal's own ``date_from`` filter is set to ``since - POSTING_LAG_DAYS``
  (postings never precede the deduction date and follow it by a few days), and
  each candidate's claim page, which the record needs anyway for invoice date,
  posted date, reason text, carrier, PRO, BOL, memo and line items, gives the
  exact posted date: rows posted before ``since`` are dropped, and the listing
  stops at the first one, because the list is sorted by posting, newest first.
  A deduction posted more than POSTING_LAG_DAYS after its deduction date is
  missed by a ``since`` listing (a full listing, ``since=None``, sees it).
* **Documents**: the "Documents" table on the claim page; each "Download" link
  (``/deductions/{claim}/documents/{doc_id}``) is fetched through the context's
  request API (cookies, no rendering) and its bytes sniffed. The "Download
  backup" button serves the same bytes as the backup's row, so it is not used.
* **Disputes**: "Create dispute" on the claim page opens a draft ("Dispute
  MD0000001"); its "Dispute reason", "Comments" and "Attachments" are filled
  and "Submit dispute" sends it ("Dispute MD0000001 submitted"). The claim
  page's "Dispute" section shows an existing dispute and its status, which is
  what makes filing idempotent: a submitted one is returned as
  ``already_filed``, a draft left by an interrupted attempt is completed.

One claim that cannot be read never stops the listing: a claim page that
answers 404 or "Claim not found", or names another claim, or values that do
not parse, is that claim's RecordInvalid (its list row kept as ``raw``). The
claim number is portal text: it reaches a URL only through ``quote`` and a
locator only as a plain string Playwright escapes (a number with ``/``,
quotes or regex metacharacters once broke the heading locator).

Requests (what the portal serves): a full listing is one list page per 20
deductions plus one claim page per deduction, less the first list page when
the sign-in (or the signed-in check) just landed on it; each document is one GET;
``list_documents`` and ``dispute_status`` are one claim page; filing is the
claim page, the draft creation (POST + redirect) and the submission (POST +
redirect), five in all.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import partial
from typing import Any, ClassVar, NoReturn
from urllib.parse import quote, unquote, urlencode, urlsplit

from playwright.async_api import Page
from pydantic import ValidationError

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
    describe_page,
    expect_heading,
    fetch_bytes,
    fetched_document,
    fill_secret,
    goto,
    heading_text,
    optional_amount,
    playwright_errors,
    portal_url,
    read_field,
    read_table,
    record_invalid,
    record_unreadable,
    rows_by_header,
    same_origin,
    shows_page,
    side_by_side,
    submit_code,
    submit_form,
    upload_file,
    upload_name,
)
from records.normalize import (
    NormalizationError,
    clean_text,
    normalize_location,
    parse_currency,
    portal_rules,
)
from records.schemas import DeductionLineRecord, DeductionRecord, DisputeStatus

PORTAL = "megamart"

LOGIN_PATH = "/login"
LIST_PATH = "/deductions"
LOGIN_HEADING = "Sign in to MegaMart Supplier Payables"
MFA_HEADING = "Two-step verification"
LIST_HEADING = "Deductions"
NOT_FOUND_HEADING = "Claim not found"
EMPTY_LIST_TEXT = "No deductions match your search."

POSTING_LAG_DAYS = 14
"""How long after its deduction date a claim may be posted and still be found by
a ``since`` listing (the portal filters on the deduction date it shows)."""

MAX_PAGES = 500  # 10,000 deductions: far past any real account; a loop guard

# The list's columns, by the header text the portal prints.
COL_CLAIM = "Claim Number"
COL_INVOICE = "Invoice Number"
COL_PO = "PO Number"
COL_LOCATION = "Store/DC"
COL_REASON = "Reason Code"
COL_AMOUNT = "Amount"
COL_DATE = "Deduction Date"
COL_STATUS = "Status"
LIST_COLUMNS = (
    COL_CLAIM,
    COL_INVOICE,
    COL_PO,
    COL_LOCATION,
    COL_REASON,
    COL_AMOUNT,
    COL_DATE,
    COL_STATUS,
)
LINE_COLUMNS = ("Item", "Description", "Quantity", "Unit Cost", "Amount")
DOC_COLUMNS = ("Document Type", "File Name")

# packet.reason (records.schemas.DisputeReason) -> MegaMart's "Dispute reason" option.
REASON_OPTIONS: dict[str, str] = {
    "proof_of_delivery": "Proof of delivery attached",
    "allowance_not_owed": "Allowance not owed",
    "pricing_per_agreement": "Pricing per agreement",
    "duplicate_deduction": "Duplicate deduction",
    "compliance_met": "Other",  # MegaMart has no compliance reason; the comment says why
    "other": "Other",
}

# MegaMart's dispute status labels -> records.schemas.DisputeStatus.
STATUS_BY_LABEL: dict[str, DisputeStatus] = {
    "draft": DisputeStatus.draft,
    "megamart research": DisputeStatus.research,
    "supplier action": DisputeStatus.supplier_action,
    "approved": DisputeStatus.approved,
    "partially approved": DisputeStatus.partially_approved,
    "denied": DisputeStatus.denied,
    "expired": DisputeStatus.expired,
}

# The claim page's "Document Type" -> records.schemas.LinkRole value.
DOC_ROLES: dict[str, str] = {
    "claim backup": "backup",
    "deal sheet": "deal_sheet",
    "line detail": "line_detail",
    "remittance detail": "remittance",
    "proof of delivery": "pod",
    "bill of lading": "bol",
}

_PAGER = re.compile(r"Page\s+(\d+)\s+of\s+(\d+)", re.I)
_DISPUTE_LINE = re.compile(r"Dispute\s+(?P<number>[A-Za-z0-9-]{1,40})\s*:\s*(?P<label>.+)", re.S)
_DISPUTE_H1 = re.compile(r"^Dispute\s+(?P<number>[A-Za-z0-9-]{1,40})$")
_SUBMITTED_H1 = re.compile(r"^Dispute\s+(?P<number>[A-Za-z0-9-]{1,40})\s+submitted$")
_DOC_PATH = re.compile(r"^/deductions/[^/]+/documents/(?P<doc>[^/?#]+)$")

# dt -> dd pairs of a description list.
_DL_JS = """dl => { const out = {}; let key = null;
    for (const n of dl.querySelectorAll('dt,dd')) {
        if (n.tagName === 'DT') { key = (n.innerText || '').trim(); }
        else if (key !== null) { out[key] = (n.innerText || '').trim(); key = null; }
    }
    return out; }"""


# Everything a claim page shows, in one round trip. Sections are found by the text
# of the heading that labels them (aria-labelledby), tables by their aria-label
# (read as the toolkit's TABLE_CELLS_JS reads any table), the dispute button by its
# text: what a person reads, never ids or classes.
_CLAIM_JS = (
    """main => {
    const text = n => (n && (n.innerText || '').trim()) || '';
    const cellsOf = """
    + TABLE_CELLS_JS
    + """;
    const sections = {};
    for (const s of main.querySelectorAll('section[aria-labelledby]')) {
        const name = s.getAttribute('aria-labelledby').split(/\\s+/)
            .map(i => text(document.getElementById(i))).join(' ').trim();
        if (name && !(name in sections)) sections[name] = s;
    }
    const pairs = dl => { const out = {}; let key = null;
        for (const n of dl.querySelectorAll('dt,dd')) {
            if (n.tagName === 'DT') { key = text(n); }
            else if (key !== null) { out[key] = text(n); key = null; }
        }
        return out; };
    const table = label => {
        const t = Array.from(main.querySelectorAll('table'))
            .find(t => (t.getAttribute('aria-label') || '').trim() === label);
        return t ? cellsOf(t) : null;
    };
    const details = sections['Claim details'];
    const dl = details ? details.querySelector('dl') : null;
    const disp = sections['Dispute'];
    let disputeText = null;
    if (disp) {
        const copy = disp.cloneNode(true);
        const h = copy.querySelector('h1,h2,h3,h4');
        if (h) h.remove();
        disputeText = (copy.textContent || '').replace(/\\s+/g, ' ').trim();
    }
    return {
        fields: dl ? pairs(dl) : null,
        lines: table('Line items'),
        documents: table('Documents'),
        dispute_text: disputeText,
        can_create: disp ? Array.from(disp.querySelectorAll('button'))
            .some(b => text(b) === 'Create dispute') : false,
    };
}"""
)

_CLAIM_PAGE_JS = (
    """() => {
    const shown = e => e.getClientRects().length > 0
        && getComputedStyle(e).visibility !== 'hidden' && !e.closest('[aria-hidden=true]');
    const headings = Array.from(document.querySelectorAll('h1,h2,h3,h4,h5,h6,[role=heading]'))
        .filter(shown).slice(0, 50).map(h => [
            (h.innerText || '').trim().slice(0, 500),
            h.hasAttribute('aria-label') || h.hasAttribute('aria-labelledby')]);
    const mains = Array.from(document.querySelectorAll('main,[role]'))
        .filter(m => (m.getAttribute('role') || (m.tagName === 'MAIN' ? 'main' : '')) === 'main');
    const one = mains.length === 1 && shown(mains[0]) ? mains[0] : null;
    return {headings, claim: one ? ("""
    + _CLAIM_JS
    + """)(one) : null};
}"""
)
"""The whole claim page in one call: its visible headings (text, and whether an
ARIA label names it instead) and, when it has exactly one main region, what
``_CLAIM_JS`` reads there. One evaluate instead of a heading wait, a count
and an evaluate through role locators, which make the renderer compute roles
and names across the page: on a claim page that was a third of the browser's
CPU. Anything but the plain claim page falls back to the locators
(``MegamartAdapter._claim_page``), so errors are told apart as before."""


def _plain_claim_page(found: object, claim: str) -> dict[str, Any] | None:
    """What ``_CLAIM_PAGE_JS`` read, when the page is plainly this claim's: the
    first heading naming the claim, the not-found page or the sign-in page (as
    ``expect_heading`` picks it) reads exactly "Claim {claim}", and one main
    region was read. None: let the locators look (and say what is wrong)."""
    if not isinstance(found, dict) or not isinstance(found.get("claim"), dict):
        return None
    read = found["claim"]
    if not isinstance(read.get("fields"), dict) or not isinstance(read.get("dispute_text"), str):
        return None  # not all there (yet): the locators wait for it, or say what is missing
    names = [f"Claim {claim}".lower(), NOT_FOUND_HEADING.lower(), LOGIN_HEADING.lower()]
    for text, labelled in found.get("headings") or []:
        if labelled or not isinstance(text, str):
            return None  # its accessible name is not its text: the locators know
        if any(n in " ".join(text.split()).lower() for n in names):
            return read if clean_text(text) == f"Claim {claim}" else None
    return None


@dataclass
class _Claim:
    """What a claim page shows, as strings (parsed later, so nothing is lost)."""

    claim: str
    fields: dict[str, str]
    lines: list[dict[str, str]]
    documents: list[Row]
    dispute: tuple[str, str] | None  # (number, status label)
    can_create_dispute: bool
    raw_lines: list[list[str]] = field(default_factory=list)


_CLAIM_CACHE = "megamart.claims_read"


def _claims_read(session: AdapterSession) -> dict[str, _Claim]:
    """The claim pages this job's listing read (``session.notes`` is untyped scratch)."""
    cache = session.notes.get(_CLAIM_CACHE)
    if not isinstance(cache, dict):
        cache = session.notes[_CLAIM_CACHE] = {}
    return cache


"""session.notes key: claim pages read by the listing, used once by list_documents."""


_LANDED = "megamart.landed_on_list"
"""session.notes key: the URL of the unfiltered first list page the sign-in (or
the signed-in check) left the page on, not yet read by a listing."""


def _landed_on_list(session: AdapterSession, page: Page) -> None:
    """Remember that the page shows the unfiltered list's first page now: the
    portal lands there after the sign-in and the signed-in check loads it, so
    a full listing right after can read it instead of loading it again."""
    parts = urlsplit(page.url)
    if parts.path == LIST_PATH and not parts.query and same_origin(page.url, session.base_url):
        session.notes[_LANDED] = page.url


def _list_shown(session: AdapterSession) -> Page | None:
    """The page, if it still shows what ``_landed_on_list`` saw (used once:
    a second listing, or a retry, loads the list afresh). The caller checks
    its heading and pager as for a page it loaded."""
    landed = session.notes.pop(_LANDED, None)
    page = session.page
    if landed is None or page is None or page.is_closed() or page.url != landed:
        return None
    return page


def _claim_path(claim: str) -> str:
    return f"/deductions/{quote(claim, safe='')}"


def _normalize_status(label: str, *, step: str) -> DisputeStatus:
    status = STATUS_BY_LABEL.get(clean_text(label).casefold())
    if status is None:
        raise LayoutChanged(
            f"unknown dispute status label {clean_text(label)[:60]!r}", portal=PORTAL, step=step
        )
    return status


class MegamartAdapter(RetailerAdapter):
    """Stateless: every method starts from a known URL and may be called again."""

    portal: ClassVar[str] = PORTAL

    # ------------------------------------------------------------------ sign-in

    async def login(self, session: AdapterSession) -> None:
        """Password, then the authenticator code; exactly one attempt of each.

        Raises BadCredentials (wrong password, locked account), MfaFailed (no
        TOTP secret, or the code refused), LayoutChanged, PortalUnavailable,
        RateLimited.
        """
        step = "login"
        creds = session.credentials
        page = await goto(session, LOGIN_PATH, step=step)
        heading = await heading_text(page, portal=PORTAL, step=step)
        if heading == LIST_HEADING:  # the context's cookies are still signed in
            _landed_on_list(session, page)
            session.logged_in = True
            return
        if heading != LOGIN_HEADING:
            raise LayoutChanged(
                f"expected the sign-in page, saw {await describe_page(page)}",
                portal=PORTAL,
                step=step,
            )
        async with playwright_errors(PORTAL, step):
            await page.get_by_label("User ID", exact=True).fill(creds.username)
            await fill_secret(page.get_by_label("Password", exact=True), creds.password)
        await submit_form(session, page, "Sign in", step)
        heading = await heading_text(page, portal=PORTAL, step=step)
        if heading == LOGIN_HEADING:
            alert = await alert_text(page, portal=PORTAL, step=step)
            if alert:
                raise BadCredentials(
                    f"the portal refused the sign-in: {alert}", portal=PORTAL, step=step
                )
            # back on the sign-in page with no complaint: the pre-auth session ended
            raise SessionExpired(
                "the sign-in page came back after the password", portal=PORTAL, step=step
            )
        if heading != MFA_HEADING:
            raise LayoutChanged(
                f"expected two-step verification after the password, saw "
                f"{await describe_page(page)}",
                portal=PORTAL,
                step=step,
            )
        await self._verify_code(session, page)
        _landed_on_list(session, page)
        session.logged_in = True

    async def _verify_code(self, session: AdapterSession, page: Page) -> None:
        step = "mfa"
        await submit_code(session, page, label="Authenticator code", button="Verify", step=step)
        heading = await heading_text(page, portal=PORTAL, step=step)
        if heading == LIST_HEADING:
            return
        alert = await alert_text(page, portal=PORTAL, step=step)
        if heading == MFA_HEADING:
            raise MfaFailed(
                f"the portal refused the authenticator code: {alert}", portal=PORTAL, step=step
            )
        if heading == LOGIN_HEADING and "locked" in alert.casefold():
            raise BadCredentials(f"the account is locked: {alert}", portal=PORTAL, step=step)
        if heading == LOGIN_HEADING and not alert:
            raise SessionExpired(
                "the sign-in page came back at the code step", portal=PORTAL, step=step
            )
        if heading == LOGIN_HEADING:
            raise MfaFailed(
                f"the portal ended the sign-in at the code step: {alert}", portal=PORTAL, step=step
            )
        raise LayoutChanged(
            f"expected the deductions list after verification, saw {await describe_page(page)}",
            portal=PORTAL,
            step=step,
        )

    async def is_logged_in(self, session: AdapterSession) -> bool:
        if not await shows_page(session, LIST_PATH, LIST_HEADING, login_heading=LOGIN_HEADING):
            return False
        _landed_on_list(session, await session.main_page())
        return True

    # ------------------------------------------------------------------ listing

    async def list_deductions(
        self, session: AdapterSession, since: date | None = None
    ) -> AsyncIterator[DeductionRecord | RecordInvalid]:
        """Deductions posted on or after ``since`` (all when None), newest posting first.

        Reads one list page per 20 rows and one claim page per deduction (for
        the fields the list lacks and the posted date ``since`` is about), as
        many claim pages at once as the login has pages (``session.lanes``).
        Yields RecordInvalid for a claim that cannot be read (its page missing
        or about another claim, a value that does not parse) and keeps going.
        """
        step = "list_deductions"
        rules = portal_rules(PORTAL)
        filters: dict[str, str] = {}
        if since is not None:
            filters["date_from"] = (since - timedelta(days=POSTING_LAG_DAYS)).strftime("%m/%d/%Y")
        seen: set[str] = set()
        number = 1
        read = partial(self._claim_page, step=step)
        while number <= MAX_PAGES:
            rows, pages = await self._list_page(session, filters, number, step=step)
            wanted: list[tuple[dict[str, str], str]] = []
            for row in rows:
                claim = clean_text(row.get(COL_CLAIM, ""), max_length=128)
                if not claim:
                    yield RecordInvalid(
                        "a deduction row without a claim number",
                        raw={"list_row": row},
                        field=COL_CLAIM,
                        portal=PORTAL,
                        step=step,
                    )
                    continue
                if claim in seen:  # a posting moved rows between pages
                    continue
                seen.add(claim)
                if claim in session.listed:  # stored before a retry: do not read it again
                    continue
                wanted.append((row, claim))
            # the claim pages a few at a time, one per page of the login (lanes):
            # past ``since`` at most a few pages more are read than one at a time would
            width = len(session.lanes())
            for start in range(0, len(wanted), width):
                chunk = wanted[start : start + width]
                details = await side_by_side(session, [claim for _, claim in chunk], read)
                for (row, claim), detail in zip(chunk, details, strict=True):
                    if isinstance(detail, RecordInvalid):
                        detail.raw = {"list_row": row, **detail.raw}
                        yield detail
                        continue
                    item = self._record(session, row, detail, rules, step=step)
                    if isinstance(item, DeductionRecord):
                        _claims_read(session)[claim] = detail
                    if (
                        since is not None
                        and isinstance(item, DeductionRecord)
                        and item.posted_date is not None
                        and item.posted_date < since
                    ):
                        return  # newest posting first: everything after is older still
                    yield item
            if number >= pages:
                return
            number += 1
        raise LayoutChanged(f"more than {MAX_PAGES} list pages", portal=PORTAL, step=step)

    async def _list_page(
        self, session: AdapterSession, filters: dict[str, str], number: int, *, step: str
    ) -> tuple[list[dict[str, str]], int]:
        query = urlencode({**filters, "page": str(number)} if number > 1 else filters)
        page = _list_shown(session) if not query else None
        if page is None:
            page = await goto(session, LIST_PATH + (f"?{query}" if query else ""), step=step)
        await expect_heading(
            page, [LIST_HEADING], portal=PORTAL, step=step, login_heading=LOGIN_HEADING
        )
        alert = await alert_text(page, portal=PORTAL, step=step)
        if alert:
            raise LayoutChanged(
                f"the deductions search refused its filters: {alert}", portal=PORTAL, step=step
            )
        async with playwright_errors(PORTAL, step):
            pager = page.get_by_role("navigation", name="Pagination")
            pager_text = await pager.inner_text() if await pager.count() else ""
            m = _PAGER.search(pager_text)
            if not m:
                raise LayoutChanged("no 'Page X of Y' on the list", portal=PORTAL, step=step)
            shown, pages = int(m.group(1)), int(m.group(2))
            if shown != number:
                raise LayoutChanged(
                    f"asked for list page {number}, the portal shows page {shown} of {pages}",
                    portal=PORTAL,
                    step=step,
                )
            table = page.get_by_role("table", name="Deductions", exact=True)
            if await table.count() == 0:
                if await page.get_by_text(EMPTY_LIST_TEXT).count():
                    return [], pages
                raise LayoutChanged(
                    "the list page has neither a Deductions table nor the no-results text",
                    portal=PORTAL,
                    step=step,
                )
        rows = await read_table(
            table.first, LIST_COLUMNS, portal=PORTAL, what="Deductions", step=step
        )
        return [r.cells for r in rows], pages

    def _record(
        self,
        session: AdapterSession,
        row: dict[str, str],
        detail: _Claim,
        rules: Any,
        *,
        step: str,
    ) -> DeductionRecord | RecordInvalid:
        """One record from the list row and the claim page; RecordInvalid if unreadable."""
        f = detail.fields
        raw: dict[str, Any] = {"list_row": row, "detail": f, "line_items": detail.raw_lines}
        claim = detail.claim

        def opt(label: str) -> str:
            return clean_text(f.get(label, ""))

        def day(label: str, text: str) -> date | None:
            return read_field(label, rules.date, text) if clean_text(text) else None

        try:
            code = clean_text(row[COL_REASON], max_length=20)
            reason_text = opt("Reason")
            amount_text = row[COL_AMOUNT]
            lines = [
                DeductionLineRecord(
                    sku=clean_text(line["Item"]),
                    description=clean_text(line["Description"]),
                    quantity=read_field(
                        f"line {i} Quantity",
                        lambda t: int(t.replace(",", "").strip() or 0),
                        line["Quantity"],
                    ),
                    unit_cost=read_field(f"line {i} Unit Cost", rules.amount, line["Unit Cost"])
                    if line["Unit Cost"]
                    else None,
                    amount=read_field(f"line {i} Amount", rules.amount, line["Amount"]),
                )
                for i, line in enumerate(detail.lines, start=1)
            ]
            record = DeductionRecord(
                portal=PORTAL,
                external_id=claim,
                account=session.account,
                invoice_number=clean_text(row[COL_INVOICE]),
                po_number=clean_text(row[COL_PO]),
                location=normalize_location(row[COL_LOCATION]),
                amount=read_field(COL_AMOUNT, rules.amount, amount_text),
                currency=read_field(COL_AMOUNT, parse_currency, amount_text),
                reason_code=code,
                reason_text=reason_text,
                category=rules.category(code, reason_text) if code or reason_text else None,
                deduction_date=read_field(COL_DATE, rules.date, row[COL_DATE]),
                invoice_date=day("Invoice Date", f.get("Invoice Date", "")),
                posted_date=day("Posted Date", f.get("Posted Date", "")),
                status=clean_text(row[COL_STATUS]),
                carrier=opt("Carrier") or None,
                pro_number=opt("PRO Number") or None,
                bol_number=opt("BOL Number") or None,
                memo=clean_text(f.get("Memo", ""), max_length=20_000),
                lines=lines,
                raw=raw,
            )
        except (NormalizationError, ValidationError, FieldError, ValueError, KeyError) as exc:
            return record_invalid(
                exc,
                raw=raw,
                external_id=claim,
                portal=PORTAL,
                step=step,
                what=f"claim {claim} could not be read",
            )
        if record.posted_date is None:
            return RecordInvalid(
                f"claim {claim} shows no posted date",
                raw=raw,
                external_id=claim,
                field="Posted Date",
                portal=PORTAL,
                step=step,
            )
        return record

    # ------------------------------------------------------------------ claim page

    async def _claim_page(self, session: AdapterSession, claim: str, *, step: str) -> _Claim:
        """Read a claim page.

        RecordInvalid when the portal does not show this claim (HTTP 404,
        "Claim not found") or shows another one; LayoutChanged when the page
        is not a claim page at all.
        """
        try:
            page = await goto(session, _claim_path(claim), step=step)
        except PageNotFound:
            raise record_unreadable(
                claim, "its page answers HTTP 404", portal=PORTAL, step=step
            ) from None
        async with playwright_errors(PORTAL, step):
            plain = _plain_claim_page(await page.evaluate(_CLAIM_PAGE_JS), claim)
        found = plain if plain is not None else await self._claim_by_locators(page, claim, step)
        return self._claim_of(found, claim, step)

    async def _claim_by_locators(self, page: Page, claim: str, step: str) -> dict[str, Any]:
        """The claim page read through role locators, each check with its own
        error: the way for any page ``_plain_claim_page`` did not accept."""
        heading = await expect_heading(
            page,
            [f"Claim {claim}", NOT_FOUND_HEADING],
            portal=PORTAL,
            step=step,
            login_heading=LOGIN_HEADING,
        )
        check_record_heading(
            heading,
            expected=f"Claim {claim}",
            not_found=NOT_FOUND_HEADING,
            external_id=claim,
            portal=PORTAL,
            step=step,
        )
        async with playwright_errors(PORTAL, step):
            main = page.get_by_role("main")
            if await main.count() != 1:
                raise LayoutChanged("the claim page has no main region", portal=PORTAL, step=step)
            found: dict[str, Any] = await main.evaluate(_CLAIM_JS)
        return found

    def _claim_of(self, found: dict[str, Any], claim: str, step: str) -> _Claim:
        """The claim from what ``_CLAIM_JS`` read (LayoutChanged, or this
        claim's RecordInvalid, when it is not a whole claim page)."""
        fields = found.get("fields")
        if not isinstance(fields, dict):
            raise LayoutChanged("the claim page has no Claim details", portal=PORTAL, step=step)
        lines_raw: list[list[list[Any]]] = found.get("lines") or []
        docs_raw: list[list[list[Any]]] = found.get("documents") or []
        dispute_text = found.get("dispute_text")
        can_create = bool(found.get("can_create"))
        if not isinstance(dispute_text, str):
            raise LayoutChanged("the claim page has no Dispute section", portal=PORTAL, step=step)
        shown = clean_text(fields.get("Claim Number", ""), max_length=128)
        if shown != claim:
            raise record_unreadable(
                claim,
                f"its details name claim {shown[:60]!r}",
                portal=PORTAL,
                step=step,
                field="Claim Number",
            )
        m = _DISPUTE_LINE.search(dispute_text)
        dispute = (m.group("number"), clean_text(m.group("label"))) if m else None
        if dispute is None and not can_create:
            raise LayoutChanged(
                "the Dispute section shows neither a dispute nor 'Create dispute'",
                portal=PORTAL,
                step=step,
            )
        lines = (
            rows_by_header(lines_raw, LINE_COLUMNS, portal=PORTAL, what="Line items", step=step)
            if lines_raw
            else []
        )
        documents = (
            rows_by_header(docs_raw, DOC_COLUMNS, portal=PORTAL, what="Documents", step=step)
            if docs_raw
            else []
        )
        return _Claim(
            claim=claim,
            fields=fields,
            lines=[r.cells for r in lines],
            documents=documents,
            dispute=dispute,
            can_create_dispute=can_create,
            raw_lines=[[str(c[0])[:2000] for c in r] for r in lines_raw[1:]],
        )

    # ------------------------------------------------------------------ documents

    async def list_documents(self, session: AdapterSession, external_id: str) -> list[DocumentRef]:
        """The claim page's "Documents" rows (empty while "Backup not yet available").

        Raises RecordInvalid when the claim's page is missing or about another claim.
        """
        step = "list_documents"
        # the listing read this claim page moments ago in the same job: use that read
        # once (a later call reads the page again, since documents arrive over time)
        cache = _claims_read(session)
        detail = cache.pop(external_id, None) or await self._claim_page(
            session, external_id, step=step
        )
        page_url = session.url(_claim_path(external_id))
        refs: list[DocumentRef] = []
        for row in detail.documents:
            href = next(iter(row.links.values()), "")
            path = urlsplit(portal_url(session, href, step=step, base=page_url)).path
            m = _DOC_PATH.match(path)
            if m is None:
                raise LayoutChanged(
                    f"a document row of claim {external_id} has no download link "
                    f"({unquote(path)[:80]!r})",
                    portal=PORTAL,
                    step=step,
                )
            label = clean_text(row.cells["Document Type"]).casefold()
            refs.append(
                DocumentRef(
                    ref=unquote(m.group("doc")),
                    role=DOC_ROLES.get(label, "backup"),
                    filename=clean_text(row.cells["File Name"]),
                )
            )
        return refs

    async def download_document(
        self, session: AdapterSession, external_id: str, doc: DocumentRef
    ) -> list[FetchedDocument]:
        """One GET through the context's request API; the bytes must be what they claim
        (a document that is not is its RecordInvalid, ``kind="document"``)."""
        step = "download_document"
        url = f"{_claim_path(external_id)}/documents/{quote(doc.ref, safe='')}"
        reply = await fetch_bytes(
            session, url, step=step, expect=("pdf", "zip", "text"), ref=doc.ref
        )
        return [
            fetched_document(reply, role=doc.role, ref=doc.ref, filename=doc.filename or doc.ref)
        ]

    # ------------------------------------------------------------------ disputes

    async def file_dispute(self, session: AdapterSession, packet: DisputePacket) -> DisputeReceipt:
        """File once: a dispute the claim page already shows is returned, not filed again.

        A submitted dispute comes back as ``already_filed``; a draft (an earlier
        attempt that stopped after "Create dispute") is completed. MegaMart
        disputes the whole claim amount; a smaller ``packet.amount`` is stated
        in the comments. Raises DisputeRejected with the portal's words (or
        when the claim's page is missing or about another claim).
        """
        step = "file_dispute"
        claim = packet.deduction_external_id
        option = packet.portal_reason or REASON_OPTIONS.get(packet.reason)
        if option is None:
            raise DisputeRejected(
                f"dispute reason {packet.reason!r} has no MegaMart equivalent",
                portal=PORTAL,
                step=step,
            )
        try:
            detail = await self._claim_page(session, claim, step=step)
        except RecordInvalid as exc:
            raise DisputeRejected(str(exc.args[0]), portal=PORTAL, step=step) from None
        page = await session.main_page()
        if detail.dispute is not None:
            number, label = detail.dispute
            status = _normalize_status(label, step=step)
            if status != "draft":
                return DisputeReceipt(number, status, already_filed=True)
            page = await goto(session, f"/disputes/{quote(number, safe='')}", step=step)
        else:
            button = page.get_by_role("region", name="Dispute", exact=True).get_by_role(
                "button", name="Create dispute", exact=True
            )
            await submit_form(session, page, button, step)
            heading = await heading_text(page, portal=PORTAL, step=step)
            created = _DISPUTE_H1.match(heading)
            if created is None:
                await self._refused(page, heading, step=step)
            number = created.group("number")
        return await self._complete_draft(session, page, number, option, packet, detail)

    async def _complete_draft(
        self,
        session: AdapterSession,
        page: Page,
        number: str,
        option: str,
        packet: DisputePacket,
        detail: _Claim,
    ) -> DisputeReceipt:
        step = "file_dispute"
        await _expect_dispute_page(page, number, step=step)
        async with playwright_errors(PORTAL, step):
            facts = await self._facts(page)
            status = _normalize_status(facts.get("Status", ""), step=step)
            if status != "draft":  # submitted meanwhile (by a person, or a lost answer)
                return DisputeReceipt(number, status, already_filed=True)
            select = page.get_by_label("Dispute reason", exact=True)
            options = [o.strip() for o in await select.locator("option").all_inner_texts()]
            if option not in options:
                raise LayoutChanged(
                    f"the dispute reasons no longer offer {option!r}", portal=PORTAL, step=step
                )
            comments = page.get_by_label("Comments", exact=True)
            comment = _comment(packet, detail)
            limit = await comments.get_attribute("maxlength")
            if limit and limit.isdigit() and len(comment) > int(limit):
                raise DisputeRejected(
                    f"the explanation has {len(comment)} characters; MegaMart takes {limit}",
                    portal=PORTAL,
                    step=step,
                )
            attached = {
                t.rsplit(" (", 1)[0].strip()
                for t in await page.get_by_role("listitem").all_inner_texts()
            }
            files = [
                upload_file(name, data, i)
                for i, (name, data) in enumerate(packet.attachments, start=1)
                if upload_name(name, i) not in attached
            ]
            await select.select_option(label=option)
            await comments.fill(comment)
            if files:
                await page.get_by_label("Attachments", exact=True).set_input_files(files)
        await submit_form(session, page, "Submit dispute", step)
        heading = await heading_text(page, portal=PORTAL, step=step)
        m = _SUBMITTED_H1.match(heading)
        if m is None or m.group("number") != number:
            await self._refused(page, heading, step=step)
        async with playwright_errors(PORTAL, step):
            facts = await self._facts(page)
        return DisputeReceipt(number, _normalize_status(facts.get("Status", ""), step=step))

    async def dispute_status(
        self, session: AdapterSession, external_id: str
    ) -> DisputeStatusReport | None:
        """The claim page's "Dispute MDxxxxxxx: <status>" line, or None when it offers
        "Create dispute". RecordInvalid when the claim's page is missing or about
        another claim."""
        step = "dispute_status"
        detail = await self._claim_page(session, external_id, step=step)
        if detail.dispute is None:
            return None
        number, label = detail.dispute
        status = _normalize_status(label, step=step)
        approved = None
        if status in (DisputeStatus.approved, DisputeStatus.partially_approved):
            approved = await self._approved_amount(session, number, step=step)
        return DisputeStatusReport(number, status, label, approved_amount=approved)

    async def _approved_amount(
        self, session: AdapterSession, number: str, *, step: str
    ) -> Decimal | None:
        """The dispute page's "Approved Amount" (one more page, only once decided)."""
        page = await goto(session, f"/disputes/{quote(number, safe='')}", step=step)
        await _expect_dispute_page(page, number, step=step)
        async with playwright_errors(PORTAL, step):
            raw = (await self._facts(page)).get("Approved Amount", "")
        return optional_amount(PORTAL, raw)

    # ------------------------------------------------------------------ appeals

    async def file_appeal(
        self, session: AdapterSession, packet: DisputePacket, dispute_number: str
    ) -> DisputeReceipt:
        """The denied dispute's page offers "Appeal" once: comments and PDFs.

        Looks first: a page that already shows an "Appeal Number" returns that
        appeal as ``already_filed`` (an earlier attempt whose answer was lost).
        The portal's refusal (not denied, window closed, already appealed) is
        DisputeRejected with its words."""
        step = "file_appeal"
        page = await goto(session, f"/disputes/{quote(dispute_number, safe='')}", step=step)
        await _expect_dispute_page(page, dispute_number, step=step)
        async with playwright_errors(PORTAL, step):
            facts = await self._facts(page)
        if facts.get("Appeal Number"):
            status = _normalize_status(facts.get("Appeal Status", ""), step=step)
            return DisputeReceipt(facts["Appeal Number"], status, already_filed=True)
        async with playwright_errors(PORTAL, step):
            form = page.get_by_role("region", name="Appeal", exact=True)
            if await form.count() == 0:
                raise DisputeRejected(
                    f"MegaMart offers no appeal on dispute {dispute_number} "
                    f"(its status: {clean_text(facts.get('Status', ''))[:60] or 'unknown'})",
                    portal=PORTAL,
                    step=step,
                )
            comments = form.get_by_label("Appeal comments", exact=True)
            text = packet.explanation.strip()
            limit = await comments.get_attribute("maxlength")
            if limit and limit.isdigit() and len(text) > int(limit):
                raise DisputeRejected(
                    f"the appeal text has {len(text)} characters; MegaMart takes {limit}",
                    portal=PORTAL,
                    step=step,
                )
            await comments.fill(text)
            files = [
                upload_file(name, data, i)
                for i, (name, data) in enumerate(packet.attachments, start=1)
            ]
            if files:
                await form.get_by_label("Appeal attachments", exact=True).set_input_files(files)
            button = form.get_by_role("button", name="Submit appeal", exact=True)
        await submit_form(session, page, button, step)
        await _expect_dispute_page(page, dispute_number, step=step)
        async with playwright_errors(PORTAL, step):
            facts = await self._facts(page)
        if not facts.get("Appeal Number"):
            heading = await heading_text(page, portal=PORTAL, step=step)
            await self._refused(page, heading, step=step)
        status = _normalize_status(facts.get("Appeal Status", ""), step=step)
        return DisputeReceipt(facts["Appeal Number"], status)

    async def appeal_status(
        self, session: AdapterSession, dispute_number: str
    ) -> DisputeStatusReport | None:
        """The dispute page's "Appeal Status" (and "Appeal Approved Amount" once
        decided), or None when the dispute was never appealed."""
        step = "appeal_status"
        page = await goto(session, f"/disputes/{quote(dispute_number, safe='')}", step=step)
        await _expect_dispute_page(page, dispute_number, step=step)
        async with playwright_errors(PORTAL, step):
            facts = await self._facts(page)
        number = facts.get("Appeal Number", "")
        if not number:
            return None
        label = facts.get("Appeal Status", "")
        status = _normalize_status(label, step=step)
        approved = optional_amount(PORTAL, facts.get("Appeal Approved Amount", ""))
        return DisputeStatusReport(number, status, label, approved_amount=approved)

    # ------------------------------------------------------------------ plumbing

    async def _facts(self, page: Page) -> dict[str, str]:
        dl = page.get_by_role("main").locator("dl")
        if await dl.count() == 0:
            return {}
        return dict(await dl.first.evaluate(_DL_JS))

    async def _refused(self, page: Page, heading: str, *, step: str) -> NoReturn:
        """After a dispute form post that did not advance: the portal's reason, or why not."""
        if heading == LOGIN_HEADING:
            raise SessionExpired("the portal showed its sign-in page", portal=PORTAL, step=step)
        alert = await alert_text(page, portal=PORTAL, step=step)
        if alert:
            raise DisputeRejected(alert, portal=PORTAL, step=step)
        raise LayoutChanged(
            f"the dispute form led to {await describe_page(page)}", portal=PORTAL, step=step
        )


async def _expect_dispute_page(page: Page, number: str, *, step: str) -> None:
    """The page is dispute ``number``'s; the sign-in page instead is SessionExpired."""
    heading = await heading_text(page, portal=PORTAL, step=step)
    if heading == LOGIN_HEADING:
        raise SessionExpired("the portal showed its sign-in page", portal=PORTAL, step=step)
    if heading != f"Dispute {number}":
        raise LayoutChanged(
            f"expected the page of dispute {number}, saw {await describe_page(page)}",
            portal=PORTAL,
            step=step,
        )


def _comment(packet: DisputePacket, detail: _Claim) -> str:
    text = packet.explanation.strip()
    claim_amount = detail.fields.get("Amount", "")
    try:
        current = portal_rules(PORTAL).amount(claim_amount) if claim_amount else None
    except NormalizationError:
        current = None
    if current is not None and Decimal(packet.amount) < current:
        text += f"\n\nDisputed amount: ${packet.amount:,.2f} of the claim's {claim_amount}."
    return text


__all__ = ["MegamartAdapter"]
