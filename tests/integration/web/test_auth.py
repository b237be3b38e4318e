"""Signing in and staying signed in: cookie flags, wrong passwords, lock-out,
the per-address login limit, idle expiry, logout, disabled users."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from sqlalchemy import update

from matching.approvals import deactivate_user
from store.db import transaction
from store.models import WebSession, utcnow
from tests.integration.web.conftest import PASSWORD, WebStore, make_store


def _try(web: WebStore, client, username: str, password: str):  # type: ignore[no-untyped-def]
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )


def test_session_cookie_is_httponly_and_lax_and_never_the_stored_value(web: WebStore) -> None:
    c = web.client()
    r = _try(web, c, "ana", PASSWORD)
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("fleet_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "samesite=lax" in cookie.lower()
    value = cookie.split(";")[0].split("=", 1)[1]
    with web.db() as s:
        stored = [row.token_hash for row in s.query(WebSession)]
    assert value not in stored
    assert len(stored) == 1


def test_secure_cookies_over_tls(tmp_path: Path) -> None:
    web = make_store(tmp_path, secure_cookies=True)
    r = _try(web, web.client(base_url="https://testserver"), "ana", PASSWORD)
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("__Host-fleet_session=")
    assert "Secure" in cookie


def test_wrong_password_then_lockout(web: WebStore) -> None:
    c = web.client()
    r = _try(web, c, "ana", "not the password")
    assert r.status_code == 401
    assert "wrong username or password" in r.text
    assert _try(web, c, "nobody", "whatever-it-is").status_code == 401
    for _ in range(4):
        _try(web, c, "ana", "not the password")
    locked = _try(web, c, "ana", PASSWORD)  # the right password, but locked now
    assert locked.status_code == 401
    assert "locked" in locked.text


def test_login_attempts_per_address_are_limited(tmp_path: Path) -> None:
    web = make_store(tmp_path, login_attempts_per_minute=3)
    c = web.client()
    codes = [_try(web, c, "nobody", "wrong-password").status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]


def test_login_form_needs_its_own_token(web: WebStore) -> None:
    c = web.client()
    r = c.post("/login", data={"username": "ana", "password": PASSWORD, "csrf_token": "x"})
    assert r.status_code == 403
    assert "fleet_session" not in r.headers.get("set-cookie", "")


def test_idle_sessions_expire_and_logout_ends_the_session(web: WebStore) -> None:
    ana = web.login("ana")
    assert ana.client.get("/worklist").status_code == 200
    with transaction(web.db) as s:
        s.execute(update(WebSession).values(last_seen_at=utcnow() - timedelta(minutes=31)))
    assert ana.client.get("/worklist").status_code == 303  # back to the login page
    ana = web.login("ana")
    assert ana.post("/logout").status_code == 303
    assert ana.client.get("/worklist").status_code == 303
    with web.db() as s:
        assert s.query(WebSession).count() == 0


def test_a_disabled_user_is_signed_out(web: WebStore) -> None:
    mia = web.login("mia")
    with transaction(web.db) as s:
        deactivate_user(s, "mia", "root")
    assert mia.client.get("/worklist").status_code == 303
    assert _try(web, web.client(), "mia", PASSWORD).status_code == 401


def test_next_never_leaves_the_site(web: WebStore) -> None:
    c = web.client()
    page = c.get("/login?next=//evil.example/x")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = c.post(
        "/login",
        data={
            "username": "ana",
            "password": PASSWORD,
            "csrf_token": token,
            "next": "//evil.example/x",
        },
    )
    assert r.headers["location"] == "/worklist"
