"""Notifications: health events people must act on, sent by webhook and e-mail.

The app already shows needs-human items, anomalies and deadline alerts (the
banner, /ops, the disputes page); this sends them where people are when they
are not looking at it. The active scheduler's housekeeping pass
(scheduler/housekeeping.py) calls :meth:`Notifier.notify`; each configured
channel then delivers, in one message, the events of the configured kinds
written since its cursor (``notification_cursors``), and moves the cursor.

What it promises:

- **Each event once.** A channel's cursor moves only after its delivery
  succeeded, and only by the holder of the channel's lease (a compare-and-set
  in store/repositories/notifications.py), so two schedulers never send the
  same events. A process killed between sending and moving the cursor sends
  them again once its lease ends (at least once after a crash).
- **Retried, never in the way.** A failed delivery leaves the cursor where it
  was: the next pass sends the same events (with any newer ones). Each
  delivery has a bounded timeout, so a dead endpoint delays a housekeeping
  pass by about ``timeout_seconds`` per channel, no more.
- **Channels are independent.** The webhook failing does not hold back the
  e-mail, or the reverse: each has its own cursor.
- **No secret in a log line, the database or a payload.** URLs and tokens
  travel as :class:`~credentials.secret.Secret` (so the log scrubber masks
  them anywhere); a log line names an endpoint by scheme and host only, and a
  failure by its error class or status code, never by an exception's text
  (an HTTP library's message quotes the URL).
- **News, not history.** Events older than ``max_age`` are not sent: a new
  channel starts with the last day's events, not with every event ever.
"""

from __future__ import annotations

import smtplib
import socket
import uuid
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import httpx
import structlog
from sqlalchemy.orm import Session, sessionmaker

from credentials.secret import Secret
from store.db import transaction
from store.models import HealthEvent, utcnow
from store.repositories import notifications as cursors

log = structlog.get_logger(__name__)

SOURCE = "deductions-fleet"
BATCH = 50
"""Events one delivery carries at most; more wait for the next pass."""


class DeliveryFailed(Exception):
    """A channel could not deliver. ``reason`` is safe to log and store: an error
    class or a status code, never a URL or a server's reply."""

    def __init__(self, reason: str) -> None:
        self.reason = reason[:128]
        super().__init__(self.reason)


@dataclass(frozen=True)
class Notice:
    """One health event as people are told of it."""

    id: int
    at: datetime
    kind: str
    severity: str
    summary: str
    portal: str | None = None
    account: str | None = None
    error_class: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, event: HealthEvent) -> Notice:
        detail = dict(event.detail or {})
        return cls(
            id=event.id,
            at=event.at,
            kind=event.kind,
            severity=event.severity,
            summary=summary(event.kind, event.portal, event.account, event.error_class, detail),
            portal=event.portal,
            account=event.account,
            error_class=event.error_class,
            detail=detail,
        )

    def line(self) -> str:
        """The notice as one line of text (the event's id, for finding it in the store)."""
        return f"{self.at.astimezone(UTC):%Y-%m-%d %H:%M}Z #{self.id} [{self.kind}] {self.summary}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.astimezone(UTC).isoformat(),
            "kind": self.kind,
            "severity": self.severity,
            "summary": self.summary,
            "portal": self.portal,
            "account": self.account,
            "error_class": self.error_class,
            "detail": self.detail,
        }


def summary(
    kind: str, portal: str | None, account: str | None, error: str | None, detail: dict[str, Any]
) -> str:
    """One line a person understands without opening the app."""
    who = " ".join(x for x in (portal, account) if x)
    if kind == "anomaly" and detail.get("message"):
        return str(detail["message"])
    if kind == "check_waiting":
        return (
            f"{who}: a robot waits {detail.get('waits_seconds', '?')} s for your answer to the "
            f"check it met for {detail.get('ref', '?')} (web app: Fleet health, checks waiting)"
        )
    if kind == "needs_human":
        return f"{who}: a person is needed ({error}) for {detail.get('ref', 'the login')}"
    if kind == "dispute_deadlines":
        return (
            f"{detail.get('count', '?')} dispute windows close within {detail.get('days', '?')}"
            f" days, {detail.get('amount_at_risk', '?')} at risk"
        )
    if kind == "dispute_needs_person":
        reason = f": {detail['reason']}" if detail.get("reason") else ""
        return f"{who}: the dispute of {detail.get('deduction', '?')} waits for a person{reason}"
    return " ".join(x for x in (kind, who, error and f"({error})") if x)


def subject(notices: Sequence[Notice]) -> str:
    kinds = Counter(n.kind for n in notices)
    what = ", ".join(f"{k} x{c}" for k, c in sorted(kinds.items()))
    return f"[{SOURCE}] {len(notices)} to look at: {what}"


def payload(notices: Sequence[Notice]) -> dict[str, Any]:
    """The webhook's JSON: ``text`` (what chat webhooks show) and the events."""
    text = "\n".join([subject(notices), *(n.line() for n in notices)])
    return {"source": SOURCE, "text": text, "events": [n.as_dict() for n in notices]}


def endpoint(url: str) -> str:
    """``scheme://host[:port]``: how a log line names a URL without its path,
    query or login, any of which may be the secret."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or '?'}{port}"


class Channel(Protocol):
    """Somewhere notices go. ``send`` delivers all of them or raises
    :class:`DeliveryFailed`; it returns within about ``timeout`` seconds."""

    name: str

    def describe(self) -> str:
        """The channel for a log line or a person: no secret in it."""
        ...

    def send(self, notices: Sequence[Notice]) -> None: ...


class WebhookChannel:
    """An HTTP POST of :func:`payload` as JSON; any 2xx answer is delivered.
    Redirects are not followed (a token must not travel to another host)."""

    name = "webhook"

    def __init__(self, url: Secret, token: Secret | None = None, timeout: float = 10.0) -> None:
        self._url = url
        self._token = token
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"WebhookChannel({self.describe()})"

    def describe(self) -> str:
        return endpoint(self._url.reveal())

    def send(self, notices: Sequence[Notice]) -> None:
        headers = {"User-Agent": SOURCE}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token.reveal()}"
        try:
            answer = httpx.post(
                self._url.reveal(),
                json=payload(notices),
                headers=headers,
                timeout=self.timeout,
                follow_redirects=False,
            )
        except Exception as exc:  # the message quotes the URL: keep the class only
            raise DeliveryFailed(type(exc).__name__) from None
        if not 200 <= answer.status_code < 300:
            raise DeliveryFailed(f"HTTP {answer.status_code}")


class EmailChannel:
    """One e-mail a delivery, through ``smtp://`` (plain), ``smtp+starttls://`` or
    ``smtps://``; a login in the URL (``user:password@``) is used when given."""

    name = "email"

    def __init__(
        self, smtp_url: Secret, to: Sequence[str], mail_from: str, timeout: float = 10.0
    ) -> None:
        self._url = smtp_url
        self.to = tuple(to)
        self.mail_from = mail_from
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"EmailChannel({self.describe()})"

    def describe(self) -> str:
        return f"{endpoint(self._url.reveal())} to {', '.join(self.to)}"

    def message(self, notices: Sequence[Notice]) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.mail_from
        msg["To"] = ", ".join(self.to)
        msg["Subject"] = subject(notices)
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["Message-ID"] = make_msgid(domain=SOURCE)
        msg.set_content("\n".join(n.line() for n in notices) + "\n")
        return msg

    def send(self, notices: Sequence[Notice]) -> None:
        parts = urlsplit(self._url.reveal())
        host = parts.hostname or ""
        try:
            smtp: smtplib.SMTP
            if parts.scheme == "smtps":
                smtp = smtplib.SMTP_SSL(host, parts.port or 465, timeout=self.timeout)
            else:
                smtp = smtplib.SMTP(host, parts.port or 25, timeout=self.timeout)
            with smtp:
                if parts.scheme == "smtp+starttls":
                    smtp.starttls()
                if parts.username:
                    password = Secret(unquote(parts.password or ""))
                    smtp.login(unquote(parts.username), password.reveal())
                smtp.send_message(self.message(notices))
        except smtplib.SMTPResponseException as exc:
            raise DeliveryFailed(f"{type(exc).__name__} {exc.smtp_code}") from None
        except Exception as exc:  # a server's reply may echo what we sent: class only
            raise DeliveryFailed(type(exc).__name__) from None


@dataclass(frozen=True)
class Notifier:
    """The configured channels and what they are told of (built by the
    composition root from fleet.toml: fleet/notifications.py)."""

    channels: tuple[Channel, ...]
    kinds: frozenset[str]
    max_age: timedelta = timedelta(hours=24)
    batch: int = BATCH
    lease: timedelta = timedelta(minutes=5)
    """How long a pass may hold a channel; longer than any delivery takes."""

    def notify(self, db: sessionmaker[Session], now: datetime | None = None) -> dict[str, int]:
        """One pass: each channel sends what is new for it. Returns events sent per
        channel (0 when nothing was new, it failed, or another scheduler holds it)."""
        return {c.name: deliver(db, c, self.kinds, self.max_age, self.batch, self.lease, now)
                for c in self.channels}  # fmt: skip


def deliver(
    db: sessionmaker[Session],
    channel: Channel,
    kinds: Collection[str],
    max_age: timedelta,
    batch: int = BATCH,
    lease: timedelta = timedelta(minutes=5),
    now: datetime | None = None,
) -> int:
    """Send ``channel`` the events new for it; the number sent (see the module doc)."""
    now = now or utcnow()
    token = uuid.uuid4().hex
    with transaction(db) as s:
        after = cursors.claim(s, channel.name, token, now, now + lease)
        if after is None:
            return 0  # another scheduler is delivering on this channel
        notices = [
            Notice.of(e) for e in cursors.events_after(s, after, kinds, now - max_age, batch)
        ]
    if not notices:
        with transaction(db) as s:
            cursors.release(s, channel.name, token, None, now)
        return 0
    failure: str | None = None
    try:
        channel.send(notices)
    except DeliveryFailed as exc:
        failure = exc.reason
    except Exception as exc:  # a channel that broke its promise: still the class only
        failure = type(exc).__name__
    if failure is not None:
        with transaction(db) as s:
            cursors.release(s, channel.name, token, failure, now)
        log.warning(
            "notify.failed",
            channel=channel.name,
            endpoint=channel.describe(),
            error=failure,
            events=len(notices),
            retry="next housekeeping pass",
        )
        return 0
    with transaction(db) as s:
        kept = cursors.advance(s, channel.name, token, notices[-1].id, now)
    if not kept:
        log.warning("notify.lease_lost", channel=channel.name, events=len(notices))
    log.info(
        "notify.sent",
        channel=channel.name,
        endpoint=channel.describe(),
        events=len(notices),
        last_event_id=notices[-1].id,
    )
    return len(notices)


def send_test(channels: Sequence[Channel]) -> list[tuple[Channel, str | None]]:
    """Send one test notice through each channel: (channel, None) when it was
    delivered, else (channel, why not). Touches no cursor."""
    notice = Notice(
        id=0,
        at=datetime.now(UTC),
        kind="test",
        severity="info",
        summary=f"a test notification from {socket.gethostname()} (fleet notify test)",
    )
    out: list[tuple[Channel, str | None]] = []
    for channel in channels:
        try:
            channel.send([notice])
            out.append((channel, None))
        except DeliveryFailed as exc:
            out.append((channel, exc.reason))
    return out


__all__ = [
    "BATCH",
    "Channel",
    "DeliveryFailed",
    "EmailChannel",
    "Notice",
    "Notifier",
    "WebhookChannel",
    "deliver",
    "endpoint",
    "payload",
    "send_test",
    "subject",
    "summary",
]
