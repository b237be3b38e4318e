"""HTTP without rendering: requests through the context's authenticated request
API (never off the portal's origin, size-bounded), statuses as PortalErrors,
documents checked for what their bytes really are, and the header values read
with the standard library's parsers."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.utils import collapse_rfc2231_value, parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from playwright.async_api import APIResponse, Response

from portal_adapters.base import AdapterSession, FetchedDocument
from portal_adapters.errors import (
    LayoutChanged,
    PortalUnavailable,
    RateLimited,
    RecordInvalid,
    SessionExpired,
)
from portal_adapters.web.failures import playwright_errors
from records.bounded_json import check_depth
from records.sniff import CSV, HTML, JSON, PDF, TEXT, XML, ZIP, sniff_media_type

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
MAX_JSON_BYTES = 4 * 1024 * 1024
DOWNLOAD_TIMEOUT_MS = 60_000
API_TIMEOUT_MS = 30_000
MAX_URL = 2000
_LOGIN_HINTS = re.compile(r"(sign in|log in|log on|login|password|session has expired)", re.I)


def retry_after_seconds(
    value: str | None, default: float = 30.0, *, now: datetime | None = None
) -> float:
    """Retry-After as seconds: delta-seconds or an HTTP date (RFC 9110 10.2.3).

    A date is read with ``email.utils.parsedate_to_datetime``; one in the past
    is 0. Anything unreadable is ``default``.
    """
    if not value or not value.strip():
        return default
    text = value.strip()
    if text.isdigit():
        return float(text[:10])
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return default
    if when.tzinfo is None:  # "-0000": UTC by the RFC
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def raise_for_status(
    status: int, headers: Mapping[str, str], *, portal: str, step: str, url: str = ""
) -> None:
    """Map an HTTP status to the PortalError it means; 2xx/3xx/4xx but 401 and 429 pass."""
    where = f" at {url_path(url)}" if url else ""
    if status == 429:
        raise RateLimited(
            f"HTTP 429{where}",
            retry_after=retry_after_seconds(headers.get("retry-after")),
            portal=portal,
            step=step,
        )
    if status == 401:
        raise SessionExpired(f"HTTP 401{where}", portal=portal, step=step)
    if status >= 500:
        raise PortalUnavailable(f"HTTP {status}{where}", portal=portal, step=step)


def check_response(response: Response | APIResponse | None, *, portal: str, step: str) -> None:
    if response is None:
        return
    raise_for_status(response.status, response.headers, portal=portal, step=step, url=response.url)


def url_path(url: str) -> str:
    """The path of a URL without its query (which could carry tokens), bounded."""
    return urlsplit(url).path[:200]


def media_type(headers: Mapping[str, str], default: str = "application/octet-stream") -> str:
    """The Content-Type's type/subtype, lower case; ``default`` when it is not one."""
    value = (headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    return value[:127] if re.fullmatch(r"[a-z0-9.+-]+/[a-z0-9.+-]+", value) else default


def filename_from_disposition(value: str | None, default: str) -> str:
    """The file name a Content-Disposition header claims (untrusted: metadata only).

    Parsed by ``email.message.Message``: quoted names and RFC 2231's
    ``filename*=UTF-8''...``, which wins over a plain ``filename`` given with
    it (RFC 6266 4.3). Bounded; ``default`` when there is none.
    """
    if not value:
        return default
    msg = Message()
    msg["content-disposition"] = value[:2000]
    try:
        params = msg.get_params(header="content-disposition") or []
        extended = [v for k, v in params if k == "filename" and isinstance(v, tuple)]
        name = collapse_rfc2231_value(extended[-1]) if extended else msg.get_filename()
    except (ValueError, LookupError, UnicodeError):
        return default
    return (name or "").strip()[:500] or default


# ====================================================================== requests


@dataclass(frozen=True)
class Reply:
    """One answer from the context's request API. ``oversize``: the answer was
    over the caller's cap, so its body was not read (``body`` is empty)."""

    status: int
    headers: dict[str, str]
    body: bytes
    url: str
    oversize: bool = False

    def json_object(self) -> dict[str, Any] | None:
        """The body as a JSON object, or None when it is not one."""
        return json_object(self.body)


def json_object(body: bytes) -> dict[str, Any] | None:
    """``body`` as a JSON object, or None when it is not one (or nests too deep
    to read: records.bounded_json)."""
    try:
        text = body.decode(json.detect_encoding(body), "surrogatepass")
        check_depth(text)
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError):  # JsonTooDeep is a ValueError
        return None
    return data if isinstance(data, dict) else None


def portal_url(session: AdapterSession, href: str | None, *, step: str, base: str = "") -> str:
    """An absolute URL on the portal's own origin for a path or a link it printed.

    A path ("/claims/...") is joined to the base URL; a link is resolved
    against ``base`` (the page it was on). Anything off the portal's origin
    (another host, ``javascript:``) is LayoutChanged: cookies and tokens go
    nowhere else.
    """
    if not href or len(href) > MAX_URL:
        raise LayoutChanged("a link without a usable target", portal=session.portal, step=step)
    if not base and href.startswith("/") and not href.startswith("//"):
        full = session.url(href)
    else:
        full = urljoin(base or session.url("/"), href)
    if not same_origin(full, session.base_url):
        raise LayoutChanged(
            f"a link leaves the portal ({href[:80]!r})", portal=session.portal, step=step
        )
    return full


def same_origin(url: str, other: str) -> bool:
    """Whether two URLs share scheme, host and port."""
    a, b = urlsplit(url), urlsplit(other)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)


async def request(
    session: AdapterSession,
    url: str,
    *,
    step: str,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    params: dict[str, str | float | bool] | None = None,
    json_body: dict[str, Any] | None = None,
    max_bytes: int = MAX_JSON_BYTES,
    timeout_ms: float = API_TIMEOUT_MS,
    max_redirects: int = 5,
) -> Reply:
    """One request through the context's request API (its cookies, no rendering).

    Never leaves the portal's origin, waits for the session's throttle, counts
    in ``session.requests``, and reads no body over ``max_bytes``. Statuses are
    the caller's to map (each knows what 401 or 404 means for it).
    """
    full = portal_url(session, url, step=step)
    if session.throttle is not None:
        await session.throttle()
    async with playwright_errors(session.portal, step):
        resp = await session.context.request.fetch(
            full,
            method=method,
            headers=headers,
            params=params,
            data=json_body,
            timeout=timeout_ms,
            max_redirects=max_redirects,
        )
        session.api_requests += 1
        try:
            length = resp.headers.get("content-length", "")
            oversize = length.isdigit() and int(length) > max_bytes
            body = b"" if oversize else await resp.body()
            if len(body) > max_bytes:
                body, oversize = b"", True
            reply = Reply(resp.status, dict(resp.headers), body, resp.url, oversize)
        finally:
            await resp.dispose()
    session.requests += 1
    return reply


_KINDS = {
    PDF: "pdf",
    ZIP: "zip",
    HTML: "html",
    CSV: "text",
    TEXT: "text",
    JSON: "text",
    XML: "text",
}


def sniff_kind(data: bytes) -> str:
    """pdf, zip, html, text or binary, from the bytes alone (``records.sniff``).

    A PDF is one with ``%PDF-`` in its first 1024 bytes, the rule PDF readers
    apply (Acrobat since PDF 1.4's implementation notes, pdf.js, pypdf): a
    stray BOM or blank line a portal prepends does not make a PDF something
    else, while a page that only mentions ``%PDF-`` further down is not one.
    """
    return _KINDS.get(sniff_media_type(data), "binary")


def is_pdf(data: bytes) -> bool:
    return sniff_kind(data) == "pdf"


def document_bytes(
    reply: Reply,
    *,
    session: AdapterSession,
    step: str,
    expect: tuple[str, ...] = ("pdf",),
    ref: str | None = None,
) -> bytes:
    """The bytes of a document answer, or why they are not one.

    401/429/5xx are SessionExpired/RateLimited/PortalUnavailable; a login page
    where a document was expected is SessionExpired. What is wrong with this
    one document (404, over the size cap, not what it should be, served as a
    PDF while it is not one) is RecordInvalid (``kind="document"``) for it.
    """
    portal = session.portal
    raise_for_status(reply.status, reply.headers, portal=portal, step=step, url=reply.url)
    kind = "" if reply.oversize else sniff_kind(reply.body)
    raw = {"url_path": url_path(reply.url), "status": str(reply.status), "sniffed": kind}
    raw["content_type"] = (reply.headers.get("content-type") or "")[:100]

    def invalid(message: str) -> RecordInvalid:
        return RecordInvalid(
            message, raw=raw, external_id=ref, kind="document", portal=portal, step=step
        )

    if reply.status == 404:
        raise invalid(f"document not found at {url_path(reply.url)}")
    if reply.oversize:
        raise invalid("document over the size cap")
    if kind == "html" and _LOGIN_HINTS.search(reply.body[:20_000].decode("utf-8", "replace")):
        raise SessionExpired(
            "a login page came back instead of a document", portal=portal, step=step
        )
    if reply.status != 200:
        raise invalid(f"HTTP {reply.status} where a document was expected")
    if kind not in expect:
        raise invalid(f"expected {'/'.join(expect)} from {url_path(reply.url)}, got {kind}")
    if media_type(reply.headers) == PDF and kind != "pdf":
        raise invalid(f"served as a PDF but is {kind}")
    return reply.body


async def fetch_bytes(
    session: AdapterSession,
    url: str,
    *,
    step: str,
    expect: tuple[str, ...] = ("pdf",),
    max_bytes: int = DEFAULT_MAX_BYTES,
    headers: dict[str, str] | None = None,
    ref: str | None = None,
) -> Reply:
    """GET a document through the request API and check it (``document_bytes``)."""
    reply = await request(
        session,
        url,
        step=step,
        headers=headers,
        max_bytes=max_bytes,
        timeout_ms=DOWNLOAD_TIMEOUT_MS,
    )
    document_bytes(reply, session=session, step=step, expect=expect, ref=ref)
    return reply


def fetched_document(
    reply: Reply, *, role: str, ref: str, filename: str, default_type: str = ""
) -> FetchedDocument:
    """A checked document answer as a FetchedDocument (the portal's file name
    and media type are claims, kept as metadata; the vault sniffs and sanitises)."""
    return FetchedDocument(
        role=role,
        filename=filename_from_disposition(reply.headers.get("content-disposition"), filename),
        data=reply.body,
        media_type=media_type(reply.headers, default_type or "application/octet-stream"),
        ref=ref,
    )
