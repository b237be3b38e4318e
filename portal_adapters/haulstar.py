"""HaulStar Freight (LTL carrier): shipment summary, delivery receipt (POD) and
bill of lading by PRO or BOL number.

Two ways in, chosen by the credentials:

* **Document API** when the account has an API key: the key and the customer
  login are exchanged for a short-lived bearer token (kept in
  ``session.notes`` as a :class:`~credentials.secret.Secret`, never logged),
  then ``GET /api/v1/shipments/{pro}`` (or ``?bol=``) and one GET per
  available document. A token the API no longer accepts (401
  ``invalid_token``) is replaced once per call; a second refusal is
  SessionExpired. No browser page is rendered at all.
* **Web pages** otherwise: "Customer Login" (password, then "Two-Step
  Verification" when the account has TOTP), the "Shipment Documents" lookup
  form, the "Shipment summary" table read by its header text, and the document
  links fetched through the context's request API (cookies, no rendering).

Lookups are rate limited per account on both paths (429 with Retry-After):
that is RateLimited, never an empty answer. A shipment the carrier does not
show ("No shipment found", which includes one not picked up yet) is None; one
not delivered or not imaged yet comes back with ``pod_available=False`` and
its bill of lading.

Requests per shipment: API 1 lookup + 1 per available document (3 with POD and
BOL; the token once per job); web 1 lookup page (+1 to open the form when the
page is not on it already) + 1 per document.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlencode, urljoin, urlsplit

from playwright.async_api import Locator, Page
from pydantic import ValidationError

from credentials.secret import Secret
from credentials.totp import InvalidTotpSecretError, totp_code
from portal_adapters.base import (
    AdapterSession,
    CarrierAdapter,
    FetchedDocument,
    ShipmentDocuments,
)
from portal_adapters.errors import (
    BadCredentials,
    LayoutChanged,
    MfaFailed,
    PortalUnavailable,
    RecordInvalid,
    SessionExpired,
)
from portal_adapters.web import (
    DEFAULT_MAX_BYTES,
    DOWNLOAD_TIMEOUT_MS,
    alert_text,
    expect_heading,
    fetch_bytes,
    filename_from_disposition,
    goto,
    link_href,
    playwright_errors,
    raise_for_status,
    shows_page,
    sniff_kind,
    submit_form,
)
from records.normalize import NormalizationError, clean_text, portal_rules
from records.schemas import PodStatus, ShipmentRecord

PORTAL = "haulstar"

LOGIN_HEADING = "Customer Login"
MFA_HEADING = "Two-Step Verification"
DOCS_HEADING = "Shipment Documents"
DOCS_PATH = "/documents"
SUMMARY_TABLE = "Shipment summary"
POD_LINK = "Delivery Receipt (POD)"
BOL_LINK = "Bill of Lading"
SUMMARY_HEADERS = ("PRO Number", "BOL Number", "Ship Date", "Delivery Date", "Consignee")

TOKEN_NOTE = "haulstar.api_token"
TOKEN_MARGIN_SECONDS = 30.0
API_TIMEOUT_MS = 30_000
MAX_JSON_BYTES = 1024 * 1024

_PRO = re.compile(r"[0-9]{7,11}")
_BOL = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ./_-]{0,34}")
_SHIPPER_LINE = re.compile(
    r"^Shipper:\s*(?P<shipper>.*?)\s*·\s*PO:\s*(?P<po>.*?)\s*·\s*Weight:\s*(?P<weight>[\d,]+)\s*lb$"
)
_SIGNER_LINE = re.compile(r"^Received by:\s*(?P<v>.+)$")
_EXCEPTIONS_LINE = re.compile(r"^Delivery exceptions:\s*(?P<v>.+)$")
_ROWS_JS = """t => Array.from(t.querySelectorAll('tr')).map(
    r => Array.from(r.querySelectorAll('th,td')).map(c => (c.innerText || '').trim()))"""


@dataclass(frozen=True, repr=False)
class _ApiToken:
    """A bearer token and when it stops being worth sending (monotonic clock)."""

    value: Secret
    expires_at: float

    def __repr__(self) -> str:
        return "ApiToken(masked)"

    def fresh(self) -> bool:
        return time.monotonic() < self.expires_at - TOKEN_MARGIN_SECONDS


@dataclass
class _Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    url: str


def normalize_pro(raw: str) -> str | None:
    """HaulStar files PROs as 7 to 11 digits; dashes and spaces are dropped."""
    pro = re.sub(r"[\s-]", "", raw or "")
    return pro if _PRO.fullmatch(pro) else None


def normalize_bol(raw: str) -> str | None:
    bol = (raw or "").strip()
    return bol if _BOL.fullmatch(bol) else None


class HaulstarAdapter(CarrierAdapter):
    """Stateless; the API token (if any) lives in ``session.notes`` for one job."""

    portal: ClassVar[str] = PORTAL

    # ------------------------------------------------------------------ login

    async def login(self, session: AdapterSession) -> None:
        """One attempt: the API token when an API key is configured, else the web
        login (password, then the authenticator code).

        Raises BadCredentials (never retried here), MfaFailed, LayoutChanged,
        RateLimited, PortalUnavailable.
        """
        if _uses_api(session):
            await self._api_login(session)
        else:
            await self._web_login(session)
        session.logged_in = True

    async def is_logged_in(self, session: AdapterSession) -> bool:
        if _uses_api(session):
            token = session.notes.get(TOKEN_NOTE)
            return isinstance(token, _ApiToken) and token.fresh()
        return await shows_page(session, DOCS_PATH, DOCS_HEADING, login_heading=LOGIN_HEADING)

    # ------------------------------------------------------------------ lookup

    async def fetch_shipment_documents(
        self,
        session: AdapterSession,
        *,
        pro_number: str | None = None,
        bol_number: str | None = None,
    ) -> ShipmentDocuments | None:
        """The shipment with its bill of lading and (once imaged) delivery receipt.

        None when HaulStar shows no shipment for the number (or it cannot be a
        PRO/BOL). Safe to call again after any failure: every call starts from
        a known URL, and nothing on the portal changes.
        """
        if pro_number:
            by, number = "pro", normalize_pro(pro_number)
        elif bol_number:
            by, number = "bol", normalize_bol(bol_number)
        else:
            raise ValueError("give a PRO or a BOL number")
        if number is None:
            return None
        if _uses_api(session):
            return await self._api_fetch(session, by, number)
        return await self._web_fetch(session, by, number)

    # ================================================================== API

    async def _api_login(self, session: AdapterSession) -> None:
        step = "api_token"
        creds = session.credentials
        assert creds.api_key is not None
        reply = await _send(
            session,
            "POST",
            "/api/v1/auth/token",
            step=step,
            json_body={
                "api_key": creds.api_key.reveal(),
                "username": creds.username,
                "password": creds.password.reveal(),
            },
        )
        if reply.status in (401, 403):
            error = _json(reply, step).get("error", "")
            what = "the account is locked" if error == "account_locked" else "refused the login"
            raise BadCredentials(
                f"the document API {what} ({error or reply.status})", portal=PORTAL, step=step
            )
        raise_for_status(reply.status, reply.headers, portal=PORTAL, step=step, url=reply.url)
        if reply.status != 200:
            raise LayoutChanged(
                f"the token endpoint answered HTTP {reply.status}", portal=PORTAL, step=step
            )
        body = _json(reply, step)
        token, ttl = body.get("access_token"), body.get("expires_in")
        if not isinstance(token, str) or not token or len(token) > 4096:
            raise LayoutChanged("the token answer has no access_token", portal=PORTAL, step=step)
        seconds = float(ttl) if isinstance(ttl, int | float) and ttl > 0 else 300.0
        session.notes[TOKEN_NOTE] = _ApiToken(Secret(token), time.monotonic() + seconds)

    async def _api_get(self, session: AdapterSession, path: str, *, step: str) -> _Reply:
        """GET with the bearer token; one new token when the API refuses it.

        429 and 5xx are raised here; every other status is the caller's.
        """
        renewed = False
        while True:
            token = session.notes.get(TOKEN_NOTE)
            if not isinstance(token, _ApiToken) or not token.fresh():
                await self._api_login(session)
                renewed = True
                token = session.notes[TOKEN_NOTE]
                assert isinstance(token, _ApiToken)
            reply = await _send(
                session,
                "GET",
                path,
                step=step,
                headers={"authorization": f"Bearer {token.value.reveal()}"},
            )
            if reply.status != 401:
                raise_for_status(
                    reply.status, reply.headers, portal=PORTAL, step=step, url=reply.url
                )
                return reply
            session.notes.pop(TOKEN_NOTE, None)
            if renewed:
                raise SessionExpired(
                    "the document API refused a freshly issued token", portal=PORTAL, step=step
                )

    async def _api_fetch(
        self, session: AdapterSession, by: str, number: str
    ) -> ShipmentDocuments | None:
        step = "api_shipment"
        if by == "pro":
            reply = await self._api_get(session, f"/api/v1/shipments/{number}", step=step)
        else:
            reply = await self._api_get(
                session, "/api/v1/shipments?" + urlencode({"bol": number}), step=step
            )
        body = _json(reply, step)
        if reply.status in (400, 404):
            if body.get("error") in ("shipment_not_found", "invalid_pro", "invalid_bol"):
                return None
            raise LayoutChanged(
                f"the shipment API answered HTTP {reply.status} ({body.get('error')!r})",
                portal=PORTAL,
                step=step,
            )
        if reply.status != 200:
            raise LayoutChanged(
                f"the shipment API answered HTTP {reply.status}", portal=PORTAL, step=step
            )
        if by == "bol":
            found = body.get("shipments")
            if not isinstance(found, list):
                raise LayoutChanged(
                    "the BOL search has no shipments list", portal=PORTAL, step=step
                )
            matches = [
                s
                for s in found
                if isinstance(s, dict) and str(s.get("bol_number", "")).upper() == number.upper()
            ]
            if not matches:
                return None
            body = matches[0]
        elif str(body.get("pro_number", "")) != number:
            raise LayoutChanged(
                "the shipment API answered for another PRO", portal=PORTAL, step=step
            )
        pro = str(body["pro_number"])
        documents: list[FetchedDocument] = []
        pod_available = False
        listed = body.get("documents")
        if not isinstance(listed, list):
            raise LayoutChanged("the shipment has no documents list", portal=PORTAL, step=step)
        for doc in listed:
            if not isinstance(doc, dict) or doc.get("type") not in ("pod", "bol"):
                continue
            if not doc.get("available"):
                continue
            fetched = await self._api_document(session, pro, doc)
            if fetched is None:
                continue
            documents.append(fetched)
            pod_available = pod_available or fetched.role == "pod"
        record = _api_record(body, pod_available)
        return ShipmentDocuments(shipment=record, documents=documents, pod_available=pod_available)

    async def _api_document(
        self, session: AdapterSession, pro: str, doc: dict[str, Any]
    ) -> FetchedDocument | None:
        role = str(doc["type"])
        step = f"api_{role}"
        url = str(doc.get("url") or f"/api/v1/documents/{pro}/{role}")
        path = _same_origin_path(session, url, step)
        if not path.startswith("/api/v1/documents/"):
            # The bearer token goes nowhere but the document endpoints.
            raise LayoutChanged("a document URL outside the document API", portal=PORTAL, step=step)
        reply = await self._api_get(session, path, step=step)
        if reply.status == 404:
            error = _json(reply, step).get("error")
            if role == "pod" and error == "pod_not_available":
                return None  # imaged between the two calls' views: look again later
            raise LayoutChanged(
                f"the {role} document is missing ({error!r})", portal=PORTAL, step=step
            )
        if reply.status != 200:
            raise LayoutChanged(
                f"the {role} document answered HTTP {reply.status}", portal=PORTAL, step=step
            )
        _expect_pdf(reply.body, step)
        return FetchedDocument(
            role=role,
            filename=filename_from_disposition(
                reply.headers.get("content-disposition"), f"{role.upper()}_{pro}.pdf"
            ),
            data=reply.body,
            media_type=_media_type(reply.headers),
            ref=f"{role}:{pro}",
        )

    # ================================================================== web

    async def _web_login(self, session: AdapterSession) -> None:
        step = "login"
        page = await goto(session, "/login", step=step)
        session.requests += 1
        heading = await expect_heading(
            page, [DOCS_HEADING, LOGIN_HEADING], portal=PORTAL, step=step
        )
        if _is(heading, DOCS_HEADING):
            return  # the context's cookies are still good
        creds = session.credentials
        async with playwright_errors(PORTAL, step):
            await page.get_by_label("Username", exact=True).fill(creds.username)
            await page.get_by_label("Password", exact=True).fill(creds.password.reveal())
        await submit_form(session, page, "Log In", step)
        heading = await expect_heading(
            page, [DOCS_HEADING, MFA_HEADING, LOGIN_HEADING], portal=PORTAL, step=step
        )
        if _is(heading, LOGIN_HEADING):
            message = await alert_text(page)
            raise BadCredentials(
                f"the portal refused the login: {message or 'no reason shown'}",
                portal=PORTAL,
                step=step,
            )
        if _is(heading, MFA_HEADING):
            await self._web_totp(session, page)

    async def _web_totp(self, session: AdapterSession, page: Page) -> None:
        step = "totp"
        secret = session.credentials.totp_secret
        if secret is None:
            raise MfaFailed(
                "the portal asks for a verification code; no TOTP secret is stored",
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
            await page.get_by_label("Verification code", exact=True).fill(code.reveal())
        await submit_form(session, page, "Verify", step)
        heading = await expect_heading(
            page, [DOCS_HEADING, MFA_HEADING, LOGIN_HEADING], portal=PORTAL, step=step
        )
        if not _is(heading, DOCS_HEADING):
            message = await alert_text(page)
            raise MfaFailed(
                f"the verification code was refused: {message or 'no reason shown'}",
                portal=PORTAL,
                step=step,
            )

    async def _lookup_form(self, session: AdapterSession, step: str) -> Page:
        """The "Shipment Documents" page with its form: the open page when it is
        already that page (a previous lookup's result), else a fresh load."""
        page = await session.main_page()
        if urlsplit(page.url).path == DOCS_PATH and _same_origin(session, page.url):
            async with playwright_errors(PORTAL, step):
                here = await page.get_by_role("heading", name=DOCS_HEADING, level=1).count()
                form = await page.get_by_label("PRO or BOL number", exact=True).count()
            if here and form:
                return page
        page = await goto(session, DOCS_PATH, step=step)
        session.requests += 1
        await expect_heading(
            page, [DOCS_HEADING], portal=PORTAL, step=step, login_heading=LOGIN_HEADING
        )
        return page

    async def _web_fetch(
        self, session: AdapterSession, by: str, number: str
    ) -> ShipmentDocuments | None:
        step = "lookup"
        page = await self._lookup_form(session, step)
        async with playwright_errors(PORTAL, step):
            await page.get_by_label("Search by", exact=True).select_option(
                label="PRO Number" if by == "pro" else "BOL Number"
            )
            await page.get_by_label("PRO or BOL number", exact=True).fill(number)
        await submit_form(session, page, "Search", step)
        await expect_heading(
            page, [DOCS_HEADING], portal=PORTAL, step=step, login_heading=LOGIN_HEADING
        )
        async with playwright_errors(PORTAL, step):
            table = page.get_by_role("table", name=SUMMARY_TABLE, exact=True)
            if not await table.count():
                message = await alert_text(page)
                if re.search(r"No shipment found|Enter a valid", message, re.I):
                    return None
                raise LayoutChanged(
                    f"neither a shipment summary nor a 'not found' message ({message[:80]!r})",
                    portal=PORTAL,
                    step=step,
                )
            row = await _read_single_row(table, step)
            region = page.get_by_role("region", name=re.compile(r"^Shipment PRO", re.I))
            if await region.count() != 1:
                raise LayoutChanged(
                    "the shipment result section is missing", portal=PORTAL, step=step
                )
            text = await region.inner_text()
            pod_href = await link_href(region, POD_LINK)
            bol_href = await link_href(region, BOL_LINK)
            status_note = ""
            status = region.get_by_role("status")
            if await status.count():
                status_note = clean_text(await status.first.inner_text())
        key = "PRO Number" if by == "pro" else "BOL Number"
        if row[key].upper() != number.upper():
            raise LayoutChanged(f"the result is for another {key}", portal=PORTAL, step=step)
        documents: list[FetchedDocument] = []
        pro = row["PRO Number"]
        for role, href in (("pod", pod_href), ("bol", bol_href)):
            if href is None:
                continue
            path = _same_origin_path(session, urljoin(page.url, href), f"web_{role}")
            data, headers = await fetch_bytes(session, path, step=f"web_{role}")
            session.requests += 1
            documents.append(
                FetchedDocument(
                    role=role,
                    filename=filename_from_disposition(
                        headers.get("content-disposition"), f"{role.upper()}_{pro}.pdf"
                    ),
                    data=data,
                    media_type=_media_type(headers),
                    ref=f"{role}:{pro}",
                )
            )
        pod_available = any(d.role == "pod" for d in documents)
        record = _web_record(row, text, status_note, pod_available)
        return ShipmentDocuments(shipment=record, documents=documents, pod_available=pod_available)


# ---------------------------------------------------------------------- records


def _web_record(
    row: dict[str, str], text: str, pod_note: str, pod_available: bool
) -> ShipmentRecord:
    rules = portal_rules(PORTAL)
    raw: dict[str, Any] = dict(row)
    shipper, po_numbers, weight = "", [], None
    signer, exceptions = "", []
    for line in (clean_text(x) for x in text.splitlines()):
        if m := _SHIPPER_LINE.match(line):
            raw["Shipper line"] = line
            shipper = m["shipper"]
            po_numbers = [p.strip() for p in m["po"].split(",") if p.strip()]
            weight = int(m["weight"].replace(",", ""))
        elif m := _SIGNER_LINE.match(line):
            raw["Received by"] = m["v"]
            signer = m["v"]
        elif m := _EXCEPTIONS_LINE.match(line):
            raw["Delivery exceptions"] = m["v"]
            exceptions = [e.strip() for e in m["v"].split(";") if e.strip()]
    if pod_note:
        raw["POD message"] = pod_note
    try:
        delivered = row.get("Delivery Date", "")
        pieces = row.get("Pieces", "").replace(",", "")
        return ShipmentRecord(
            carrier=PORTAL,
            pro_number=row["PRO Number"],
            bol_number=row["BOL Number"],
            po_numbers=po_numbers,
            shipper=shipper,
            consignee=row["Consignee"],
            ship_date=rules.date(row["Ship Date"]) if row["Ship Date"] else None,
            delivery_date=rules.date(delivered) if delivered else None,
            pieces_shipped=int(pieces) if pieces else None,
            weight_lb=weight,
            exceptions=exceptions,
            signer=signer,
            pod_status=PodStatus.fetched if pod_available else PodStatus.not_available,
            raw=raw,
        )
    except (NormalizationError, ValidationError, ValueError) as exc:
        raise RecordInvalid(
            f"the shipment summary cannot be read: {_first(exc)}",
            raw=raw,
            external_id=row.get("PRO Number"),
            kind="shipment",
            portal=PORTAL,
            step="lookup",
        ) from None


def _api_record(body: dict[str, Any], pod_available: bool) -> ShipmentRecord:
    rules = portal_rules(PORTAL)
    raw = {k: v for k, v in body.items() if k != "documents"}
    raw["documents"] = [
        {"type": d.get("type"), "available": d.get("available")}
        for d in body.get("documents", [])
        if isinstance(d, dict)
    ]

    def party(key: str, field: str) -> str:
        value = body.get(key)
        return str(value.get(field) or "") if isinstance(value, dict) else ""

    try:
        return ShipmentRecord(
            carrier=PORTAL,
            pro_number=str(body["pro_number"]),
            bol_number=str(body.get("bol_number") or ""),
            po_numbers=[str(p) for p in body.get("po_numbers") or []],
            shipper=party("shipper", "name"),
            consignee=party("consignee", "name"),
            consignee_address=party("consignee", "address"),
            ship_date=rules.date(body["ship_date"]) if body.get("ship_date") else None,
            delivery_date=rules.date(body["delivery_date"]) if body.get("delivery_date") else None,
            pieces_shipped=body.get("pieces"),
            pieces_delivered=body.get("pieces_delivered"),
            weight_lb=body.get("weight_lb"),
            exceptions=[str(e) for e in body.get("exceptions") or []],
            signer=str(body.get("signed_by") or ""),
            pod_status=PodStatus.fetched if pod_available else PodStatus.not_available,
            raw=raw,
        )
    except (NormalizationError, ValidationError, ValueError, KeyError, TypeError) as exc:
        raise RecordInvalid(
            f"the shipment answer cannot be read: {_first(exc)}",
            raw=raw,
            external_id=str(body.get("pro_number") or "") or None,
            kind="shipment",
            portal=PORTAL,
            step="api_shipment",
        ) from None


# ---------------------------------------------------------------------- plumbing


def _uses_api(session: AdapterSession) -> bool:
    return bool(session.credentials.api_key)


def _is(heading: str, name: str) -> bool:
    return name.lower() in heading.lower()


def _first(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


async def _read_single_row(table: Locator, step: str) -> dict[str, str]:
    """The table's one data row keyed by header text (columns may move)."""
    rows: list[list[str]] = await table.first.evaluate(_ROWS_JS)
    if len(rows) < 2:
        raise LayoutChanged("the shipment summary has no data row", portal=PORTAL, step=step)
    headers = [clean_text(h) for h in rows[0]]
    missing = [h for h in SUMMARY_HEADERS if h not in headers]
    if missing or len(rows[1]) != len(headers):
        raise LayoutChanged(
            f"the shipment summary lacks columns {missing} (has {headers})",
            portal=PORTAL,
            step=step,
        )
    return {h: clean_text(v) for h, v in zip(headers, rows[1], strict=True)}


def _same_origin(session: AdapterSession, url: str) -> bool:
    a, b = urlsplit(url), urlsplit(session.base_url)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)


def _same_origin_path(session: AdapterSession, url: str, step: str) -> str:
    """A path on the portal's own origin; a link elsewhere is not followed."""
    parts = urlsplit(urljoin(session.base_url + "/", url))
    if not _same_origin(session, parts.geturl()) or not parts.path.startswith("/"):
        raise LayoutChanged("a document link points off the portal", portal=PORTAL, step=step)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _media_type(headers: dict[str, str]) -> str:
    value = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return value or "application/octet-stream"


def _expect_pdf(data: bytes, step: str) -> None:
    kind = sniff_kind(data)
    if kind != "pdf":
        raise LayoutChanged(f"expected a PDF, got {kind}", portal=PORTAL, step=step)


def _json(reply: _Reply, step: str) -> dict[str, Any]:
    try:
        value = json.loads(reply.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise LayoutChanged(
            f"the API answered HTTP {reply.status} with something that is not JSON",
            portal=PORTAL,
            step=step,
        ) from None
    if not isinstance(value, dict):
        raise LayoutChanged("the API answer is not a JSON object", portal=PORTAL, step=step)
    return value


async def _send(
    session: AdapterSession,
    method: str,
    path: str,
    *,
    step: str,
    headers: dict[str, str] | None = None,
    json_body: dict[str, str] | None = None,
) -> _Reply:
    """One request through the context's request API, size-bounded; no status
    mapping (the caller knows what 401 and 404 mean for it)."""
    url = session.url(path)
    if session.throttle is not None:
        await session.throttle()
    async with playwright_errors(PORTAL, step):
        resp = await session.context.request.fetch(
            url,
            method=method,
            headers=headers,
            data=json_body,
            timeout=DOWNLOAD_TIMEOUT_MS if "/documents/" in path else API_TIMEOUT_MS,
            max_redirects=3,
        )
        try:
            cap = DEFAULT_MAX_BYTES if "/documents/" in path else MAX_JSON_BYTES
            length = int(resp.headers.get("content-length") or 0)
            if length > cap:
                raise LayoutChanged(
                    f"an answer of {length} bytes is over the {cap} cap", portal=PORTAL, step=step
                )
            body = await resp.body()
            reply = _Reply(resp.status, dict(resp.headers), body, resp.url)
        finally:
            await resp.dispose()
    session.requests += 1
    if len(reply.body) > DEFAULT_MAX_BYTES:
        raise LayoutChanged("an answer over the size cap", portal=PORTAL, step=step)
    if reply.status >= 500:
        raise PortalUnavailable(
            f"HTTP {reply.status} at {path.split('?')[0]}", portal=PORTAL, step=step
        )
    return reply
