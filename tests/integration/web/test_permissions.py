"""Every state-changing route, tried as every access role (with a session and
its CSRF token, and with an API token): the roles the permission table forbids
get 403 and the store does not change; the others are not refused for their
role. The table below must name every state-changing route the app has."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from matching import approvals
from store.db import transaction
from store.repositories import approvals as approvals_repo
from tests.integration.web.conftest import PEOPLE, WebStore, make_store, waiting_dispute
from web.app import ROUTERS
from web.permissions import allowed

# (method, path template, action, body kind, body)
ROUTES: list[tuple[str, str, str, str, dict[str, Any]]] = [
    ("POST", "/deductions/{d}/propose", "propose", "form", {"kind": "accept"}),
    ("POST", "/deductions/{d}/comment", "comment", "form", {"body": "looked at it"}),
    ("POST", "/deductions/{d}/fetch", "fetch", "form", {}),
    ("POST", "/approvals/{dec}/approve", "approve", "form", {"note": "ok"}),
    ("POST", "/approvals/{dec}/reject", "approve", "form", {"note": "no"}),
    ("POST", "/approvals/delegate", "delegate", "form", {"to": "root", "until": "2999-01-01"}),
    ("POST", "/disputes/{disp}/release", "release", "form", {}),
    ("POST", "/disputes/{disp}/appeal", "release", "form", {}),
    ("POST", "/worklist/filters", "view", "form", {"name": "mine", "query": "q=CB"}),
    ("POST", "/worklist/filters/{flt}/delete", "view", "form", {}),
    ("POST", "/api/v1/deductions/{d}/proposals", "propose", "json", {"kind": "accept"}),
    ("POST", "/api/v1/deductions/{d}/comments", "comment", "json", {"body": "looked"}),
    ("POST", "/api/v1/deductions/{d}/retrievals", "fetch", "json", {}),
    ("POST", "/api/v1/decisions/{dec}/approve", "approve", "json", {"note": "ok"}),
    ("POST", "/api/v1/decisions/{dec}/reject", "approve", "json", {"note": "no"}),
    ("POST", "/api/v1/delegations", "delegate", "json", {"to": "ana", "until": "2999-01-01"}),
    ("POST", "/api/v1/disputes/{disp}/release", "release", "json", {}),
    ("POST", "/ops/pause", "operate", "form", {"portal": "megamart", "account": "acme"}),
    ("POST", "/ops/resume", "operate", "form", {"portal": "megamart", "account": "acme"}),
    ("POST", "/ops/needs-human/{req}/clear", "operate", "form", {}),
    ("POST", "/ops/run-now", "operate", "form", {"portal": "megamart", "account": "acme",
                                                 "task": "sync"}),
    ("POST", "/ops/accounts/enable", "operate", "form", {"portal": "megamart",
                                                         "account": "acme"}),
    ("POST", "/ops/challenges/{ch}/answer", "operate", "form", {"answer": "X7K2P9"}),
]  # fmt: skip
PUBLIC = {("POST", "/login"), ("POST", "/logout")}
"""Logging in needs no role; logging out is every signed-in person's (auth tests)."""

TABLES = (
    "decisions",
    "decision_steps",
    "deduction_comments",
    "retrieval_requests",
    "delegations",
    "disputes",
    "audit_log",
    "scheduler_paused_accounts",
    "accounts",
    "human_challenges",
)


def _snapshot(web: WebStore) -> dict[str, list[Any]]:
    with web.db() as s:
        return {
            t: [tuple(r) for r in s.execute(text(f"SELECT * FROM {t} ORDER BY 1"))] for t in TABLES
        }


def test_the_table_names_every_state_changing_route() -> None:
    changing = {
        (method, route.path)
        for router in ROUTERS
        for route in router.routes
        for method in getattr(route, "methods", set())
        if method not in ("GET", "HEAD", "OPTIONS")
    }
    names = {
        "{d}": "{deduction_id}",
        "{dec}": "{decision_id}",
        "{disp}": "{dispute_id}",
        "{flt}": "{filter_id}",
        "{req}": "{request_id}",
        "{ch}": "{challenge_id}",
    }
    named = set()
    for method, path, *_ in ROUTES:
        for short, full in names.items():
            path = path.replace(short, full)
        named.add((method, path))
    assert changing - PUBLIC == named


@pytest.mark.parametrize("via", ["session", "token"])
@pytest.mark.parametrize("username", sorted(PEOPLE))
def test_every_role_on_every_state_changing_route(tmp_path: Path, username: str, via: str) -> None:
    web = make_store(tmp_path)
    access = PEOPLE[username][1]
    with transaction(web.db) as s:
        approvals.add_user(s, "prop", "analyst", "test")
        # a pending decision nobody here proposed: 250.00, one analyst step
        dec = approvals.propose(s, web.ids["CB-1001"], "accept", "prop").id
        token = approvals_repo.create_api_token(s, username, "test")
        disp = waiting_dispute(s, web.ids["CB-3003"])
    target = web.ids["CB-2002"]
    if via == "session":
        who = web.login(username)
        client, headers, csrf = who.client, {"X-CSRF-Token": who.csrf}, who.csrf
    else:
        client, headers, csrf = web.client(), {"Authorization": f"Bearer {token}"}, ""
    forbidden = [r for r in ROUTES if not allowed(access, r[2])]
    permitted = [r for r in ROUTES if allowed(access, r[2])]
    for method, path, action, kind, body in forbidden + permitted:
        url = path.format(d=target, dec=dec, disp=disp, flt=1, req=1, ch=1)
        before = _snapshot(web)
        if kind == "form":
            r = client.request(method, url, data={"csrf_token": csrf, **body}, headers=headers)
        else:
            r = client.request(method, url, json=body, headers=headers)
        if not allowed(access, action):
            assert r.status_code == 403, (username, url, r.status_code, r.text[:300])
            assert _snapshot(web) == before, (username, url)
        else:
            assert r.status_code != 403, (username, url, r.text[:300])
            assert r.status_code < 500, (username, url, r.text[:300])


def test_a_session_without_the_csrf_token_changes_nothing(web: WebStore) -> None:
    root = web.login("root")
    did = web.ids["CB-1001"]
    before = _snapshot(web)
    for data in ({}, {"csrf_token": "0" * 64}):
        r = root.client.post(f"/deductions/{did}/comment", data={"body": "hi", **data})
        assert r.status_code == 403
    r = root.client.post(f"/api/v1/deductions/{did}/comments", json={"body": "hi"})
    assert r.status_code == 403
    assert r.headers["content-type"] == "application/problem+json"
    assert _snapshot(web) == before


def test_a_delegate_approves_whatever_their_own_access(web: WebStore) -> None:
    """otto's web access is ops (no approving); while mia (an approver) is away
    and has delegated to him, he approves on the page and through the API, and
    when the delegation ends he is refused again."""
    with transaction(web.db) as s:
        approvals.add_user(s, "prop", "analyst", "test")
        first = approvals.propose(s, web.ids["CB-1001"], "accept", "prop").id
    otto = web.login("otto")
    page = otto.client.get("/approvals")
    assert "Approve</button>" not in page.text
    before = _snapshot(web)
    refused = otto.client.post(
        f"/approvals/{first}/approve", data={"csrf_token": otto.csrf, "note": "ok"}
    )
    assert refused.status_code == 403
    assert _snapshot(web) == before

    mia = web.login("mia")
    away = mia.client.post(
        "/approvals/delegate", data={"csrf_token": mia.csrf, "to": "otto", "until": "2999-01-01"}
    )
    assert away.status_code == 303, away.text[:300]
    page = otto.client.get("/approvals")
    assert "You stand in for mia." in page.text
    assert f'action="/approvals/{first}/approve"' in page.text
    done = otto.client.post(
        f"/approvals/{first}/approve", data={"csrf_token": otto.csrf, "note": "for mia"}
    )
    assert done.status_code == 303, done.text[:300]
    with web.db() as s:
        assert approvals.pending(s) == [] or all(
            p.decision_id != first for p in approvals.pending(s)
        )
    # otto may not hand mia's authority on
    relay = otto.client.post(
        "/approvals/delegate", data={"csrf_token": otto.csrf, "to": "ana", "until": "2999-01-01"}
    )
    assert relay.status_code == 403

    with transaction(web.db) as s:  # mia is back: the delegation ends
        s.execute(text("UPDATE delegations SET ends_at = starts_at"))
        second = approvals.propose(s, web.ids["CB-2002"], "accept", "prop").id
    again = otto.client.post(
        f"/approvals/{second}/approve", data={"csrf_token": otto.csrf, "note": "ok"}
    )
    assert again.status_code == 403
