"""The PortalError taxonomy: what went wrong on a portal, as a class a caller
can act on without reading messages.

Adapters map every Playwright and HTTP failure to the most specific class at
their boundary (see ``portal_adapters.web.raise_for_status`` and
``translate_playwright_error``); ``bots/`` decides retries by class alone.
Messages name the portal, the step and what was seen, never a secret.

| class             | what the runner does                                         |
| ----------------- | ------------------------------------------------------------ |
| BadCredentials    | never retry (a retry storm locks real accounts); disable      |
| MfaFailed         | needs a human                                                |
| CaptchaRequired   | needs a human                                                |
| RateLimited       | wait ``retry_after`` seconds, then retry                     |
| PortalUnavailable | retry with exponential backoff and jitter                    |
| SessionExpired    | log in again and resume                                      |
| LayoutChanged     | stop the job, alert, keep artifacts                          |
| RecordInvalid     | quarantine that one record with its raw payload, keep going  |
| NotYetAvailable   | not a failure: the document does not exist yet (POD imaging) |
| DisputeRejected   | the portal refused the dispute; never retried as is          |
"""

from __future__ import annotations

from typing import Any, ClassVar


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


class BadCredentials(PortalError):
    """The portal refused the user id or password (or the account is locked)."""


class MfaFailed(PortalError):
    """The second factor was refused, or the portal asked for one we cannot give."""

    needs_human = True


class CaptchaRequired(PortalError):
    """An anti-bot challenge stands in the way: a person must solve it."""

    needs_human = True

    def __init__(self, message: str, *, portal: str = "", step: str = "", ref: str = "") -> None:
        super().__init__(message, portal=portal, step=step)
        self.ref = ref


class RateLimited(PortalError):
    """The portal asked us to slow down for ``retry_after`` seconds."""

    def __init__(
        self, message: str, *, retry_after: float = 30.0, portal: str = "", step: str = ""
    ) -> None:
        super().__init__(message, portal=portal, step=step)
        self.retry_after = max(0.0, min(retry_after, 3600.0))


class PortalUnavailable(PortalError):
    """5xx answers, time-outs, refused connections: the portal is down for now."""


class SessionExpired(PortalError):
    """The portal sent us back to its login page: log in again and resume."""


class LayoutChanged(PortalError):
    """A page is not what the adapter expects: stop rather than read wrong data."""


class RecordInvalid(PortalError):
    """One record could not be read; ``raw`` keeps what the portal showed."""

    def __init__(
        self,
        message: str,
        *,
        raw: dict[str, Any],
        external_id: str | None = None,
        kind: str = "deduction",
        portal: str = "",
        step: str = "",
    ) -> None:
        super().__init__(message, portal=portal, step=step)
        self.raw = raw
        self.external_id = external_id
        self.kind = kind


class NotYetAvailable(PortalError):
    """The document does not exist yet (a POD is imaged days after delivery)."""


class DisputeRejected(PortalError):
    """The portal refused the dispute and said why (duplicate, window closed...)."""
