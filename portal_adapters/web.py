"""Playwright and HTTP plumbing every adapter shares: mapping failures into
the PortalError tree, checking that a page is the page we expect, and fetching
document bytes through the context's authenticated request API.

The one rule behind all of it: a page or a response we did not expect is an
error with a class, never an empty result.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Iterable

from playwright.async_api import APIResponse, Locator, Page, Response
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

from portal_adapters.base import AdapterSession
from portal_adapters.errors import (
    LayoutChanged,
    PortalError,
    PortalUnavailable,
    RateLimited,
    SessionExpired,
)
from records.normalize import clean_text

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DOWNLOAD_TIMEOUT_MS = 60_000
_LOGIN_HINTS = re.compile(r"(sign in|log in|login|password|session has expired)", re.I)


def retry_after_seconds(value: str | None, default: float = 30.0) -> float:
    """Retry-After as seconds (delta-seconds only; an HTTP date falls back to default)."""
    if not value:
        return default
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        return default


def raise_for_status(
    status: int, headers: dict[str, str], *, portal: str, step: str, url: str = ""
) -> None:
    """Map an HTTP status to the PortalError it means; 2xx/3xx/404 pass through."""
    where = f" at {_path(url)}" if url else ""
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


def _path(url: str) -> str:
    """The path of a URL without its query (which could carry tokens)."""
    return re.sub(r"^[a-z]+://[^/]+", "", url).split("?", 1)[0][:200]


@contextlib.asynccontextmanager
async def playwright_errors(portal: str, step: str) -> AsyncIterator[None]:
    """Translate Playwright's own errors at the adapter boundary.

    Time-outs and network failures mean the portal is unavailable; anything
    else from Playwright (a detached frame, a closed page) is treated the same,
    since retrying from a known page is the safe answer to both.
    """
    try:
        yield
    except PortalError:
        raise
    except PlaywrightTimeout as exc:
        raise PortalUnavailable(
            f"timed out: {_first_line(exc)}", portal=portal, step=step
        ) from None
    except PlaywrightError as exc:
        raise PortalUnavailable(
            f"browser error: {_first_line(exc)}", portal=portal, step=step
        ) from None


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__


async def goto(
    session: AdapterSession, path_or_url: str, *, step: str, timeout_ms: float = 30_000
) -> Page:
    """Navigate the session's page and check the answer's status."""
    page = await session.main_page()
    url = path_or_url if "://" in path_or_url else session.url(path_or_url)
    async with playwright_errors(session.portal, step):
        response = await page.goto(url, wait_until="domcontentloaded", timeout=timeout_ms)
    check_response(response, portal=session.portal, step=step)
    return page


async def expect_heading(
    page: Page,
    names: Iterable[str],
    *,
    portal: str,
    step: str,
    login_heading: str | None = None,
    timeout_ms: float = 10_000,
) -> str:
    """Wait for one of the expected headings; say what the page is otherwise.

    A login page where a logged-in page was expected is SessionExpired; any
    other page is LayoutChanged, with its title and first heading quoted.
    """
    wanted = list(names)
    pattern = re.compile(
        "|".join(re.escape(n) for n in wanted + ([login_heading] if login_heading else [])), re.I
    )
    heading = page.get_by_role("heading", name=pattern).first
    try:
        await heading.wait_for(state="visible", timeout=timeout_ms)
        text = (await heading.inner_text()).strip()
    except PlaywrightTimeout:
        text = ""
    except PlaywrightError as exc:
        raise PortalUnavailable(
            f"browser error: {_first_line(exc)}", portal=portal, step=step
        ) from None
    if text and login_heading and re.search(re.escape(login_heading), text, re.I):
        raise SessionExpired("the portal showed its login page", portal=portal, step=step)
    if text and any(re.search(re.escape(n), text, re.I) for n in wanted):
        return text
    seen = await describe_page(page)
    raise LayoutChanged(f"expected a page headed {wanted!r}, saw {seen}", portal=portal, step=step)


async def describe_page(page: Page) -> str:
    """Title and first heading, for error messages (bounded, no form values)."""
    try:
        title = (await page.title())[:80]
        h = page.locator("h1, h2").first
        head = (await h.inner_text(timeout=1_000))[:80] if await h.count() else ""
    except PlaywrightError:
        return "an unreadable page"
    return f"title {title!r}, heading {head!r}"


def sniff_kind(data: bytes) -> str:
    """pdf, zip, html, text or binary: enough to tell a document from an error page."""
    head = data[:1024].lstrip()
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        return "zip"
    if head[:15].lower().startswith((b"<!doctype html", b"<html")) or b"<body" in head.lower():
        return "html"
    try:
        data[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return "binary"
    return "text"


async def fetch_bytes(
    session: AdapterSession,
    url: str,
    *,
    step: str,
    expect: tuple[str, ...] = ("pdf",),
    max_bytes: int = DEFAULT_MAX_BYTES,
    headers: dict[str, str] | None = None,
) -> tuple[bytes, dict[str, str]]:
    """GET through the context's request API (its cookies, no rendering).

    Checks the status, the size and what the bytes are: an HTML page where a
    PDF was expected is the portal's login page (SessionExpired) or an error
    page (LayoutChanged), never a document.
    """
    full = url if "://" in url else session.url(url)
    if session.throttle is not None:
        await session.throttle()
    async with playwright_errors(session.portal, step):
        resp = await session.context.request.get(
            full,
            timeout=DOWNLOAD_TIMEOUT_MS,
            headers=headers,
            max_redirects=5,
        )
        try:
            check_response(resp, portal=session.portal, step=step)
            length = int(resp.headers.get("content-length") or 0)
            if length > max_bytes:
                raise LayoutChanged(
                    f"document of {length} bytes is over the {max_bytes} cap",
                    portal=session.portal,
                    step=step,
                )
            data = await resp.body()
            status, resp_headers = resp.status, dict(resp.headers)
        finally:
            await resp.dispose()
    if status == 404:
        raise LayoutChanged(
            f"document not found at {_path(full)}", portal=session.portal, step=step
        )
    if len(data) > max_bytes:
        raise LayoutChanged(
            f"document over the {max_bytes} byte cap", portal=session.portal, step=step
        )
    kind = sniff_kind(data)
    if kind not in expect:
        if kind == "html" and _LOGIN_HINTS.search(data[:20_000].decode("utf-8", "replace")):
            raise SessionExpired(
                "a login page came back instead of a document", portal=session.portal, step=step
            )
        raise LayoutChanged(
            f"expected {'/'.join(expect)} from {_path(full)}, got {kind}",
            portal=session.portal,
            step=step,
        )
    return data, resp_headers


def filename_from_disposition(value: str | None, default: str) -> str:
    """The file name a Content-Disposition header claims (untrusted: metadata only)."""
    if not value:
        return default
    m = re.search(r"filename\*\s*=\s*UTF-8''([^;]+)", value, re.I)
    if m:
        from urllib.parse import unquote

        return unquote(m.group(1).strip())[:500] or default
    m = re.search(r'filename\s*=\s*"([^"]*)"', value) or re.search(r"filename\s*=\s*([^;]+)", value)
    return (m.group(1).strip()[:500] or default) if m else default


async def submit_form(
    session: AdapterSession, page: Page, button: str, step: str
) -> Response | None:
    """Click a form's button and wait for the page it leads to; statuses mapped."""
    async with playwright_errors(session.portal, step):
        async with page.expect_navigation(wait_until="domcontentloaded") as nav:
            await page.get_by_role("button", name=button, exact=True).click()
        response = await nav.value
    session.requests += 1
    check_response(response, portal=session.portal, step=step)
    return response


async def alert_text(page: Page) -> str:
    """The page's role=alert message (bounded), or "" when there is none."""
    alert = page.get_by_role("alert")
    if not await alert.count():
        return ""
    return clean_text(await alert.first.inner_text(), max_length=200)


async def link_href(scope: Page | Locator, name: str) -> str | None:
    """The href of the link named exactly ``name``, or None when there is none."""
    link = scope.get_by_role("link", name=name, exact=True)
    if not await link.count():
        return None
    return await link.first.get_attribute("href")


async def shows_page(
    session: AdapterSession, path: str, heading: str, *, login_heading: str
) -> bool:
    """Whether ``path`` shows its page (still logged in) rather than the login page.

    For ``is_logged_in``: one request; any other page is LayoutChanged.
    """
    page = await goto(session, path, step="is_logged_in")
    session.requests += 1
    try:
        await expect_heading(
            page, [heading], portal=session.portal, step="is_logged_in", login_heading=login_heading
        )
    except SessionExpired:
        return False
    return True
