"""The JSON API: bearer tokens, the OpenAPI schema, problem details."""

from __future__ import annotations

from store.db import transaction
from store.repositories import approvals as approvals_repo
from tests.integration.web.conftest import WebStore


def _token(web: WebStore, user: str) -> dict[str, str]:
    with transaction(web.db) as s:
        return {"Authorization": f"Bearer {approvals_repo.create_api_token(s, user, 'script')}"}


def test_openapi_schema_names_every_route_with_problem_errors(web: WebStore) -> None:
    schema = web.client().get("/api/v1/openapi.json").json()
    paths = schema["paths"]
    assert set(paths) == {
        "/api/v1/me",
        "/api/v1/deductions",
        "/api/v1/deductions/{deduction_id}",
        "/api/v1/deductions/{deduction_id}/proposals",
        "/api/v1/deductions/{deduction_id}/comments",
        "/api/v1/deductions/{deduction_id}/retrievals",
        "/api/v1/retrievals/{request_id}",
        "/api/v1/approvals",
        "/api/v1/decisions/{decision_id}/approve",
        "/api/v1/decisions/{decision_id}/reject",
        "/api/v1/delegations",
        "/api/v1/disputes",
        "/api/v1/deadlines",
        "/api/v1/disputes/{dispute_id}/release",
    }
    for path, ops in paths.items():
        for method, op in ops.items():
            for code in ("401", "403"):
                assert "application/problem+json" in op["responses"][code]["content"], (
                    path,
                    method,
                )
    assert schema["paths"]["/api/v1/deductions/{deduction_id}/proposals"]["post"]["requestBody"]


def test_token_auth_reads_the_worklist_and_one_deduction(web: WebStore) -> None:
    c = web.client()
    h = _token(web, "ana")
    me = c.get("/api/v1/me", headers=h).json()
    assert me["access"] == "analyst"
    assert "approve" not in me["actions"]
    page = c.get("/api/v1/deductions?q=INV-7002", headers=h).json()
    assert page["total"] == 1
    item = page["items"][0]
    assert item["ref"] == "megamart:CB-2002"
    assert item["amount"] == "4000.00"  # exact, as a string
    one = c.get(f"/api/v1/deductions/{item['id']}", headers=h).json()
    assert one["deduction"]["po_number"] == "PO-42"


def test_errors_are_problem_details(web: WebStore) -> None:
    c = web.client()
    r = c.get("/api/v1/deductions")
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["title"] == "Not signed in"
    h = _token(web, "ana")
    missing = c.get("/api/v1/deductions/999999", headers=h)
    assert missing.status_code == 404
    assert missing.json()["status"] == 404
    bad = c.get("/api/v1/deductions?min_amount=lots", headers=h)
    assert bad.status_code == 400
    assert "min_amount" in bad.json()["detail"]
    invalid = c.post(
        f"/api/v1/deductions/{web.ids['CB-1001']}/proposals", json={"kind": "x"}, headers=h
    )
    assert invalid.status_code == 422
    assert invalid.headers["content-type"] == "application/problem+json"
    refused = c.post(
        f"/api/v1/deductions/{web.ids['CB-1001']}/proposals",
        json={"kind": "split", "accept_amount": "9999"},
        headers=h,
    )
    assert refused.status_code == 409
    assert "a split accepts part" in refused.json()["detail"]
    bogus = c.get("/api/v1/me", headers={"Authorization": "Bearer fleet_nope"})
    assert bogus.status_code == 401


def test_revoked_tokens_stop_working(web: WebStore) -> None:
    c = web.client()
    h = _token(web, "otto")
    assert c.get("/api/v1/me", headers=h).status_code == 200
    with transaction(web.db) as s:
        approvals_repo.end_sessions(s, "otto")
    assert c.get("/api/v1/me", headers=h).status_code == 401
