"""ShopRight Partners Online's JSON API, as its single-page app calls it.

The client half of the ShopRight adapter (``portal_adapters.shopright`` drives
the UI for what only the UI does: sign-in and the case wizard). Every call goes
through the context's request API with the cookie the SPA's sign-in left
(``portal_adapters.web.request``: no rendering, same origin only, bounded),
and every answer's shape is checked before a value is read from it:

* ``GET /api/deductions?limit=&cursor=``: a page of summaries, newest posted
  first, and the next cursor;
* ``GET /api/deductions/{id}``: one deduction's detail (dates, memo,
  carrier/PRO/BOL, promotion, lines, documents, case);
* ``GET /api/deductions/{id}/documents`` and ``.../documents/{doc}``,
  ``.../backup.zip``: what the deduction's backup is, and its bytes.

Statuses: 401 (or a redirect to the sign-in page) is SessionExpired, 429
RateLimited, 5xx PortalUnavailable, 403 (the SPA's CSRF defence) and any other
4xx LayoutChanged; a missing key is LayoutChanged (the API changed). One
deduction whose detail is missing, about another deduction, or holds a value
that does not parse is that deduction's RecordInvalid. Path segments built from
portal text (ids) go through ``quote``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import quote

from pydantic import ValidationError

from portal_adapters.base import AdapterSession, DocumentRef, FetchedDocument
from portal_adapters.errors import LayoutChanged, NotYetAvailable, RecordInvalid, SessionExpired
from portal_adapters.web import (
    API_TIMEOUT_MS,
    DEFAULT_MAX_BYTES,
    DOWNLOAD_TIMEOUT_MS,
    MAX_JSON_BYTES,
    FieldError,
    Reply,
    document_bytes,
    fetch_bytes,
    fetched_document,
    json_object,
    media_type,
    raise_for_status,
    read_field,
    record_invalid,
    record_unreadable,
    request,
    url_path,
)
from records.normalize import NormalizationError, PortalRules, clean_text, normalize_location
from records.schemas import Category, DeductionLineRecord, DeductionRecord, DisputeStatus, LinkRole

PORTAL = "shopright"
T = TypeVar("T")

PAGE_LIMIT = 500  # the portal caps it at its own page size
MAX_CACHED_DEDUCTIONS = 20_000
DOCS_NOTE = "shopright.documents"

# The portal's case labels -> records.schemas.DisputeStatus.
STATUS_BY_LABEL: dict[str, DisputeStatus] = {
    "draft": DisputeStatus.draft,
    "in review": DisputeStatus.research,
    "vendor response required": DisputeStatus.supplier_action,
    "approved": DisputeStatus.approved,
    "partially approved": DisputeStatus.partially_approved,
    "denied": DisputeStatus.denied,
    "closed - no response": DisputeStatus.expired,
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


def deduction_path(external_id: str) -> str:
    return "/api/deductions/" + quote(external_id, safe="")


class ShoprightApi:
    """The API for one job's session; holds nothing else (safe to rebuild per call)."""

    def __init__(self, session: AdapterSession) -> None:
        self.session = session

    async def get(
        self,
        path: str,
        *,
        step: str,
        params: dict[str, str | float | bool] | None = None,
        accept: str = "application/json",
        timeout_ms: float = API_TIMEOUT_MS,
        max_bytes: int = MAX_JSON_BYTES,
    ) -> Reply:
        """One GET; redirects are not followed (one to the sign-in page means the
        session ended, which the caller must see)."""
        return await request(
            self.session,
            path,
            step=step,
            params=params,
            headers={"Accept": accept},
            timeout_ms=timeout_ms,
            max_bytes=max_bytes,
            max_redirects=0,
        )

    async def json(
        self,
        path: str,
        *,
        step: str,
        params: dict[str, str | float | bool] | None = None,
        not_found_ok: bool = False,
    ) -> dict[str, Any] | None:
        """A JSON object; None for a 404 when ``not_found_ok``."""
        reply = await self.get(path, step=step, params=params)
        if reply.status == 404 and not_found_ok:
            return None
        if 300 <= reply.status < 400 and "/login" in reply.headers.get("location", ""):
            raise SessionExpired("the API sent us to the sign-in page", portal=PORTAL, step=step)
        check_status(reply, step=step)
        if reply.status != 200:
            raise LayoutChanged(
                f"HTTP {reply.status} at {url_path(reply.url)}", portal=PORTAL, step=step
            )
        if reply.oversize:
            raise LayoutChanged(
                f"an answer over the {MAX_JSON_BYTES} byte cap", portal=PORTAL, step=step
            )
        ctype = media_type(reply.headers, "")
        if ctype != "application/json":
            if "html" in ctype and re.search(rb"(?i)sign in", reply.body[:20_000]):
                raise SessionExpired("the sign-in page came back", portal=PORTAL, step=step)
            raise LayoutChanged(
                f"expected JSON from {url_path(reply.url)}, got {ctype or 'no content type'}",
                portal=PORTAL,
                step=step,
            )
        data = reply.json_object()
        if not data:
            raise LayoutChanged(
                f"unreadable JSON from {url_path(reply.url)}", portal=PORTAL, step=step
            )
        return data

    async def me(self) -> dict[str, Any] | None:
        return await self.json("/api/me", step="is_logged_in")

    async def deductions_page(
        self, cursor: str | None, *, step: str
    ) -> tuple[list[dict[str, Any]], str | None]:
        params: dict[str, str | float | bool] = {"limit": str(PAGE_LIMIT)}
        if cursor:
            params["cursor"] = cursor
        page = await self.json("/api/deductions", step=step, params=params)
        assert page is not None
        return list_page(page, step=step)

    async def deduction(
        self, item: dict[str, Any], rules: PortalRules
    ) -> DeductionRecord | RecordInvalid:
        """One list row completed by its detail, or why it cannot be read.

        The detail's documents are kept for ``list_documents`` (used once).
        """
        step = "deduction_detail"
        raw: dict[str, Any] = {k: _raw(item[k]) for k in SUMMARY_KEYS}
        try:
            external_id = scalar_text(item["document_number"])
            detail_id = scalar_text(item["id"])
        except TypeError as exc:
            return _invalid(exc, raw, None)
        if not external_id or not detail_id:
            return RecordInvalid(
                "a row without a document number",
                raw=raw,
                external_id=external_id or None,
                field="document_number",
                portal=PORTAL,
                step="list_deductions",
            )
        detail = await self.json(deduction_path(detail_id), step=step, not_found_ok=True)
        if detail is None:
            return _unreadable(external_id, "its detail answers 404", raw)
        require(detail, DETAIL_KEYS, what="deduction detail", step=step)
        if detail["document_number"] != item["document_number"]:
            return _unreadable(
                external_id,
                f"its detail is about {_raw(detail['document_number'])!r}"[:200],
                raw,
                field="document_number",
            )
        lines_raw = detail["lines"]
        if not isinstance(lines_raw, list):
            raise LayoutChanged("deduction lines are not a list", portal=PORTAL, step=step)
        for ln in lines_raw:
            require(ln, LINE_KEYS, what="deduction line", step=step)
        refs = document_refs(detail["documents"], step=step)
        raw |= {k: _raw(detail[k]) for k in DETAIL_KEYS if k not in _NOT_RAW}
        raw["lines"] = [{k: _raw(ln[k]) for k in LINE_KEYS} for ln in lines_raw]
        try:
            record = _record(self.session, item, detail, lines_raw, raw, rules=rules)
        except (NormalizationError, ValidationError, FieldError, ValueError, TypeError) as exc:
            return _invalid(exc, raw, external_id)
        cache = docs_cache(self.session)
        if len(cache) < MAX_CACHED_DEDUCTIONS:
            cache[external_id] = refs
        return record

    async def documents(self, external_id: str, *, step: str) -> list[DocumentRef] | None:
        """The deduction's documents now; None when the portal does not show it."""
        path = deduction_path(external_id) + "/documents"
        data = await self.json(path, step=step, not_found_ok=True)
        if data is None:
            return None
        require(data, ("document_number", "documents"), what="documents answer", step=step)
        return document_refs(data["documents"], step=step)

    async def document(self, external_id: str, doc: DocumentRef, *, step: str) -> FetchedDocument:
        """One document's bytes: a PDF, or CSV text for a ``.csv`` (else RecordInvalid)."""
        expect = ("text",) if doc.filename.lower().endswith(".csv") else ("pdf",)
        reply = await fetch_bytes(
            self.session,
            deduction_path(external_id) + "/documents/" + quote(doc.ref, safe=""),
            step=step,
            expect=expect,
            ref=doc.ref,
        )
        return fetched_document(
            reply,
            role=doc.role,
            ref=doc.ref,
            filename=doc.filename or doc.ref,
            default_type="application/pdf",
        )

    async def backup_zip(self, external_id: str, doc: DocumentRef, *, step: str) -> FetchedDocument:
        """The deduction's backup as one ZIP; NotYetAvailable while it has none."""
        reply = await self.get(
            deduction_path(external_id) + "/backup.zip",
            step=step,
            accept="application/zip",
            timeout_ms=DOWNLOAD_TIMEOUT_MS,
            max_bytes=DEFAULT_MAX_BYTES,
        )
        if reply.status == 404:
            raise NotYetAvailable(
                message(json_object(reply.body) or {}, "backup not yet available"),
                portal=PORTAL,
                step=step,
            )
        document_bytes(reply, session=self.session, step=step, expect=("zip",), ref=doc.ref)
        return fetched_document(
            reply,
            role=doc.role,
            ref=doc.ref,
            filename=doc.filename or "backup.zip",
            default_type="application/zip",
        )

    async def case(self, external_id: str, *, step: str) -> dict[str, Any] | None:
        """The deduction's detail (for its case); None when the portal does not show it."""
        detail = await self.json(deduction_path(external_id), step=step, not_found_ok=True)
        if detail is not None:
            require(detail, ("document_number", "case"), what="deduction detail", step=step)
        return detail


# ====================================================================== shapes


def check_status(reply: Reply, *, step: str) -> None:
    """401 -> SessionExpired, 429 -> RateLimited, 5xx -> PortalUnavailable,
    403 (CSRF or forbidden) and any other 4xx -> LayoutChanged."""
    raise_for_status(reply.status, reply.headers, portal=PORTAL, step=step, url=reply.url)
    if reply.status >= 300:
        data = reply.json_object() or {}
        raise LayoutChanged(
            f"HTTP {reply.status} at {url_path(reply.url)}: "
            f"{message(data, str(data.get('error', ''))[:60] or 'no explanation')}",
            portal=PORTAL,
            step=step,
        )


def list_page(data: dict[str, Any], *, step: str) -> tuple[list[dict[str, Any]], str | None]:
    require(data, ("items", "next_cursor", "total"), what="deductions page", step=step)
    items, cursor, total = data["items"], data["next_cursor"], data["total"]
    if not isinstance(items, list) or not isinstance(total, int) or isinstance(total, bool):
        raise LayoutChanged("the deductions page has the wrong shape", portal=PORTAL, step=step)
    if cursor is not None and (not isinstance(cursor, str) or not cursor or len(cursor) > 1000):
        raise LayoutChanged("the next-page cursor is not a string", portal=PORTAL, step=step)
    for item in items:
        require(item, SUMMARY_KEYS, what="deduction row", step=step)
    return items, cursor


def require(obj: Any, keys: tuple[str, ...], *, what: str, step: str) -> None:
    if not isinstance(obj, dict):
        raise LayoutChanged(f"{what} is not an object", portal=PORTAL, step=step)
    missing = [k for k in keys if k not in obj]
    if missing:
        raise LayoutChanged(f"{what} lacks {', '.join(missing[:5])}", portal=PORTAL, step=step)


def document_refs(docs: Any, *, step: str) -> list[DocumentRef]:
    """Refs from the portal's documents array (shape checked)."""
    if not isinstance(docs, list):
        raise LayoutChanged("documents is not a list", portal=PORTAL, step=step)
    refs: list[DocumentRef] = []
    for doc in docs:
        require(doc, DOCUMENT_KEYS, what="document entry", step=step)
        try:
            doc_id, kind, name = (
                scalar_text(doc["id"]),
                scalar_text(doc["kind"]),
                scalar_text(doc["filename"]),
            )
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


def docs_cache(session: AdapterSession) -> dict[str, list[DocumentRef]]:
    """Per job: the documents each deduction's detail listed, used once."""
    cache = session.notes.get(DOCS_NOTE)
    if not isinstance(cache, dict):
        cache = {}
        session.notes[DOCS_NOTE] = cache
    return cache


def message(data: dict[str, Any], default: str) -> str:
    """The portal's own ``message`` (bounded), or ``default``."""
    msg = data.get("message")
    return clean_text(msg, max_length=300) if isinstance(msg, str) and msg.strip() else default


def normalize_status(case: dict[str, Any], *, step: str) -> DisputeStatus:
    """The portal's label first (its own words), then the API's status key."""
    label = clean_text(scalar_text(case.get("status_label"))).casefold()
    status = STATUS_BY_LABEL.get(label)
    if status is None:
        key = scalar_text(case.get("status"))
        status = DisputeStatus(key) if key in _API_STATUSES else None
    if status is None:
        raise LayoutChanged(f"unknown case status {label[:60]!r}", portal=PORTAL, step=step)
    return status


# ====================================================================== values


def scalar_text(value: Any) -> str:
    """A JSON scalar as text (NUL dropped, stripped); TypeError for anything else."""
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
    return clean_text(scalar_text(value)) or None


def _int(value: str) -> int:
    if not re.fullmatch(r"-?\d{1,9}", value):
        raise ValueError(f"not a whole number: {value[:20]!r}")
    return int(value)


def _field(name: str, parse: Callable[[str], T], value: Any) -> T:
    """``parse`` of a JSON value's text, any failure (a value that is not text
    included) a FieldError naming ``name``."""
    return read_field(name, lambda v: parse(scalar_text(v)), value)


def _date(rules: PortalRules, name: str, value: Any) -> date | None:
    return _field(name, rules.date, value) if scalar_text(value) else None


def _record(
    session: AdapterSession,
    item: dict[str, Any],
    detail: dict[str, Any],
    lines_raw: list[dict[str, Any]],
    raw: dict[str, Any],
    *,
    rules: PortalRules,
) -> DeductionRecord:
    """The record from a list row and its detail (raises on a value it cannot read)."""
    code = clean_text(scalar_text(item["reason_code"]), max_length=40)
    reason_text = clean_text(scalar_text(item["reason_text"]))
    return DeductionRecord(
        portal=PORTAL,
        external_id=scalar_text(item["document_number"]),
        account=session.account,
        invoice_number=clean_text(scalar_text(item["invoice_number"])),
        po_number=clean_text(scalar_text(item["po_number"])),
        location=normalize_location(scalar_text(item["dc"])),
        amount=_field("amount", rules.amount, item["amount"]),
        currency=scalar_text(item["currency"]) or "USD",
        reason_code=code,
        reason_text=reason_text,
        category=Category(rules.category(code, reason_text).value),
        deduction_date=_date(rules, "date", item["date"]),
        invoice_date=_date(rules, "invoice_date", detail["invoice_date"]),
        posted_date=_date(rules, "posted_date", detail["posted_date"]),
        status=clean_text(scalar_text(item["status"])),
        promo_id=_optional(detail["promo_id"]),
        carrier=_optional(detail["carrier"]),
        pro_number=_optional(detail["pro_number"]),
        bol_number=_optional(detail["bol_number"]),
        memo=scalar_text(detail["memo"])[:20_000],
        lines=[
            DeductionLineRecord(
                sku=clean_text(scalar_text(ln["sku"])),
                description=clean_text(scalar_text(ln["description"])),
                quantity=_field(f"lines.{i}.quantity", _int, ln["quantity"]),
                unit_cost=_field(f"lines.{i}.unit_cost", rules.amount, ln["unit_cost"]),
                amount=_field(f"lines.{i}.amount", rules.amount, ln["amount"]),
            )
            for i, ln in enumerate(lines_raw)
        ],
        raw=raw,
    )


def _invalid(exc: BaseException, raw: dict[str, Any], external_id: str | None) -> RecordInvalid:
    return record_invalid(
        exc, raw=raw, external_id=external_id, portal=PORTAL, step="list_deductions"
    )


def _unreadable(
    external_id: str, why: str, raw: dict[str, Any], *, field: str | None = None
) -> RecordInvalid:
    found = record_unreadable(external_id, why, portal=PORTAL, step="list_deductions", field=field)
    found.raw = {**raw, **found.raw}
    return found
