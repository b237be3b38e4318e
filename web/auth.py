"""Who is asking: server-side sessions for the pages, bearer tokens for scripts.

* A session is a random token in an ``HttpOnly``, ``SameSite=Lax`` cookie
  (``Secure`` and ``__Host-`` over TLS); the store keeps only its SHA-256
  (``web_sessions``). It ends after ``WebConfig.idle`` without a request, after
  ``max_age`` in any case, at logout, and when the user is disabled.
* Every state-changing request made with a session carries the CSRF token
  (form field ``csrf_token`` or header ``X-CSRF-Token``): an HMAC of the
  session token, so it is bound to the session and useless without it.
* Logins are limited per client address (a sliding minute) and per account
  (``lockout_after`` failures lock it for ``lockout_for``).
* Scripts send ``Authorization: Bearer <token>`` (``fleet users token``): no
  cookie, so no CSRF token either.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from fastapi import Request
from sqlalchemy import delete, select, update

from credentials.passwords import verify_password
from matching.approvals import stands_in_for
from store.db import transaction
from store.models import ApiToken, User, WebSession, utcnow
from store.repositories.approvals import token_digest
from web.config import WebConfig
from web.permissions import STAND_IN_ACTIONS, allowed
from web.problems import Problem, forbidden

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOUCH_EVERY_SECONDS = 30


@dataclass(frozen=True)
class Principal:
    username: str
    display_name: str
    access: str
    via: str  # "session" or "token"
    csrf: str | None = None
    stands_in_for: tuple[str, ...] = ()
    """Whom this person approves for now (delegations in force)."""

    def may(self, action: str) -> bool:
        return allowed(self.access, action) or (
            action in STAND_IN_ACTIONS and bool(self.stands_in_for)
        )


def cookie_name(config: WebConfig) -> str:
    return "__Host-fleet_session" if config.secure_cookies else "fleet_session"


def csrf_for(token: str) -> str:
    return hmac.new(token.encode(), b"fleet-csrf", hashlib.sha256).hexdigest()


class LoginLimiter:
    """At most ``per_minute`` login attempts per client address."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, client: str) -> bool:
        now = time.monotonic()
        with self._lock:
            if len(self._seen) > 10_000:  # bound memory under a spray from many addresses
                self._seen = {k: v for k, v in self._seen.items() if v and v[-1] > now - 60}
            q = self._seen.setdefault(client, deque())
            while q and q[0] <= now - 60:
                q.popleft()
            if len(q) >= self.per_minute:
                return False
            q.append(now)
            return True


class LoginRefused(Exception):
    """Why a login failed, for the person (never which part was wrong)."""


def login(config: WebConfig, username: str, password: str) -> str:
    """Check the password and open a session; returns the cookie's token."""
    now = utcnow()
    username = username.strip()[:128]
    refusal = None
    token = secrets.token_urlsafe(32)
    with transaction(config.db) as s:  # commits the failure count too: raise after it
        user = s.execute(
            select(User).where(User.username == username, User.active.is_(True))
        ).scalar_one_or_none()
        if user is not None and user.locked_until is not None and user.locked_until > now:
            verify_password(None, password)  # the same work as a real check
            refusal = "too many failed attempts: this login is locked for a while"
        elif user is None or not verify_password(user.password_hash, password):
            if user is not None:
                user.failed_logins += 1
                if user.failed_logins >= config.lockout_after:
                    user.locked_until = now + config.lockout_for
                    user.failed_logins = 0
            refusal = "wrong username or password"
        else:
            user.failed_logins = 0
            user.locked_until = None
            s.add(WebSession(token_hash=token_digest(token), username=username, last_seen_at=now))
    if refusal:
        raise LoginRefused(refusal)
    return token


def logout(config: WebConfig, token: str) -> None:
    with transaction(config.db) as s:
        s.execute(delete(WebSession).where(WebSession.token_hash == token_digest(token)))


def _expired(config: WebConfig, row: WebSession, now: datetime) -> bool:
    return now - row.last_seen_at > config.idle or now - row.created_at > config.max_age


def principal(request: Request) -> Principal | None:
    """The signed-in user, or None (no, expired or unknown credentials)."""
    config: WebConfig = request.app.state.config
    now = utcnow()
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        digest = token_digest(header[7:].strip())
        with config.db() as s:
            found = s.execute(
                select(User)
                .join(ApiToken, ApiToken.username == User.username)
                .where(
                    ApiToken.token_hash == digest,
                    ApiToken.revoked.is_(False),
                    User.active.is_(True),
                )
            ).scalar_one_or_none()
        if found is None:
            return None
        return Principal(
            found.username,
            found.display_name,
            found.access,
            "token",
            None,
            _stand_in(config, found),
        )
    token = request.cookies.get(cookie_name(config))
    if not token or len(token) > 100:
        return None
    digest = token_digest(token)
    with config.db() as s:
        row = s.execute(
            select(WebSession, User)
            .join(User, User.username == WebSession.username)
            .where(WebSession.token_hash == digest)
        ).one_or_none()
    if row is None:
        return None
    sess, user = row
    if not user.active or _expired(config, sess, now):
        with transaction(config.db) as s:
            s.execute(delete(WebSession).where(WebSession.id == sess.id))
        return None
    if (now - sess.last_seen_at).total_seconds() > TOUCH_EVERY_SECONDS:
        with transaction(config.db) as s:
            s.execute(update(WebSession).where(WebSession.id == sess.id).values(last_seen_at=now))
    return Principal(
        user.username,
        user.display_name,
        user.access,
        "session",
        csrf_for(token),
        _stand_in(config, user),
    )


def _stand_in(config: WebConfig, user: User) -> tuple[str, ...]:
    """Whom ``user`` stands in for, asked only when their own access lacks an
    action a delegate may take (one indexed query)."""
    if all(allowed(user.access, action) for action in STAND_IN_ACTIONS):
        return ()
    with config.db() as s:
        return tuple(stands_in_for(s, user.username))


def check_csrf(request: Request, who: Principal, form_token: str | None) -> None:
    if request.method in SAFE_METHODS or who.via != "session":
        return
    given = request.headers.get("x-csrf-token") or form_token or ""
    if not who.csrf or not hmac.compare_digest(given.encode(), who.csrf.encode()):
        raise Problem(403, "CSRF token missing or wrong", "reload the page and try again")


class LoginRequired(Exception):
    """A page asked for without a session: the app redirects to the login page."""


async def authorize(request: Request, action: str) -> Principal:
    """The principal, checked for ``action`` and (for changes) the CSRF token.
    Raises 401 (API) / LoginRequired (pages), or 403."""
    who = principal(request)
    if who is None:
        if request.url.path.startswith("/api/"):
            raise Problem(401, "Not signed in", "send a session cookie or a bearer token")
        raise LoginRequired
    form_token = None
    is_form = request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    )
    if (
        request.method not in SAFE_METHODS
        and who.via == "session"
        and "x-csrf-token" not in request.headers
        and is_form
    ):
        form = await request.form()
        value = form.get("csrf_token")
        form_token = value if isinstance(value, str) else None
    check_csrf(request, who, form_token)
    if not who.may(action):
        raise forbidden(action)
    return who


def require(action: str) -> Callable[[Request], Awaitable[Principal]]:
    """A FastAPI dependency: the principal allowed ``action``."""

    async def dependency(request: Request) -> Principal:
        return await authorize(request, action)

    dependency.__name__ = f"require_{action}"
    return dependency


__all__ = [
    "LoginLimiter",
    "LoginRefused",
    "LoginRequired",
    "Principal",
    "authorize",
    "check_csrf",
    "cookie_name",
    "csrf_for",
    "login",
    "logout",
    "principal",
    "require",
]
