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

Requests (what the portal serves): a full listing is one list page per 20
deductions plus one claim page per deduction; each document is one GET;
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
from typing import Any, ClassVar, NoReturn
from urllib.parse import quote, unquote, urlencode, urlsplit

from playwright.async_api import Locator, Page
from pydantic import ValidationError

from credentials.totp import InvalidTotpSecretError, totp_code
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
from portal_adapters.web import (
    check_response,
    describe_page,
    expect_heading,
    fetch_bytes,
    filename_from_disposition,
    goto,
    playwright_errors,
    sniff_kind,
)
from records.normalize import (
    NormalizationError,
    clean_text,
    normalize_location,
    parse_currency,
    portal_rules,
)
from records.schemas import DeductionLineRecord, DeductionRecord

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

NAV_TIMEOUT_MS = 30_000
PAGE_TIMEOUT_MS = 10_000
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

# packet.reason (DISPUTE_REASONS) -> MegaMart's "Dispute reason" option.
REASON_OPTIONS: dict[str, str] = {
    "proof_of_delivery": "Proof of delivery attached",
    "allowance_not_owed": "Allowance not owed",
    "pricing_per_agreement": "Pricing per agreement",
    "duplicate_deduction": "Duplicate deduction",
    "compliance_met": "Other",  # MegaMart has no compliance reason; the comment says why
    "other": "Other",
}

# MegaMart's dispute status labels -> DISPUTE_STATUSES.
STATUS_BY_LABEL: dict[str, str] = {
    "draft": "draft",
    "megamart research": "research",
    "supplier action": "supplier_action",
    "approved": "approved",
    "partially approved": "partially_approved",
    "denied": "denied",
    "expired": "expired",
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

# Cell texts of a table (header row first) and each row's first link target.
_TABLE_JS = """t => Array.from(t.querySelectorAll('tr')).map(r => ({
    cells: Array.from(r.querySelectorAll('th,td')).map(c => (c.innerText || '').trim()),
    href: (r.querySelector('a[href]') || {}).href || ''
}))"""
# dt -> dd pairs of a description list.
_DL_JS = """dl => { const out = {}; let key = null;
    for (const n of dl.querySelectorAll('dt,dd')) {
        if (n.tagName === 'DT') { key = (n.innerText || '').trim(); }
        else if (key !== null) { out[key] = (n.innerText || '').trim(); key = null; }
    }
    return out; }"""


# Everything a claim page shows, in one round trip. Sections are found by the text
# of the heading that labels them (aria-labelledby), tables by their aria-label,
# the dispute button by its text: what a person reads, never ids or classes.
_CLAIM_JS = """main => {
    const text = n => (n && (n.innerText || '').trim()) || '';
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
        return t ? Array.from(t.querySelectorAll('tr')).map(r => ({
            cells: Array.from(r.querySelectorAll('th,td')).map(text),
            href: (r.querySelector('a[href]') || {}).href || ''})) : null;
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


@dataclass
class _Claim:
    """What a claim page shows, as strings (parsed later, so nothing is lost)."""

    claim: str
    fields: dict[str, str]
    lines: list[dict[str, str]]
    documents: list[tuple[dict[str, str], str]]  # (row by header, link href)
    dispute: tuple[str, str] | None  # (number, status label)
    can_create_dispute: bool
    raw_lines: list[list[str]] = field(default_factory=list)


_CLAIM_CACHE = "megamart.claims_read"
"""session.notes key: claim pages read by the listing, used once by list_documents."""


class _ClaimNotShown(Exception):
    """The portal answered "Claim not found" for this login (internal signal)."""


def _claim_path(claim: str) -> str:
    return f"/deductions/{quote(claim, safe='')}"


def _normalize_status(label: str, *, step: str) -> str:
    status = STATUS_BY_LABEL.get(clean_text(label).casefold())
    if status is None:
        raise LayoutChanged(
            f"unknown dispute status label {clean_text(label)[:60]!r}", portal=PORTAL, step=step
        )
    return status


def _safe_upload_name(name: str, index: int) -> str:
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip()[:150]
    return base or f"attachment-{index}.pdf"


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
        page = await self._goto(session, LOGIN_PATH, step=step)
        heading = await self._h1(page, step)
        if heading == LIST_HEADING:  # the context's cookies are still signed in
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
            await page.get_by_label("Password", exact=True).fill(creds.password.reveal())
        await self._submit(session, page, page.get_by_role("button", name="Sign in"), step=step)
        heading = await self._h1(page, step)
        if heading == LOGIN_HEADING:
            alert = await self._alert(page, step)
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
        session.logged_in = True

    async def _verify_code(self, session: AdapterSession, page: Page) -> None:
        step = "mfa"
        secret = session.credentials.totp_secret
        if secret is None:
            raise MfaFailed(
                "the portal asks for an authenticator code and no TOTP secret is stored",
                portal=PORTAL,
                step=step,
            )
        try:
            code = totp_code(secret).code
        except InvalidTotpSecretError:
            raise MfaFailed(
                "the stored TOTP secret is not usable", portal=PORTAL, step=step
            ) from None
        async with playwright_errors(PORTAL, step):
            await page.get_by_label("Authenticator code", exact=True).fill(code.reveal())
        await self._submit(session, page, page.get_by_role("button", name="Verify"), step=step)
        heading = await self._h1(page, step)
        if heading == LIST_HEADING:
            return
        alert = await self._alert(page, step)
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
        step = "is_logged_in"
        page = await self._goto(session, LIST_PATH, step=step)
        try:
            await expect_heading(
                page, [LIST_HEADING], portal=PORTAL, step=step, login_heading=LOGIN_HEADING
            )
        except SessionExpired:
            return False
        return True

    # ------------------------------------------------------------------ listing

    async def list_deductions(
        self, session: AdapterSession, since: date | None = None
    ) -> AsyncIterator[DeductionRecord | RecordInvalid]:
        """Deductions posted on or after ``since`` (all when None), newest posting first.

        Reads one list page per 20 rows and one claim page per deduction (for
        the fields the list lacks and the posted date ``since`` is about).
        Yields RecordInvalid for a row that cannot be read and keeps going.
        """
        step = "list_deductions"
        rules = portal_rules(PORTAL)
        filters: dict[str, str] = {}
        if since is not None:
            filters["date_from"] = (since - timedelta(days=POSTING_LAG_DAYS)).strftime("%m/%d/%Y")
        seen: set[str] = set()
        number = 1
        while number <= MAX_PAGES:
            rows, pages = await self._list_page(session, filters, number, step=step)
            for row in rows:
                claim = clean_text(row.get(COL_CLAIM, ""), max_length=128)
                if not claim:
                    yield RecordInvalid(
                        "a deduction row without a claim number",
                        raw={"list_row": row},
                        portal=PORTAL,
                        step=step,
                    )
                    continue
                if claim in seen:  # a posting moved rows between pages
                    continue
                seen.add(claim)
                if claim in session.listed:  # stored before a retry: do not read it again
                    continue
                try:
                    detail = await self._claim_page(session, claim, step=step)
                except _ClaimNotShown:
                    yield RecordInvalid(
                        "the list shows the claim but its page says it was not found",
                        raw={"list_row": row},
                        external_id=claim,
                        portal=PORTAL,
                        step=step,
                    )
                    continue
                item = self._record(session, row, detail, rules, step=step)
                if isinstance(item, DeductionRecord):
                    session.notes.setdefault(_CLAIM_CACHE, {})[claim] = detail  # type: ignore[index]
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
        page = await self._goto(session, LIST_PATH + (f"?{query}" if query else ""), step=step)
        await expect_heading(
            page, [LIST_HEADING], portal=PORTAL, step=step, login_heading=LOGIN_HEADING
        )
        alert = await self._alert(page, step)
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
            raw_rows = await table.first.evaluate(_TABLE_JS)
        return _rows_by_header(raw_rows, LIST_COLUMNS, what="Deductions", step=step), pages

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

        try:
            code = clean_text(row[COL_REASON], max_length=20)
            reason_text = opt("Reason")
            amount_text = row[COL_AMOUNT]
            lines = [
                DeductionLineRecord(
                    sku=clean_text(line["Item"]),
                    description=clean_text(line["Description"]),
                    quantity=int(line["Quantity"].replace(",", "").strip() or 0),
                    unit_cost=rules.amount(line["Unit Cost"]) if line["Unit Cost"] else None,
                    amount=rules.amount(line["Amount"]),
                )
                for line in detail.lines
            ]
            record = DeductionRecord(
                portal=PORTAL,
                external_id=claim,
                account=session.account,
                invoice_number=clean_text(row[COL_INVOICE]),
                po_number=clean_text(row[COL_PO]),
                location=normalize_location(row[COL_LOCATION]),
                amount=rules.amount(amount_text),
                currency=parse_currency(amount_text),
                reason_code=code,
                reason_text=reason_text,
                category=rules.category(code, reason_text) if code or reason_text else None,
                deduction_date=rules.date(row[COL_DATE]),
                invoice_date=rules.date(f["Invoice Date"]) if opt("Invoice Date") else None,
                posted_date=rules.date(f["Posted Date"]) if opt("Posted Date") else None,
                status=clean_text(row[COL_STATUS]),
                carrier=opt("Carrier") or None,
                pro_number=opt("PRO Number") or None,
                bol_number=opt("BOL Number") or None,
                memo=clean_text(f.get("Memo", ""), max_length=20_000),
                lines=lines,
                raw=raw,
            )
        except (NormalizationError, ValidationError, ValueError, KeyError) as exc:
            return RecordInvalid(
                f"claim {claim} could not be read: {_short(exc)}",
                raw=raw,
                external_id=claim,
                portal=PORTAL,
                step=step,
            )
        if record.posted_date is None:
            return RecordInvalid(
                f"claim {claim} shows no posted date",
                raw=raw,
                external_id=claim,
                portal=PORTAL,
                step=step,
            )
        return record

    # ------------------------------------------------------------------ claim page

    async def _claim_page(self, session: AdapterSession, claim: str, *, step: str) -> _Claim:
        """Read a claim page; raises _ClaimNotShown on the portal's "Claim not found"."""
        page = await self._goto(session, _claim_path(claim), step=step)
        heading = await expect_heading(
            page,
            [f"Claim {claim}", NOT_FOUND_HEADING],
            portal=PORTAL,
            step=step,
            login_heading=LOGIN_HEADING,
        )
        if heading == NOT_FOUND_HEADING:
            raise _ClaimNotShown(claim)
        if heading != f"Claim {claim}":
            raise LayoutChanged(
                f"asked for claim {claim}, the page is headed {heading[:60]!r}",
                portal=PORTAL,
                step=step,
            )
        async with playwright_errors(PORTAL, step):
            main = page.get_by_role("main")
            if await main.count() != 1:
                raise LayoutChanged("the claim page has no main region", portal=PORTAL, step=step)
            found: dict[str, Any] = await main.evaluate(_CLAIM_JS)
        fields = found.get("fields")
        if not isinstance(fields, dict):
            raise LayoutChanged("the claim page has no Claim details", portal=PORTAL, step=step)
        lines_raw: list[dict[str, Any]] = found.get("lines") or []
        docs_raw: list[dict[str, Any]] = found.get("documents") or []
        dispute_text = found.get("dispute_text")
        can_create = bool(found.get("can_create"))
        if not isinstance(dispute_text, str):
            raise LayoutChanged("the claim page has no Dispute section", portal=PORTAL, step=step)
        if fields.get("Claim Number", "").strip() != claim:
            raise LayoutChanged(
                f"the details of claim {claim} name another claim", portal=PORTAL, step=step
            )
        m = _DISPUTE_LINE.search(dispute_text)
        dispute = (m.group("number"), clean_text(m.group("label"))) if m else None
        if dispute is None and not can_create:
            raise LayoutChanged(
                "the Dispute section shows neither a dispute nor 'Create dispute'",
                portal=PORTAL,
                step=step,
            )
        lines = _rows_by_header(lines_raw, LINE_COLUMNS, what="Line items", step=step)
        documents: list[tuple[dict[str, str], str]] = []
        if docs_raw:
            by_header = _rows_by_header(docs_raw, DOC_COLUMNS, what="Documents", step=step)
            documents = [
                (row, str(r.get("href", "")))
                for row, r in zip(by_header, docs_raw[1:], strict=True)
            ]
        return _Claim(
            claim=claim,
            fields=fields,
            lines=lines,
            documents=documents,
            dispute=dispute,
            can_create_dispute=can_create,
            raw_lines=[list(r.get("cells", [])) for r in lines_raw[1:]],
        )

    async def _claim_or_fail(self, session: AdapterSession, claim: str, *, step: str) -> _Claim:
        try:
            return await self._claim_page(session, claim, step=step)
        except _ClaimNotShown:
            raise LayoutChanged(
                f"the portal does not show claim {claim} to this login", portal=PORTAL, step=step
            ) from None

    # ------------------------------------------------------------------ documents

    async def list_documents(self, session: AdapterSession, external_id: str) -> list[DocumentRef]:
        """The claim page's "Documents" rows (empty while "Backup not yet available")."""
        step = "list_documents"
        # the listing read this claim page moments ago in the same job: use that read
        # once (a later call reads the page again, since documents arrive over time)
        cache: dict[str, _Claim] = session.notes.setdefault(_CLAIM_CACHE, {})  # type: ignore[assignment]
        detail = cache.pop(external_id, None) or await self._claim_or_fail(
            session, external_id, step=step
        )
        refs: list[DocumentRef] = []
        for row, href in detail.documents:
            path = unquote(urlsplit(href).path) if href else ""
            m = _DOC_PATH.match(urlsplit(href).path) if href else None
            if m is None:
                raise LayoutChanged(
                    f"a document row of claim {external_id} has no download link ({path[:80]!r})",
                    portal=PORTAL,
                    step=step,
                )
            label = clean_text(row["Document Type"]).casefold()
            refs.append(
                DocumentRef(
                    ref=unquote(m.group("doc")),
                    role=DOC_ROLES.get(label, "backup"),
                    filename=clean_text(row["File Name"]),
                )
            )
        return refs

    async def download_document(
        self, session: AdapterSession, external_id: str, doc: DocumentRef
    ) -> list[FetchedDocument]:
        """One GET through the context's request API; the bytes must be what they claim."""
        step = "download_document"
        url = f"{_claim_path(external_id)}/documents/{quote(doc.ref, safe='')}"
        session.requests += 1
        data, headers = await fetch_bytes(session, url, step=step, expect=("pdf", "zip", "text"))
        media_type = (headers.get("content-type") or "").split(";", 1)[0].strip().lower()
        kind = sniff_kind(data)
        if media_type == "application/pdf" and kind != "pdf":
            raise LayoutChanged(
                f"document {doc.ref[:60]!r} is served as a PDF but is {kind}",
                portal=PORTAL,
                step=step,
            )
        filename = filename_from_disposition(
            headers.get("content-disposition"), doc.filename or doc.ref
        )
        return [
            FetchedDocument(
                role=doc.role,
                filename=filename,
                data=data,
                media_type=media_type or "application/octet-stream",
                ref=doc.ref,
            )
        ]

    # ------------------------------------------------------------------ disputes

    async def file_dispute(self, session: AdapterSession, packet: DisputePacket) -> DisputeReceipt:
        """File once: a dispute the claim page already shows is returned, not filed again.

        A submitted dispute comes back as ``already_filed``; a draft (an earlier
        attempt that stopped after "Create dispute") is completed. MegaMart
        disputes the whole claim amount; a smaller ``packet.amount`` is stated
        in the comments. Raises DisputeRejected with the portal's words.
        """
        step = "file_dispute"
        claim = packet.deduction_external_id
        option = REASON_OPTIONS.get(packet.reason)
        if option is None:
            raise DisputeRejected(
                f"dispute reason {packet.reason!r} has no MegaMart equivalent",
                portal=PORTAL,
                step=step,
            )
        try:
            detail = await self._claim_page(session, claim, step=step)
        except _ClaimNotShown:
            raise DisputeRejected(
                f"the portal does not show claim {claim} to this login", portal=PORTAL, step=step
            ) from None
        page = await session.main_page()
        if detail.dispute is not None:
            number, label = detail.dispute
            status = _normalize_status(label, step=step)
            if status != "draft":
                return DisputeReceipt(number, status, already_filed=True)
            page = await self._goto(session, f"/disputes/{quote(number, safe='')}", step=step)
        else:
            async with playwright_errors(PORTAL, step):
                button = page.get_by_role("region", name="Dispute", exact=True).get_by_role(
                    "button", name="Create dispute"
                )
            await self._submit(session, page, button, step=step)
            heading = await self._h1(page, step)
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
        heading = await self._h1(page, step)
        if heading == LOGIN_HEADING:
            raise SessionExpired("the portal showed its sign-in page", portal=PORTAL, step=step)
        if heading != f"Dispute {number}":
            raise LayoutChanged(
                f"expected the page of dispute {number}, saw {await describe_page(page)}",
                portal=PORTAL,
                step=step,
            )
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
                {
                    "name": name,
                    "mimeType": "application/pdf"
                    if sniff_kind(data) == "pdf"
                    else "application/octet-stream",
                    "buffer": data,
                }
                for i, (raw_name, data) in enumerate(packet.attachments, start=1)
                if (name := _safe_upload_name(raw_name, i)) not in attached
            ]
            await select.select_option(label=option)
            await comments.fill(comment)
            if files:
                await page.get_by_label("Attachments", exact=True).set_input_files(files)  # type: ignore[arg-type]
        await self._submit(
            session, page, page.get_by_role("button", name="Submit dispute"), step=step
        )
        heading = await self._h1(page, step)
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
        "Create dispute"."""
        step = "dispute_status"
        detail = await self._claim_or_fail(session, external_id, step=step)
        if detail.dispute is None:
            return None
        number, label = detail.dispute
        return DisputeStatusReport(number, _normalize_status(label, step=step), label)

    # ------------------------------------------------------------------ plumbing

    async def _goto(self, session: AdapterSession, path: str, *, step: str) -> Page:
        session.requests += 1
        return await goto(session, path, step=step, timeout_ms=NAV_TIMEOUT_MS)

    async def _submit(
        self, session: AdapterSession, page: Page, button: Locator, *, step: str
    ) -> None:
        """Click a submit button and wait for the page it leads to; check its status."""
        async with playwright_errors(PORTAL, step):
            if await button.count() != 1:
                raise LayoutChanged(
                    f"expected one button, found {await button.count()} on "
                    f"{await describe_page(page)}",
                    portal=PORTAL,
                    step=step,
                )
            async with page.expect_navigation(
                wait_until="domcontentloaded", timeout=NAV_TIMEOUT_MS
            ) as nav:
                await button.click()
            response = await nav.value
        session.requests += 1
        check_response(response, portal=PORTAL, step=step)

    async def _h1(self, page: Page, step: str) -> str:
        """The page's main heading ('' when it has none)."""
        h1 = page.get_by_role("heading", level=1)
        async with playwright_errors(PORTAL, step):
            if await h1.count() == 0:
                return ""
            return clean_text(await h1.first.inner_text(timeout=PAGE_TIMEOUT_MS))

    async def _alert(self, page: Page, step: str) -> str:
        """The portal's error message (role=alert), bounded; '' when none."""
        alerts = page.get_by_role("alert")
        async with playwright_errors(PORTAL, step):
            texts = await alerts.all_inner_texts()
        return clean_text(" ".join(texts), max_length=300)

    async def _facts(self, page: Page) -> dict[str, str]:
        dl = page.get_by_role("main").locator("dl")
        if await dl.count() == 0:
            return {}
        return dict(await dl.first.evaluate(_DL_JS))

    async def _refused(self, page: Page, heading: str, *, step: str) -> NoReturn:
        """After a dispute form post that did not advance: the portal's reason, or why not."""
        if heading == LOGIN_HEADING:
            raise SessionExpired("the portal showed its sign-in page", portal=PORTAL, step=step)
        alert = await self._alert(page, step)
        if alert:
            raise DisputeRejected(alert, portal=PORTAL, step=step)
        raise LayoutChanged(
            f"the dispute form led to {await describe_page(page)}", portal=PORTAL, step=step
        )


def _rows_by_header(
    raw_rows: list[dict[str, Any]], wanted: tuple[str, ...], *, what: str, step: str
) -> list[dict[str, str]]:
    """Rows as {header text: cell text}; LayoutChanged if a wanted header is missing."""
    if not raw_rows:
        return []
    headers = [clean_text(h) for h in raw_rows[0].get("cells", [])]
    missing = [h for h in wanted if h not in headers]
    if missing:
        raise LayoutChanged(
            f"the {what} table lacks the columns {missing!r} (has {headers[:12]!r})",
            portal=PORTAL,
            step=step,
        )
    rows = []
    for r in raw_rows[1:]:
        cells = list(r.get("cells", []))
        if len(cells) != len(headers):
            raise LayoutChanged(
                f"a {what} row has {len(cells)} cells for {len(headers)} headers",
                portal=PORTAL,
                step=step,
            )
        rows.append(dict(zip(headers, (str(c)[:2000] for c in cells), strict=True)))
    return rows


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


def _short(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return f"{where}: {first.get('msg', 'invalid')}"[:200]
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}"[:200]
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


__all__ = ["MegamartAdapter"]
