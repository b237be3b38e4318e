"""Pages: navigating, checking that a page is the page expected, forms,
sign-in codes and uploads."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from urllib.parse import urlsplit

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import FilePayload, Locator, Page, Response
from playwright.async_api import TimeoutError as PlaywrightTimeout

from credentials.secret import Secret
from credentials.totp import InvalidTotpSecretError, totp_code
from portal_adapters.base import AdapterSession
from portal_adapters.errors import LayoutChanged, MfaFailed, PageNotFound, SessionExpired
from portal_adapters.web.failures import playwright_errors, translate_playwright_error
from portal_adapters.web.http import check_response, is_pdf, portal_url, same_origin, url_path
from portal_adapters.web.tracing import fill_secret
from records.filenames import MAX_FILENAME_BYTES, sanitize_filename
from records.normalize import NormalizationError, clean_text, portal_rules
from records.sniff import PDF

NAV_TIMEOUT_MS = 30_000
HEADING_TIMEOUT_MS = 10_000


async def goto(
    session: AdapterSession, path_or_url: str, *, step: str, timeout_ms: float = NAV_TIMEOUT_MS
) -> Page:
    """Navigate the session's page (on the portal's origin) and check the status.

    HTTP 404 is PageNotFound; 401, 429 and 5xx as ``raise_for_status``.
    """
    page = await session.main_page()
    url = portal_url(session, path_or_url, step=step)
    async with playwright_errors(session.portal, step):
        response = await page.goto(url, wait_until="domcontentloaded", timeout=timeout_ms)
    session.requests += 1
    session.page_loads += 1
    check_response(response, portal=session.portal, step=step)
    if response is not None and response.status == 404:
        raise PageNotFound(
            f"HTTP 404 at {url_path(response.url)}", portal=session.portal, step=step
        )
    return page


async def heading_text(
    page: Page, *, portal: str, step: str, timeout_ms: float = HEADING_TIMEOUT_MS
) -> str:
    """The page's main (level 1) heading, cleaned; "" when it has none."""
    heading = page.get_by_role("heading", level=1).first
    async with playwright_errors(portal, step):
        try:
            await heading.wait_for(state="attached", timeout=timeout_ms)
        except PlaywrightTimeout:
            return ""
        return clean_text(await heading.inner_text())


def _as_printed(names: Iterable[str]) -> list[str]:
    """Each name as given (whitespace folded) and NFC-cleaned: a page may print a
    compatibility character that NFC changes (U+2F800 becomes U+4E3D), and
    Playwright matches the page's own text; a property test found it."""
    out: dict[str, None] = {}
    for n in names:
        out[clean_text(n)] = None
        out[" ".join(n.split())[:500]] = None
    return [n for n in out if n]


async def expect_heading(
    page: Page,
    names: Iterable[str],
    *,
    portal: str,
    step: str,
    login_heading: str | Iterable[str] | None = None,
    timeout_ms: float = HEADING_TIMEOUT_MS,
) -> str:
    """Wait for a heading that contains one of ``names``; say what the page is otherwise.

    A login page (any of ``login_heading``: the sign-in page, or a step of it
    such as a security question) where a logged-in page was expected is
    SessionExpired; any other page is LayoutChanged, with its title and first
    heading quoted. Names may be portal text (a claim number): each goes to
    Playwright as a plain string, which it escapes, never as a pattern built
    from it.
    """
    wanted = [clean_text(n) for n in names]
    logins = [login_heading] if isinstance(login_heading, str) else list(login_heading or ())
    logins = [clean_text(n) for n in logins if n]
    locator: Locator | None = None
    for name in _as_printed([*names, *logins]):
        one = page.get_by_role("heading", name=name)
        locator = one if locator is None else locator.or_(one)
    if locator is None:
        raise ValueError("expect_heading needs at least one name")
    heading = locator.first
    try:
        await heading.wait_for(state="visible", timeout=timeout_ms)
        text = clean_text(await heading.inner_text())
    except PlaywrightTimeout:
        text = ""
    except PlaywrightError as exc:
        raise translate_playwright_error(exc, portal=portal, step=step) from None
    folded = text.lower()
    if text and any(n.lower() in folded for n in logins):
        raise SessionExpired("the portal showed its login page", portal=portal, step=step)
    if text and any(n.lower() in folded for n in wanted):
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


async def submit_form(
    session: AdapterSession,
    page: Page,
    button: str | Locator,
    step: str,
    *,
    timeout_ms: float = NAV_TIMEOUT_MS,
) -> Response | None:
    """Click a form's one button (a name, or a locator) and wait for the page it
    leads to; statuses mapped. No such button, or two, is LayoutChanged."""
    target = (
        page.get_by_role("button", name=button, exact=True) if isinstance(button, str) else button
    )
    async with playwright_errors(session.portal, step):
        found = await target.count()
        if found != 1:
            raise LayoutChanged(
                f"expected one such button, found {found} on {await describe_page(page)}",
                portal=session.portal,
                step=step,
            )
        async with page.expect_navigation(wait_until="domcontentloaded", timeout=timeout_ms) as nav:
            await target.click()
        response = await nav.value
    session.requests += 1
    session.page_loads += 1
    check_response(response, portal=session.portal, step=step)
    return response


async def alert_text(page: Page, *, portal: str, step: str) -> str:
    """The page's role=alert messages (bounded), or "" when there is none."""
    async with playwright_errors(portal, step):
        texts = await page.get_by_role("alert").all_inner_texts()
    return clean_text(" ".join(texts), max_length=300)


async def link_href(scope: Page | Locator, name: str) -> str | None:
    """The href of the link named exactly ``name``, or None when there is none."""
    link = scope.get_by_role("link", name=name, exact=True)
    if not await link.count():
        return None
    return await link.first.get_attribute("href")


async def shows_page(
    session: AdapterSession, path: str, heading: str, *, login_heading: str | Iterable[str]
) -> bool:
    """Whether ``path`` shows its page (still logged in) rather than the login
    page (or a step of it: any of ``login_heading``).

    For ``is_logged_in``: one request; any other page is LayoutChanged.
    """
    page = await goto(session, path, step="is_logged_in")
    try:
        await expect_heading(
            page,
            [heading],
            portal=session.portal,
            step="is_logged_in",
            login_heading=login_heading,
        )
    except SessionExpired:
        return False
    return True


async def form_page(
    session: AdapterSession,
    path: str,
    *,
    heading: str,
    field_label: str,
    login_heading: str,
    step: str,
) -> Page:
    """The page at ``path`` headed ``heading`` with the field ``field_label``:
    the open page when it already is that page (a previous search's result,
    which carries the form again), else a fresh load, checked."""
    page = await session.main_page()
    if urlsplit(page.url).path == path and same_origin(page.url, session.base_url):
        async with playwright_errors(session.portal, step):
            here = await page.get_by_role("heading", name=heading, exact=True, level=1).count()
            form = await page.get_by_label(field_label, exact=True).count()
        if here and form:
            return page
    page = await goto(session, path, step=step)
    await expect_heading(
        page, [heading], portal=session.portal, step=step, login_heading=login_heading
    )
    return page


# ---------------------------------------------------------------- sign-in and uploads


def one_time_code(session: AdapterSession, *, step: str) -> Secret:
    """The authenticator code for now; MfaFailed when no usable TOTP secret is stored."""
    secret = session.credentials.totp_secret
    if secret is None:
        raise MfaFailed(
            "the portal asks for an authenticator code and no TOTP secret is stored",
            portal=session.portal,
            step=step,
        )
    try:
        return totp_code(secret).code
    except InvalidTotpSecretError as exc:  # its messages never quote the secret
        raise MfaFailed(
            f"the stored TOTP secret is not usable: {exc}", portal=session.portal, step=step
        ) from None


def upload_name(name: str, index: int, *, suffix: str = "") -> str:
    """A file name to upload (the portal shows it; ours is untrusted too), made
    by ``records.filenames.sanitize_filename``; ends in ``suffix`` when given."""
    safe = sanitize_filename(name, default=f"attachment-{index}{suffix or '.pdf'}")
    if suffix and not safe.lower().endswith(suffix.lower()):
        room = MAX_FILENAME_BYTES - len(suffix.encode("utf-8"))
        safe = sanitize_filename(safe, max_bytes=room) + suffix
    return safe


def upload_file(name: str, data: bytes, index: int, *, suffix: str = "") -> FilePayload:
    """What ``set_input_files`` takes for one attachment: a safe name, the bytes,
    and a media type from the bytes (never from the name)."""
    return {
        "name": upload_name(name, index, suffix=suffix),
        "mimeType": PDF if is_pdf(data) else "application/octet-stream",
        "buffer": data,
    }


async def submit_code(
    session: AdapterSession, page: Page, *, label: str, button: str, step: str
) -> None:
    """Type the authenticator code into ``label`` and submit with ``button``."""
    code = one_time_code(session, step=step)
    async with playwright_errors(session.portal, step):
        await fill_secret(page.get_by_label(label, exact=True), code)
    await submit_form(session, page, button, step)


def optional_amount(portal: str, raw: str) -> Decimal | None:
    """An amount the portal shows, in its own format; None when it shows none or
    something that is not an amount (an optional figure never fails a read)."""
    try:
        return portal_rules(portal).amount(raw) if raw.strip() else None
    except NormalizationError:
        return None
