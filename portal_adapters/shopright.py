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
  (``context.request``; no page render): ``GET /api/deductions`` in cursor
  pages (newest posted first; paging stops at the first deduction posted
  before ``since``), one ``GET /api/deductions/{id}`` per deduction for what
  the list lacks (posted and invoice dates, lines, memo, carrier/PRO/BOL,
  promotion), ``GET .../documents`` to list and one GET per document. Every
  answer's JSON shape is checked: a missing key is LayoutChanged, a 401 is
  SessionExpired, a 403 (the SPA's CSRF defence) is LayoutChanged.
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
import io
import json
import re
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import partial
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Locator, Page, Response
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
    NotYetAvailable,
    RecordInvalid,
    SessionExpired,
)
from portal_adapters.web import (
    DEFAULT_MAX_BYTES,
    DOWNLOAD_TIMEOUT_MS,
    expect_heading,
    fetch_bytes,
    filename_from_disposition,
    goto,
    playwright_errors,
    raise_for_status,
    sniff_kind,
)
from records.normalize import NormalizationError, clean_text, normalize_location, portal_rules
from records.schemas import Category, DeductionLineRecord, DeductionRecord, LinkRole

PORTAL = "shopright"

LOGIN_PATH = "/login"
LOGIN_HEADING = "Sign in to"  # "Sign in to ShopRight Partners Online"
MFA_HEADING = "Two-step verification"
LIST_HEADING = "Deductions"
WIZARD_NAME = "Create case"
WIZARD_STEPS = 4

API_TIMEOUT_MS = 30_000
UI_TIMEOUT_MS = 15_000
MAX_JSON_BYTES = 4 * 1024 * 1024
MAX_PAGES = 10_000
PAGE_LIMIT = 500  # the portal caps it at its own page size
MAX_UPLOAD_NAME = 100
MAX_CACHED_DEDUCTIONS = 20_000
DOCS_NOTE = "shopright.documents"

# Our reasons -> the wizard's option text (its option values are API keys).
REASON_LABELS: dict[str, str] = {
    "proof_of_delivery": "Merchandise delivered in full (proof of delivery)",
    "allowance_not_owed": "Allowance not agreed or already paid",
    "pricing_per_agreement": "Invoiced cost matches the purchase order",
    "duplicate_deduction": "Duplicate deduction",
    "compliance_met": "Compliance requirement was met",
    "other": "Other",
}

# The portal's case labels -> DISPUTE_STATUSES.
STATUS_BY_LABEL: dict[str, str] = {
    "draft": "draft",
    "in review": "research",
    "vendor response required": "supplier_action",
    "approved": "approved",
    "partially approved": "partially_approved",
    "denied": "denied",
    "closed - no response": "expired",
}
_API_STATUSES = frozenset(STATUS_BY_LABEL.values())

ROLE_BY_KIND: dict[str, str] = {role.value: role.value for role in LinkRole}

SUMMARY_KEYS = (
    "id",
    "document_number",
    "type",
    "reason_code",
    "reason_text",
    "invoice_number",
    "po_number",
    "dc",
    "amount",
    "currency",
    "date",
    "status",
)
DETAIL_KEYS = (
    *SUMMARY_KEYS,
    "invoice_date",
    "posted_date",
    "memo",
    "carrier",
    "pro_number",
    "bol_number",
    "promo_id",
    "lines",
    "documents",
    "case",
)
LINE_KEYS = ("sku", "description", "quantity", "unit_cost", "amount")
DOCUMENT_KEYS = ("id", "filename", "kind", "media_type")
CASE_KEYS = ("case_number", "document_number", "status", "status_label")
_NOT_RAW = frozenset({"lines", "documents", "case"})

_LOGIN_HEADING_RE = re.compile(r"^\s*sign in to\b", re.I)
_UNSAFE_NAME = re.compile(r"[^\w .()+-]+")


@dataclass(frozen=True)
class _Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    url: str


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
            await page.get_by_label("Password", exact=True).fill(
                session.credentials.password.reveal()
            )
            answer = await _click_for_response(
                page,
                page.get_by_role("button", name="Sign in", exact=True),
                "/api/session",
            )
        session.requests += 1
        data = await _answer_json(answer, step=step)
        if answer.status in (401, 422, 423):
            message = _message(data, "the e-mail address or password was refused")
            raise BadCredentials(message, portal=PORTAL, step=step)
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
        secret = session.credentials.totp_secret
        if secret is None:
            raise MfaFailed(
                "the portal asks for an authenticator code; no TOTP secret is configured",
                portal=PORTAL,
                step=step,
            )
        try:
            code = totp_code(secret).code
        except InvalidTotpSecretError as exc:
            raise MfaFailed(
                f"the stored TOTP secret is unusable: {exc}", portal=PORTAL, step=step
            ) from None
        async with playwright_errors(PORTAL, step):
            await page.get_by_label("Authenticator code", exact=True).fill(code.reveal())
            answer = await _click_for_response(
                page, page.get_by_role("button", name="Verify", exact=True), "/api/session/mfa"
            )
        session.requests += 1
        data = await _answer_json(answer, step=step)
        if answer.status == 401:
            if data.get("error") == "challenge_expired":
                raise SessionExpired(
                    _message(data, "the verification step timed out"), portal=PORTAL, step=step
                )
            raise MfaFailed(
                _message(data, "the authenticator code was refused"), portal=PORTAL, step=step
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
            data = await _api_json(session, "/api/me", step="is_logged_in")
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
        Safe to call again: nothing is remembered between calls.
        """
        step = "list_deductions"
        rules = portal_rules(PORTAL)
        cursor: str | None = None
        seen_cursors: set[str] = set()
        last_posted: date | None = None
        in_order = True
        for _ in range(MAX_PAGES):
            params = {"limit": str(PAGE_LIMIT)} | ({"cursor": cursor} if cursor else {})
            page = await _api_json(session, "/api/deductions", step=step, params=params)
            items, cursor = _list_page(page, step=step)
            for item in items:
                if str(item.get("document_number", "")) in session.listed:
                    continue  # stored before a retry: do not read its detail again
                found = await self._deduction(session, item, rules=rules)
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

    async def _deduction(
        self, session: AdapterSession, item: dict[str, Any], *, rules: Any
    ) -> DeductionRecord | RecordInvalid:
        step = "deduction_detail"
        raw: dict[str, Any] = {k: _raw(item[k]) for k in SUMMARY_KEYS}
        try:
            external_id = _text(item["document_number"])
            detail_id = _text(item["id"])
        except TypeError as exc:
            return _invalid(_first_line(exc), raw, None)
        if not external_id or not detail_id:
            return _invalid("a row without a document number", raw, external_id or None)
        detail = await _api_json(session, _deduction_path(detail_id), step=step, not_found_ok=True)
        if detail is None:
            return _invalid("the deduction vanished between list and detail", raw, external_id)
        _require(detail, DETAIL_KEYS, what="deduction detail", step=step)
        if detail["document_number"] != item["document_number"]:
            raise LayoutChanged(
                "the detail answered for another deduction", portal=PORTAL, step=step
            )
        lines_raw = detail["lines"]
        if not isinstance(lines_raw, list):
            raise LayoutChanged("deduction lines are not a list", portal=PORTAL, step=step)
        for ln in lines_raw:
            _require(ln, LINE_KEYS, what="deduction line", step=step)
        refs = _document_refs(detail["documents"], step=step)
        raw |= {k: _raw(detail[k]) for k in DETAIL_KEYS if k not in _NOT_RAW}
        raw["lines"] = [{k: _raw(ln[k]) for k in LINE_KEYS} for ln in lines_raw]
        try:
            record = _record(session, item, detail, lines_raw, raw, rules=rules)
        except (NormalizationError, ValidationError, ValueError, TypeError) as exc:
            return _invalid(_first_line(exc), raw, external_id)
        cache = _docs_cache(session)
        if len(cache) < MAX_CACHED_DEDUCTIONS:
            cache[external_id] = refs
        return record

    # ================================================================== documents

    async def list_documents(self, session: AdapterSession, external_id: str) -> list[DocumentRef]:
        """The documents ShopRight shows for the deduction now.

        Right after list_deductions in the same job, the list its detail
        answer carried is used once (no request); otherwise one request.
        Empty when none is available yet, and when the portal does not show
        the deduction to this account (any more)."""
        step = "list_documents"
        cached = _docs_cache(session).pop(external_id, None)
        if cached is not None:
            refs = cached
        else:
            data = await _api_json(
                session,
                _deduction_path(external_id) + "/documents",
                step=step,
                not_found_ok=True,
            )
            if data is None:
                return []
            _require(data, ("document_number", "documents"), what="documents answer", step=step)
            refs = _document_refs(data["documents"], step=step)
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
        """One document's bytes (a ``zip:`` ref: the backup ZIP itself)."""
        if doc.ref.startswith("zip:"):
            return [await self._backup_zip(session, external_id, doc)]
        step = "download_document"
        expect = ("text",) if doc.filename.lower().endswith(".csv") else ("pdf",)
        data, headers = await fetch_bytes(
            session,
            _deduction_path(external_id) + "/documents/" + quote(doc.ref, safe=""),
            step=step,
            expect=expect,
        )
        session.requests += 1
        return [
            FetchedDocument(
                role=doc.role,
                filename=filename_from_disposition(
                    headers.get("content-disposition"), doc.filename or doc.ref
                ),
                data=data,
                media_type=_media_type(headers, "application/pdf"),
                ref=doc.ref,
            )
        ]

    async def _backup_zip(
        self, session: AdapterSession, external_id: str, doc: DocumentRef
    ) -> FetchedDocument:
        step = "backup_zip"
        reply = await _get(
            session,
            _deduction_path(external_id) + "/backup.zip",
            step=step,
            accept="application/zip",
            timeout_ms=DOWNLOAD_TIMEOUT_MS,
            max_bytes=DEFAULT_MAX_BYTES,
        )
        if reply.status == 404:
            raise NotYetAvailable(
                _message(_loads(reply.body), "backup not yet available"), portal=PORTAL, step=step
            )
        _check_status(reply, step=step)
        kind = sniff_kind(reply.body)
        if kind != "zip":
            raise LayoutChanged(f"expected a ZIP, got {kind}", portal=PORTAL, step=step)
        return FetchedDocument(
            role=doc.role,
            filename=filename_from_disposition(
                reply.headers.get("content-disposition"), doc.filename or "backup.zip"
            ),
            data=reply.body,
            media_type="application/zip",
            ref=doc.ref,
        )

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
        label = REASON_LABELS.get(packet.reason)
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
            name, data = upload
            await wizard.get_by_label("Supporting document (PDF)", exact=True).set_input_files(
                files=[{"name": name, "mimeType": "application/pdf", "buffer": data}]
            )
        await _next(page, wizard, 4, seen)
        review = wizard.get_by_role("definition").filter(has_text=re.compile(re.escape(eid)))
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
            message = _message(data, f"the portal refused the case (HTTP {answer.status})")
            if answer.status == 409:
                again = await self._case(session, eid, step=step)
                if again is not None:  # filed meanwhile (another attempt, a person)
                    return DisputeReceipt(again.dispute_number, again.status, already_filed=True)
            raise DisputeRejected(message, portal=PORTAL, step=step)
        _check_answer(answer, data, step=step)
        if answer.status != 201:
            raise LayoutChanged(
                f"creating a case answered HTTP {answer.status}", portal=PORTAL, step=step
            )
        _require(data, CASE_KEYS, what="new case", step=step)
        number = _text(data["case_number"])
        if not number or _text(data["document_number"]) != eid:
            raise LayoutChanged("the new case does not match the claim", portal=PORTAL, step=step)
        receipt = DisputeReceipt(number, _normalize_status(data, step=step))
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
        detail = await _api_json(
            session, _deduction_path(external_id), step=step, not_found_ok=True
        )
        if detail is None:
            if missing_is_rejection:
                raise DisputeRejected(
                    f"Document {external_id[:40]} was not found for your account.",
                    portal=PORTAL,
                    step=step,
                )
            return None
        _require(detail, ("document_number", "case"), what="deduction detail", step=step)
        case = detail["case"]
        if case is None:
            return None
        _require(case, CASE_KEYS, what="case", step=step)
        if _text(case["document_number"]) != _text(detail["document_number"]):
            raise LayoutChanged("the case belongs to another claim", portal=PORTAL, step=step)
        return DisputeStatusReport(
            dispute_number=_text(case["case_number"]),
            status=_normalize_status(case, step=step),
            portal_label=clean_text(_text(case["status_label"])),
        )


# ====================================================================== API plumbing


async def _get(
    session: AdapterSession,
    path: str,
    *,
    step: str,
    params: dict[str, str] | None = None,
    accept: str = "application/json",
    timeout_ms: float = API_TIMEOUT_MS,
    max_bytes: int = MAX_JSON_BYTES,
) -> _Reply:
    """One GET through the context's request API (its cookie, no rendering)."""
    url = session.url(path)
    if session.throttle is not None:
        await session.throttle()
    async with playwright_errors(PORTAL, step):
        resp = await session.context.request.get(
            url,
            params=params,
            headers={"Accept": accept},
            timeout=timeout_ms,
            max_redirects=0,
        )
        try:
            length = resp.headers.get("content-length", "")
            if length.isdigit() and int(length) > max_bytes:
                raise LayoutChanged(
                    f"an answer of {length} bytes is over the {max_bytes} cap",
                    portal=PORTAL,
                    step=step,
                )
            body = await resp.body()
            reply = _Reply(resp.status, dict(resp.headers), body, resp.url)
        finally:
            await resp.dispose()
    session.requests += 1
    if len(reply.body) > max_bytes:
        raise LayoutChanged(f"an answer over the {max_bytes} byte cap", portal=PORTAL, step=step)
    return reply


async def _api_json(
    session: AdapterSession,
    path: str,
    *,
    step: str,
    params: dict[str, str] | None = None,
    not_found_ok: bool = False,
) -> dict[str, Any] | None:
    """A JSON object from the SPA's API; None for a 404 when ``not_found_ok``."""
    reply = await _get(session, path, step=step, params=params)
    if reply.status == 404 and not_found_ok:
        return None
    if 300 <= reply.status < 400 and "/login" in reply.headers.get("location", ""):
        raise SessionExpired("the API sent us to the sign-in page", portal=PORTAL, step=step)
    _check_status(reply, step=step)
    if reply.status != 200:
        raise LayoutChanged(f"HTTP {reply.status} at {_path(reply.url)}", portal=PORTAL, step=step)
    ctype = reply.headers.get("content-type", "")
    if not ctype.startswith("application/json"):
        if "html" in ctype and re.search(rb"(?i)sign in", reply.body[:20_000]):
            raise SessionExpired("the sign-in page came back", portal=PORTAL, step=step)
        raise LayoutChanged(
            f"expected JSON from {_path(reply.url)}, got {ctype[:60] or 'no content type'}",
            portal=PORTAL,
            step=step,
        )
    data = _loads(reply.body)
    if not data:
        raise LayoutChanged(f"unreadable JSON from {_path(reply.url)}", portal=PORTAL, step=step)
    return data


def _check_status(reply: _Reply, *, step: str) -> None:
    """401 -> SessionExpired, 429 -> RateLimited, 5xx -> PortalUnavailable,
    403 (CSRF or forbidden) and any other 4xx -> LayoutChanged."""
    raise_for_status(reply.status, reply.headers, portal=PORTAL, step=step, url=reply.url)
    if reply.status >= 300:
        data = _loads(reply.body)
        raise LayoutChanged(
            f"HTTP {reply.status} at {_path(reply.url)}: "
            f"{_message(data, str(data.get('error', '')) or 'no explanation')}",
            portal=PORTAL,
            step=step,
        )


def _loads(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _list_page(data: dict[str, Any], *, step: str) -> tuple[list[dict[str, Any]], str | None]:
    _require(data, ("items", "next_cursor", "total"), what="deductions page", step=step)
    items, cursor, total = data["items"], data["next_cursor"], data["total"]
    if not isinstance(items, list) or not isinstance(total, int) or isinstance(total, bool):
        raise LayoutChanged("the deductions page has the wrong shape", portal=PORTAL, step=step)
    if cursor is not None and (not isinstance(cursor, str) or not cursor or len(cursor) > 1000):
        raise LayoutChanged("the next-page cursor is not a string", portal=PORTAL, step=step)
    for item in items:
        _require(item, SUMMARY_KEYS, what="deduction row", step=step)
    return items, cursor


def _require(obj: Any, keys: tuple[str, ...], *, what: str, step: str) -> None:
    if not isinstance(obj, dict):
        raise LayoutChanged(f"{what} is not an object", portal=PORTAL, step=step)
    missing = [k for k in keys if k not in obj]
    if missing:
        raise LayoutChanged(f"{what} lacks {', '.join(missing[:5])}", portal=PORTAL, step=step)


def _document_refs(docs: Any, *, step: str) -> list[DocumentRef]:
    """Refs from the portal's documents array (shape checked)."""
    if not isinstance(docs, list):
        raise LayoutChanged("documents is not a list", portal=PORTAL, step=step)
    refs: list[DocumentRef] = []
    for doc in docs:
        _require(doc, DOCUMENT_KEYS, what="document entry", step=step)
        try:
            doc_id, kind, name = _text(doc["id"]), _text(doc["kind"]), _text(doc["filename"])
        except TypeError:
            raise LayoutChanged("a document entry is not text", portal=PORTAL, step=step) from None
        if not doc_id:
            raise LayoutChanged("a document without an id", portal=PORTAL, step=step)
        refs.append(
            DocumentRef(
                ref=doc_id,
                role=ROLE_BY_KIND.get(kind, LinkRole.backup.value),
                filename=name[:500],
            )
        )
    return refs


def _docs_cache(session: AdapterSession) -> dict[str, list[DocumentRef]]:
    """Per job: the documents each deduction's detail listed, used once."""
    cache = session.notes.get(DOCS_NOTE)
    if not isinstance(cache, dict):
        cache = {}
        session.notes[DOCS_NOTE] = cache
    return cache


def _deduction_path(external_id: str) -> str:
    return "/api/deductions/" + quote(external_id, safe="")


def _path(url: str) -> str:
    return urlsplit(url).path[:200]


def _media_type(headers: dict[str, str], default: str) -> str:
    value = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return value[:100] or default


def _message(data: dict[str, Any], default: str) -> str:
    msg = data.get("message")
    return clean_text(msg, max_length=300) if isinstance(msg, str) and msg.strip() else default


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


# ====================================================================== values


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise TypeError(f"expected text, got {type(value).__name__}")
    return str(value).replace("\x00", "").strip()


def _raw(value: Any) -> Any:
    """What the portal sent, as strings (None stays None)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float | bool):
        return str(value)
    return json.dumps(value, ensure_ascii=False)[:2000]


def _optional(value: Any) -> str | None:
    text = clean_text(_text(value))
    return text or None


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError("a quantity is not a boolean")
    if isinstance(value, int):
        return value
    text = _text(value)
    if not re.fullmatch(r"-?\d{1,9}", text):
        raise ValueError(f"not a whole number: {text[:20]!r}")
    return int(text)


def _date(rules: Any, value: Any) -> date | None:
    text = _text(value)
    return rules.date(text) if text else None


def _record(
    session: AdapterSession,
    item: dict[str, Any],
    detail: dict[str, Any],
    lines_raw: list[dict[str, Any]],
    raw: dict[str, Any],
    *,
    rules: Any,
) -> DeductionRecord:
    """The record from a list row and its detail (raises on a value it cannot read)."""
    code = clean_text(_text(item["reason_code"]), max_length=40)
    reason_text = clean_text(_text(item["reason_text"]))
    return DeductionRecord(
        portal=PORTAL,
        external_id=_text(item["document_number"]),
        account=session.account,
        invoice_number=clean_text(_text(item["invoice_number"])),
        po_number=clean_text(_text(item["po_number"])),
        location=normalize_location(_text(item["dc"])),
        amount=rules.amount(_text(item["amount"])),
        currency=_text(item["currency"]) or "USD",
        reason_code=code,
        reason_text=reason_text,
        category=Category(rules.category(code, reason_text).value),
        deduction_date=_date(rules, item["date"]),
        invoice_date=_date(rules, detail["invoice_date"]),
        posted_date=_date(rules, detail["posted_date"]),
        status=clean_text(_text(item["status"])),
        promo_id=_optional(detail["promo_id"]),
        carrier=_optional(detail["carrier"]),
        pro_number=_optional(detail["pro_number"]),
        bol_number=_optional(detail["bol_number"]),
        memo=_text(detail["memo"])[:20_000],
        lines=[
            DeductionLineRecord(
                sku=clean_text(_text(ln["sku"])),
                description=clean_text(_text(ln["description"])),
                quantity=_int(ln["quantity"]),
                unit_cost=rules.amount(_text(ln["unit_cost"])),
                amount=rules.amount(_text(ln["amount"])),
            )
            for ln in lines_raw
        ],
        raw=raw,
    )


def _invalid(message: str, raw: dict[str, Any], external_id: str | None) -> RecordInvalid:
    return RecordInvalid(
        message, raw=raw, external_id=external_id, portal=PORTAL, step="list_deductions"
    )


def _normalize_status(case: dict[str, Any], *, step: str) -> str:
    """The portal's label first (its own words), then the API's status key."""
    label = clean_text(_text(case.get("status_label"))).casefold()
    status = STATUS_BY_LABEL.get(label)
    if status is None:
        key = _text(case.get("status"))
        status = key if key in _API_STATUSES else None
    if status is None:
        raise LayoutChanged(f"unknown case status {label[:60]!r}", portal=PORTAL, step=step)
    return status


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
    return _loads(body[:MAX_JSON_BYTES])


def _check_answer(answer: Response, data: dict[str, Any], *, step: str) -> None:
    raise_for_status(answer.status, answer.headers, portal=PORTAL, step=step, url=answer.url)
    if answer.status >= 300:
        raise LayoutChanged(
            f"HTTP {answer.status} at {_path(answer.url)}: "
            f"{_message(data, str(data.get('error', ''))[:60] or 'no explanation')}",
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
                f"HTTP 403 at {_path(r.url)} (request refused)", portal=PORTAL, step=step
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
        message = clean_text(await alert.first.inner_text(), max_length=300)
        raise LayoutChanged(
            f"the deduction panel shows an error: {message}", portal=PORTAL, step=step
        )
    return False


async def _wizard_step(page: Page, wizard: Locator, n: int, seen: list[Response]) -> None:
    """Wait until the wizard shows step ``n``; an alert instead is the portal's
    refusal (DisputeRejected), the sign-in page is SessionExpired."""
    step = f"wizard_step_{n}"
    shown = wizard.get_by_text(f"Step {n} of {WIZARD_STEPS}")
    alert = wizard.get_by_role("alert")
    if await _settle(page, shown, alert, seen, step=step):
        return
    message = clean_text(await alert.first.inner_text(), max_length=300)
    raise DisputeRejected(message or "the portal refused the case", portal=PORTAL, step=step)


async def _next(page: Page, wizard: Locator, n: int, seen: list[Response]) -> None:
    seen.clear()
    await wizard.get_by_role("button", name="Next", exact=True).click()
    await _wizard_step(page, wizard, n, seen)


async def _one_pdf(packet: DisputePacket) -> tuple[str, bytes] | None:
    """ShopRight takes one PDF per case: the attachment, or all of them combined."""
    atts = packet.attachments
    for name, data in atts:
        if not data.startswith(b"%PDF-"):
            raise DisputeRejected(
                f"{_upload_name(name)}: ShopRight accepts PDF attachments only",
                portal=PORTAL,
                step="file_dispute",
            )
    if not atts:
        return None
    if len(atts) == 1:
        return _upload_name(atts[0][0]), atts[0][1]
    try:
        data = await asyncio.to_thread(_combine_pdfs, [d for _, d in atts])
    except Exception as exc:  # pypdf raises many types on hostile input
        raise DisputeRejected(
            f"the attachments cannot be combined into the one PDF ShopRight takes: "
            f"{_first_line(exc)[:120]}",
            portal=PORTAL,
            step="file_dispute",
        ) from None
    return _upload_name(f"{packet.deduction_external_id}_supporting_documents.pdf"), data


def _combine_pdfs(parts: list[bytes]) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for data in parts:
        writer.append(PdfReader(io.BytesIO(data)))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _upload_name(name: str) -> str:
    """A plain file name ending in .pdf (the portal shows it; ours is untrusted too)."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = _UNSAFE_NAME.sub("_", clean_text(base, max_length=MAX_UPLOAD_NAME)).strip(" ._")
    if not base.lower().endswith(".pdf"):
        base = (base or "attachment")[: MAX_UPLOAD_NAME - 4] + ".pdf"
    return base


__all__ = ["ShoprightAdapter"]
