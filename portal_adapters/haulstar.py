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

One shipment that cannot be read (a value that does not validate, such as an
absurd piece count; an answer about another PRO; a listed document that is
missing or not a PDF) comes back as that shipment's RecordInvalid, never as
an exception: the caller quarantines it and looks up the next number.

Requests per shipment: API 1 lookup + 1 per available document (3 with POD and
BOL; the token once per job); web 1 lookup page (+1 to open the form when the
page is not on it already) + 1 per document.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import quote, urlencode, urlsplit

from playwright.async_api import Page

from credentials.secret import Secret
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
    RecordInvalid,
    SessionExpired,
)
from portal_adapters.web import (
    DEFAULT_MAX_BYTES,
    DOWNLOAD_TIMEOUT_MS,
    MAX_JSON_BYTES,
    Reply,
    ShipmentResult,
    alert_text,
    build_record,
    check_asked,
    document_bytes,
    expect_heading,
    fetched_document,
    fill_secret,
    form_page,
    goto,
    playwright_errors,
    portal_url,
    raise_for_status,
    read_field,
    read_lines,
    request,
    shipment_documents,
    shipment_from_result,
    shipment_record,
    shows_page,
    split_list,
    submit_code,
    submit_form,
    untraced,
)
from records.normalize import portal_rules
from records.schemas import ShipmentRecord

PORTAL = "haulstar"

LOGIN_HEADING = "Customer Login"
MFA_HEADING = "Two-Step Verification"
DOCS_HEADING = "Shipment Documents"
DOCS_PATH = "/documents"
NUMBER_LABEL = "PRO or BOL number"
SUMMARY_TABLE = "Shipment summary"
POD_LINK = "Delivery Receipt (POD)"
BOL_LINK = "Bill of Lading"
SUMMARY_HEADERS = ("PRO Number", "BOL Number", "Ship Date", "Delivery Date", "Consignee")

TOKEN_NOTE = "haulstar.api_token"
TOKEN_MARGIN_SECONDS = 30.0
DOCUMENT_API = "/api/v1/documents/"

_PRO = re.compile(r"[0-9]{7,11}")
_BOL = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ./_-]{0,34}")
_SHIPPER_LINE = re.compile(  # what follows "Shipper:"
    r"^(?P<shipper>.*?)\s*·\s*PO:\s*(?P<po>.*?)\s*·\s*Weight:\s*(?P<weight>[\d,]+)\s*lb$"
)


@dataclass(frozen=True, repr=False)
class _ApiToken:
    """A bearer token and when it stops being worth sending (monotonic clock)."""

    value: Secret
    expires_at: float

    def __repr__(self) -> str:
        return "ApiToken(masked)"

    def fresh(self) -> bool:
        return time.monotonic() < self.expires_at - TOKEN_MARGIN_SECONDS


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
    ) -> ShipmentDocuments | RecordInvalid | None:
        """The shipment with its bill of lading and (once imaged) delivery receipt.

        None when HaulStar shows no shipment for the number (or it cannot be a
        PRO/BOL); the shipment's RecordInvalid when what it shows cannot be
        read. Safe to call again after any failure: every call starts from a
        known URL, and nothing on the portal changes.
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
        async with untraced(session.context):  # the body holds the key and password
            reply = await request(
                session,
                "/api/v1/auth/token",
                method="POST",
                step=step,
                json_body={
                    "api_key": creds.api_key.reveal(),
                    "username": creds.username,
                    "password": creds.password.reveal(),
                },
                max_redirects=3,
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

    async def _api_get(self, session: AdapterSession, path: str, *, step: str) -> Reply:
        """GET with the bearer token; one new token when the API refuses it.

        429 and 5xx are raised here; every other status is the caller's. The
        token goes to the document API's own paths only.
        """
        document = path.startswith(DOCUMENT_API)
        renewed = False
        while True:
            token = session.notes.get(TOKEN_NOTE)
            if not isinstance(token, _ApiToken) or not token.fresh():
                await self._api_login(session)
                renewed = True
                token = session.notes[TOKEN_NOTE]
                assert isinstance(token, _ApiToken)
            async with untraced(session.context):  # the header holds the token
                reply = await request(
                    session,
                    path,
                    step=step,
                    headers={"authorization": f"Bearer {token.value.reveal()}"},
                    max_bytes=DEFAULT_MAX_BYTES if document else MAX_JSON_BYTES,
                    timeout_ms=DOWNLOAD_TIMEOUT_MS if document else 30_000,
                    max_redirects=3,
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
    ) -> ShipmentDocuments | RecordInvalid | None:
        step = "api_shipment"
        if by == "pro":
            path = "/api/v1/shipments/" + quote(number, safe="")
        else:
            path = "/api/v1/shipments?" + urlencode({"bol": number})
        reply = await self._api_get(session, path, step=step)
        body = _json(reply, step)
        if reply.status in (400, 404):
            if body.get("error") in ("shipment_not_found", "invalid_pro", "invalid_bol"):
                return None
            raise LayoutChanged(
                f"the shipment API answered HTTP {reply.status} ({str(body.get('error'))[:40]!r})",
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
        listed = body.get("documents")
        if not isinstance(listed, list):
            raise LayoutChanged("the shipment has no documents list", portal=PORTAL, step=step)
        record = _api_record(body, asked=(by, number))
        if isinstance(record, RecordInvalid):
            return record
        pro = record.pro_number
        documents: list[FetchedDocument] = []
        for doc in listed:
            if not isinstance(doc, dict) or doc.get("type") not in ("pod", "bol"):
                continue
            if not doc.get("available"):
                continue
            try:
                fetched = await self._api_document(session, pro, doc)
            except RecordInvalid as exc:
                exc.raw = {"pro_number": pro, "role": str(doc["type"]), **exc.raw}
                return exc
            if fetched is not None:
                documents.append(fetched)
        return shipment_documents(record, documents)

    async def _api_document(
        self, session: AdapterSession, pro: str, doc: dict[str, Any]
    ) -> FetchedDocument | None:
        role = str(doc["type"])
        step = f"api_{role}"
        given = doc.get("url")
        url = str(given) if isinstance(given, str) and given else f"{DOCUMENT_API}{pro}/{role}"
        parts = urlsplit(portal_url(session, url, step=step))
        if not parts.path.startswith(DOCUMENT_API):
            # The bearer token goes nowhere but the document endpoints.
            raise LayoutChanged("a document URL outside the document API", portal=PORTAL, step=step)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        reply = await self._api_get(session, path, step=step)
        not_imaged = (reply.json_object() or {}).get("error") == "pod_not_available"
        if reply.status == 404 and role == "pod" and not_imaged:
            return None  # imaged between the two calls' views: look again later
        document_bytes(reply, session=session, step=step, ref=f"{role}:{pro}")
        return fetched_document(
            reply, role=role, ref=f"{role}:{pro}", filename=f"{role.upper()}_{pro}.pdf"
        )

    # ================================================================== web

    async def _web_login(self, session: AdapterSession) -> None:
        step = "login"
        page = await goto(session, "/login", step=step)
        heading = await expect_heading(
            page, [DOCS_HEADING, LOGIN_HEADING], portal=PORTAL, step=step
        )
        if _is(heading, DOCS_HEADING):
            return  # the context's cookies are still good
        creds = session.credentials
        async with playwright_errors(PORTAL, step):
            await page.get_by_label("Username", exact=True).fill(creds.username)
            await fill_secret(page.get_by_label("Password", exact=True), creds.password)
        await submit_form(session, page, "Log In", step)
        heading = await expect_heading(
            page, [DOCS_HEADING, MFA_HEADING, LOGIN_HEADING], portal=PORTAL, step=step
        )
        if _is(heading, LOGIN_HEADING):
            message = await alert_text(page, portal=PORTAL, step=step)
            raise BadCredentials(
                f"the portal refused the login: {message or 'no reason shown'}",
                portal=PORTAL,
                step=step,
            )
        if _is(heading, MFA_HEADING):
            await self._web_totp(session, page)

    async def _web_totp(self, session: AdapterSession, page: Page) -> None:
        step = "totp"
        await submit_code(session, page, label="Verification code", button="Verify", step=step)
        heading = await expect_heading(
            page, [DOCS_HEADING, MFA_HEADING, LOGIN_HEADING], portal=PORTAL, step=step
        )
        if not _is(heading, DOCS_HEADING):
            message = await alert_text(page, portal=PORTAL, step=step)
            raise MfaFailed(
                f"the verification code was refused: {message or 'no reason shown'}",
                portal=PORTAL,
                step=step,
            )

    async def _web_fetch(
        self, session: AdapterSession, by: str, number: str
    ) -> ShipmentDocuments | RecordInvalid | None:
        step = "lookup"
        page = await form_page(
            session,
            DOCS_PATH,
            heading=DOCS_HEADING,
            field_label=NUMBER_LABEL,
            login_heading=LOGIN_HEADING,
            step=step,
        )
        async with playwright_errors(PORTAL, step):
            await page.get_by_label("Search by", exact=True).select_option(
                label="PRO Number" if by == "pro" else "BOL Number"
            )
            await page.get_by_label(NUMBER_LABEL, exact=True).fill(number)
        await submit_form(session, page, "Search", step)
        await expect_heading(
            page, [DOCS_HEADING], portal=PORTAL, step=step, login_heading=LOGIN_HEADING
        )
        async with playwright_errors(PORTAL, step):
            table = page.get_by_role("table", name=SUMMARY_TABLE, exact=True)
            if not await table.count():
                message = await alert_text(page, portal=PORTAL, step=step)
                if re.search(r"No shipment found|Enter a valid", message, re.I):
                    return None
                raise LayoutChanged(
                    f"neither a shipment summary nor a 'not found' message ({message[:80]!r})",
                    portal=PORTAL,
                    step=step,
                )
            region = page.get_by_role("region", name=re.compile(r"^Shipment PRO", re.I))
            if await region.count() != 1:
                raise LayoutChanged(
                    "the shipment result section is missing", portal=PORTAL, step=step
                )
        return await shipment_from_result(
            session,
            page,
            region,
            table=SUMMARY_TABLE,
            headers=SUMMARY_HEADERS,
            links={"pod": POD_LINK, "bol": BOL_LINK},
            parse=lambda result: _web_record(result, asked=(by, number)),
            step=step,
        )


# ---------------------------------------------------------------------- records


def _web_record(
    result: ShipmentResult, *, asked: tuple[str, str]
) -> ShipmentRecord | RecordInvalid:
    raw: dict[str, Any] = dict(result.row)
    lines = read_lines(result, ("Shipper", "Received by", "Delivery exceptions"), raw)
    shipper_line = _SHIPPER_LINE.match(lines.get("Shipper", ""))
    shipper = shipper_line["shipper"] if shipper_line else ""
    po_numbers = split_list(shipper_line["po"], ",") if shipper_line else []
    weight = shipper_line["weight"].replace(",", "") if shipper_line else ""
    return shipment_record(
        result,
        carrier=PORTAL,
        asked=asked,
        raw=raw,
        delivered="Delivery Date",
        step="lookup",
        extra=lambda: {
            "po_numbers": po_numbers,
            "shipper": shipper,
            "weight_lb": read_field("Weight", int, weight) if weight else None,
            "exceptions": split_list(lines.get("Delivery exceptions", "")),
            "signer": lines.get("Received by", ""),
        },
    )


def _api_record(body: dict[str, Any], *, asked: tuple[str, str]) -> ShipmentRecord | RecordInvalid:
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

    def day(key: str) -> Any:
        return read_field(key, rules.date, body[key]) if body.get(key) else None

    def build() -> ShipmentRecord:
        check_asked(
            {
                "PRO Number": str(body.get("pro_number", "")),
                "BOL Number": str(body.get("bol_number", "")),
            },
            asked,
        )
        return ShipmentRecord(
            carrier=PORTAL,
            pro_number=str(body["pro_number"]),
            bol_number=str(body.get("bol_number") or ""),
            po_numbers=[str(p) for p in body.get("po_numbers") or []],
            shipper=party("shipper", "name"),
            consignee=party("consignee", "name"),
            consignee_address=party("consignee", "address"),
            ship_date=day("ship_date"),
            delivery_date=day("delivery_date"),
            pieces_shipped=body.get("pieces"),
            pieces_delivered=body.get("pieces_delivered"),
            weight_lb=body.get("weight_lb"),
            exceptions=[str(e) for e in body.get("exceptions") or []],
            signer=str(body.get("signed_by") or ""),
            raw=raw,
        )

    return build_record(
        build,
        raw=raw,
        external_id=str(body.get("pro_number") or "") or asked[1],
        kind="shipment",
        portal=PORTAL,
        step="api_shipment",
        what="the shipment answer cannot be read",
    )


# ---------------------------------------------------------------------- plumbing


def _uses_api(session: AdapterSession) -> bool:
    return bool(session.credentials.api_key)


def _is(heading: str, name: str) -> bool:
    return name.lower() in heading.lower()


def _json(reply: Reply, step: str) -> dict[str, Any]:
    if reply.oversize:
        raise LayoutChanged("an API answer over the size cap", portal=PORTAL, step=step)
    value = reply.json_object()
    if value is None:
        raise LayoutChanged(
            f"the API answered HTTP {reply.status} with something that is not a JSON object",
            portal=PORTAL,
            step=step,
        )
    return value
