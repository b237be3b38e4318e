"""Failures at the adapter boundary: Playwright's errors as the PortalError
they mean, and one record's failure as that record's RecordInvalid naming the
field, so that no single record ends a listing."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout
from pydantic import ValidationError

from portal_adapters.errors import LayoutChanged, PortalError, PortalUnavailable, RecordInvalid

T = TypeVar("T")

# Playwright errors that say the portal or the page went away for a moment:
# trying again from a known page is the right answer to each of them.
_TRANSIENT = re.compile(
    r"net::ERR_"
    r"|ECONNREFUSED|ECONNRESET|ECONNABORTED|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN"
    r"|socket hang up|other side closed|network socket disconnected|Request context disposed"
    r"|Timeout \d+ms exceeded|has been closed|Target closed|crashed"
    r"|frame (?:was|got) detached|Execution context was destroyed|Cannot find context"
    r"|Navigation failed|interrupted by another navigation|navigation interrupted"
    r"|not attached to the DOM|Node is detached|Protocol error",
    re.I,
)
# ...except these network errors, which no retry changes (a URL we built wrong).
_NOT_TRANSIENT = re.compile(
    r"net::ERR_(?:INVALID_URL|UNSAFE_PORT|BLOCKED_BY_\w+|DISALLOWED_URL_SCHEME|UNKNOWN_URL_SCHEME)"
)


def translate_playwright_error(exc: PlaywrightError, *, portal: str, step: str) -> PortalError:
    """The PortalError a Playwright error means, as httpx maps its transport errors.

    Time-outs, network failures and pages or frames that went away under us
    are PortalUnavailable (retried from a known page). Everything else, an
    invalid selector, a strict-mode violation (two elements where the page had
    one), a script that met a page it did not expect, is LayoutChanged: a
    retry meets the same page, so the job stops with its artifacts instead.
    """
    text = first_line(exc)
    if isinstance(exc, PlaywrightTimeout):
        return PortalUnavailable(f"timed out: {text}", portal=portal, step=step)
    message = str(exc)
    if _TRANSIENT.search(message) and not _NOT_TRANSIENT.search(message):
        return PortalUnavailable(f"browser error: {text}", portal=portal, step=step)
    return LayoutChanged(f"unexpected browser error: {text}", portal=portal, step=step)


@contextlib.asynccontextmanager
async def playwright_errors(portal: str, step: str) -> AsyncIterator[None]:
    """Translate Playwright's own errors at the adapter boundary (PortalErrors pass)."""
    try:
        yield
    except PortalError:
        raise
    except PlaywrightError as exc:
        raise translate_playwright_error(exc, portal=portal, step=step) from None


def first_line(exc: BaseException, limit: int = 300) -> str:
    """An exception's first line, bounded; its class name when it has no text."""
    text = str(exc).strip()
    return text.splitlines()[0][:limit] if text else type(exc).__name__


class FieldError(ValueError):
    """A value the portal showed that cannot be read, with the field it came from."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def read_field(field: str, parse: Callable[[Any], T], value: Any) -> T:
    """``parse(value)``, with any failure a FieldError naming ``field``."""
    try:
        return parse(value)
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise FieldError(field, first_line(exc, 200)) from None


def explain(exc: BaseException) -> tuple[str, str | None]:
    """Why a record could not be read, and the field, when one is to blame."""
    if isinstance(exc, ValidationError):
        errors = exc.errors()
        if not errors:
            return "invalid", None
        where = ".".join(str(p) for p in errors[0]["loc"])
        return f"{where}: {errors[0]['msg']}"[:300], where or None
    if isinstance(exc, FieldError):
        return first_line(exc), exc.field
    if isinstance(exc, KeyError):
        name = str(exc.args[0]) if exc.args else "?"
        return f"missing field {name!r}"[:300], name
    return first_line(exc), None


def record_invalid(
    exc: BaseException,
    *,
    raw: dict[str, Any],
    external_id: str | None,
    portal: str,
    step: str,
    kind: str = "deduction",
    what: str = "",
) -> RecordInvalid:
    """The RecordInvalid for one record whose reading raised ``exc``."""
    reason, field = explain(exc)
    return RecordInvalid(
        f"{what}: {reason}" if what else reason,
        raw=raw,
        external_id=external_id,
        kind=kind,
        field=field,
        portal=portal,
        step=step,
    )


def build_record(
    build: Callable[[], T],
    *,
    raw: dict[str, Any],
    external_id: str | None,
    portal: str,
    step: str,
    kind: str = "deduction",
    what: str = "",
) -> T | RecordInvalid:
    """``build()`` (a record from what the portal showed), or the RecordInvalid
    that says which field could not be read; ``raw`` goes with it either way."""
    try:
        return build()
    except (ValidationError, FieldError, ValueError, KeyError, TypeError, ArithmeticError) as exc:
        return record_invalid(
            exc, raw=raw, external_id=external_id, portal=portal, step=step, kind=kind, what=what
        )


def record_unreadable(
    external_id: str,
    message: str,
    *,
    portal: str,
    step: str,
    field: str | None = None,
    kind: str = "deduction",
) -> RecordInvalid:
    """One record's page cannot be trusted: missing (404, "not found") or about
    another record. ``raw`` names the record; a listing adds its row."""
    return RecordInvalid(
        f"{kind} {external_id[:60]!r}: {message}",
        raw={"external_id": external_id},
        external_id=external_id,
        kind=kind,
        field=field,
        portal=portal,
        step=step,
    )


def check_record_heading(
    heading: str,
    *,
    expected: str,
    not_found: str,
    external_id: str,
    portal: str,
    step: str,
) -> None:
    """A record's page is that record's: its heading saying ``not_found``, or
    naming another record than ``expected``, is this record's RecordInvalid."""
    if heading == not_found:
        raise record_unreadable(
            external_id, f"its page says {not_found!r}", portal=portal, step=step
        )
    if heading != expected:
        raise record_unreadable(
            external_id,
            f"its page is headed {heading[:60]!r}",
            portal=portal,
            step=step,
            field="heading",
        )
