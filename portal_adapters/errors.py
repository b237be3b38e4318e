"""The PortalError taxonomy: what went wrong on a portal, as a class a caller
can act on without reading messages.

A shallow tree, as httpx draws its own: two bases say what the runner does,
the leaves say what happened.

```
PortalError
├── Retryable            the same call may succeed if made again
│   ├── PortalUnavailable    5xx, time-outs, refused connections, a closed page
│   ├── RateLimited          429: wait ``retry_after`` seconds first
│   └── SessionExpired       the login page came back: log in again first (``relogin``)
├── NeedsPerson          a person must act before this can go on (``needs_human``)
│   ├── MfaFailed            second factor refused, or asked for and not stored
│   └── CaptchaRequired      an anti-bot challenge (``ref`` names the lookup)
├── BadCredentials       never retried (a retry storm locks real accounts); disable
├── LayoutChanged        a page is not what the adapter expects: stop, alert, keep artifacts
│   └── PageNotFound         HTTP 404 where a page was expected
├── RecordInvalid        one record cannot be read: quarantine it (``raw``), keep going
├── NotYetAvailable      not a failure: the document does not exist yet (POD imaging)
└── DisputeRejected      the portal refused the dispute; never retried as is
```

This is the one behaviour table: ``bots.retry`` retries exactly the
``Retryable`` errors and reads how from their attributes (``relogin``,
``retry_after``); the runtime hands ``needs_human`` errors to a person and
disables an account on ``BadCredentials``. Adapters map every Playwright and
HTTP failure to the most specific class at their boundary
(``portal_adapters.web.translate_playwright_error`` and ``raise_for_status``).
Messages name the portal, the step and what was seen, never a secret.
"""

from __future__ import annotations

from typing import Any, ClassVar

MAX_RETRY_AFTER = 3600.0
"""A portal's Retry-After beyond this many seconds is read as this (a typo on
their side must not park a job for days)."""


class PortalError(Exception):
    """Base of every portal failure. ``portal`` and ``step`` say where."""

    needs_human: ClassVar[bool] = False

    def __init__(self, message: str, *, portal: str = "", step: str = "") -> None:
        super().__init__(message)
        self.portal = portal
        self.step = step

    @property
    def error_class(self) -> str:
        return type(self).__name__

    def __str__(self) -> str:
        where = ":".join(p for p in (self.portal, self.step) if p)
        msg = super().__str__()
        return f"[{where}] {msg}" if where else msg


# ---------------------------------------------------------------- retryable


class Retryable(PortalError):
    """The same call may succeed if made again; nothing on the portal changed.

    ``relogin``: log in again before the next attempt. ``retry_after``: the
    portal said how long to wait (seconds); None means back off.
    """

    relogin: ClassVar[bool] = False
    retry_after: float | None = None


class PortalUnavailable(Retryable):
    """5xx answers, time-outs, refused connections: the portal is down for now."""


class RateLimited(Retryable):
    """The portal asked us to slow down for ``retry_after`` seconds."""

    def __init__(
        self, message: str, *, retry_after: float = 30.0, portal: str = "", step: str = ""
    ) -> None:
        super().__init__(message, portal=portal, step=step)
        self.retry_after = max(0.0, min(retry_after, MAX_RETRY_AFTER))


class SessionExpired(Retryable):
    """The portal sent us back to its login page: log in again and resume."""

    relogin = True


# ---------------------------------------------------------------- needs a person


class NeedsPerson(PortalError):
    """Nothing the fleet can do alone: a person must act (the runtime queues it)."""

    needs_human = True


class MfaFailed(NeedsPerson):
    """The second factor was refused, or the portal asked for one we cannot give."""


class CaptchaRequired(NeedsPerson):
    """An anti-bot challenge stands in the way: a person must solve it."""

    def __init__(self, message: str, *, portal: str = "", step: str = "", ref: str = "") -> None:
        super().__init__(message, portal=portal, step=step)
        self.ref = ref


# ---------------------------------------------------------------- the rest


class BadCredentials(PortalError):
    """The portal refused the user id or password (or the account is locked)."""


class LayoutChanged(PortalError):
    """A page is not what the adapter expects: stop rather than read wrong data."""


class PageNotFound(LayoutChanged):
    """HTTP 404 where a page or a document was expected.

    A LayoutChanged where nothing more is known; an adapter that knows the URL
    belongs to one record (a claim page) turns it into that record's
    RecordInvalid instead.
    """


class RecordInvalid(PortalError):
    """One record could not be read; ``raw`` keeps what the portal showed.

    ``kind`` is what the record is (deduction, shipment, document), ``field``
    the value that failed when one did (the message names it too). Listings
    yield it and go on; single-record calls (a carrier lookup) return it, or
    raise it where the signature has no room (documents of one claim).
    """

    def __init__(
        self,
        message: str,
        *,
        raw: dict[str, Any],
        external_id: str | None = None,
        kind: str = "deduction",
        field: str | None = None,
        portal: str = "",
        step: str = "",
    ) -> None:
        super().__init__(message, portal=portal, step=step)
        self.raw = raw
        self.external_id = external_id
        self.kind = kind
        self.field = field


class NotYetAvailable(PortalError):
    """The document does not exist yet (a POD is imaged days after delivery)."""


class DisputeRejected(PortalError):
    """The portal refused the dispute and said why (duplicate, window closed...)."""
