"""The notifier the scheduler is given, built from fleet.toml's ``[notifications]``
and the environment (secrets never live in the file).

- webhook URL: ``FLEET_NOTIFY_WEBHOOK_URL``, else ``webhook_url``;
- webhook bearer token: ``FLEET_NOTIFY_WEBHOOK_TOKEN`` only;
- SMTP URL (a login included): ``FLEET_NOTIFY_SMTP_URL``, else ``smtp_url``,
  else the fleet's ``FLEET_SMTP_URL`` (the dispute e-mails' server);
- From: ``mail_from``, else the fleet's ``FLEET_MAIL_FROM``.

Every URL and token is wrapped in a :class:`~credentials.secret.Secret` the
moment it is read, so the log scrubber masks it wherever it turns up.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta

from credentials.secret import Secret
from fleet.settings import Settings
from scheduler.config import FleetConfig, NotificationsConfig, smtp_url_problem
from scheduler.notify import Channel, EmailChannel, Notifier, WebhookChannel

WEBHOOK_URL_ENV = "FLEET_NOTIFY_WEBHOOK_URL"
WEBHOOK_TOKEN_ENV = "FLEET_NOTIFY_WEBHOOK_TOKEN"
SMTP_URL_ENV = "FLEET_NOTIFY_SMTP_URL"


class NotificationSetupError(ValueError):
    """The notifications cannot be set up as configured; the message says what to
    change, and names no secret."""


def channels_for(
    config: FleetConfig, settings: Settings, environ: Mapping[str, str] | None = None
) -> list[Channel]:
    """The configured channels (none: notifications are off)."""
    env = os.environ if environ is None else environ
    cfg = config.notifications or NotificationsConfig()
    channels: list[Channel] = []
    url = env.get(WEBHOOK_URL_ENV) or cfg.webhook_url
    if url:
        if not url.startswith(("https://", "http://")):
            raise NotificationSetupError(f"{WEBHOOK_URL_ENV} must be an http(s) URL")
        token = env.get(WEBHOOK_TOKEN_ENV)
        channels.append(
            WebhookChannel(Secret(url), Secret(token) if token else None, cfg.timeout_seconds)
        )
    elif env.get(WEBHOOK_TOKEN_ENV):
        raise NotificationSetupError(
            f"{WEBHOOK_TOKEN_ENV} is set but there is no webhook: set [notifications] "
            f"webhook_url in fleet.toml or {WEBHOOK_URL_ENV}"
        )
    if cfg.email_to:
        smtp = env.get(SMTP_URL_ENV) or cfg.smtp_url or settings.smtp_url
        if not smtp:
            raise NotificationSetupError(
                "[notifications] email_to needs an SMTP server: smtp_url in fleet.toml, "
                f"{SMTP_URL_ENV} or FLEET_SMTP_URL"
            )
        problem = smtp_url_problem(smtp)
        if problem:
            raise NotificationSetupError(f"the SMTP URL for notifications {problem}")
        mail_from = cfg.mail_from or settings.mail_from
        channels.append(EmailChannel(Secret(smtp), cfg.email_to, mail_from, cfg.timeout_seconds))
    if config.notifications is not None and not channels:
        raise NotificationSetupError(
            f"[notifications] needs webhook_url or email_to (or {WEBHOOK_URL_ENV})"
        )
    return channels


def notifier_for(
    config: FleetConfig, settings: Settings, environ: Mapping[str, str] | None = None
) -> Notifier | None:
    """The scheduler's notifier, or None when no channel is configured."""
    channels = channels_for(config, settings, environ)
    if not channels:
        return None
    cfg = config.notifications or NotificationsConfig()
    return Notifier(
        channels=tuple(channels),
        kinds=frozenset(cfg.kinds),
        max_age=timedelta(hours=cfg.max_age_hours),
        lease=timedelta(seconds=max(60.0, 10 * cfg.timeout_seconds)),
    )


__all__ = [
    "SMTP_URL_ENV",
    "WEBHOOK_TOKEN_ENV",
    "WEBHOOK_URL_ENV",
    "NotificationSetupError",
    "channels_for",
    "notifier_for",
]
