"""Ops' hands on one account in the web app: "run now" queues a task the
scheduler's feeder runs next (the same queue and dispatcher as everything
else), and an account the portal refused runs again once ops replaced its
password (stored in the credential vault only, never shown back or kept in
the store); the same rule as ``fleet accounts enable``."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, text

from bots.jobs import Job, JobResult
from credentials.keyring_vault import get_vault
from records.schemas import RetrievalStatus
from scheduler.ondemand import claim_job, finish_for_result
from store.db import transaction
from store.models import AuditLog, RetrievalRequest
from store.repositories import accounts as accounts_repo
from tests.integration.web.conftest import WebStore, make_store

NEW_PASSWORD = "Tr0ub4dor-new-password-9"


@pytest.fixture
def ops_web(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WebStore:
    monkeypatch.setenv("FLEET_KEYRING_BACKEND", "file")
    monkeypatch.setenv("FLEET_KEYRING_PASSWORD", "a test keyring's master password")
    monkeypatch.delenv("FLEET_KEYRING_KEY_FILE", raising=False)
    store = make_store(
        tmp_path, data_dir=tmp_path / "data", artifacts=tmp_path / "data" / "artifacts"
    )
    with transaction(store.db) as s:
        for user in ("acme-ar", "acme-2"):
            accounts_repo.upsert_account(s, "megamart", user)
        accounts_repo.set_enabled(
            s, "megamart", "acme-2", False, "the portal refused the login (BadCredentials)"
        )
    return store


def test_run_now_queues_the_task_and_the_feeder_runs_it(ops_web: WebStore) -> None:
    ana = ops_web.login("ana")
    assert ana.post("/ops/run-now", {"portal": "megamart", "account": "acme-ar",
                                     "task": "sync"}).status_code == 403  # fmt: skip
    otto = ops_web.login("otto")  # ops
    r = otto.post("/ops/run-now", {"portal": "megamart", "account": "acme-ar", "task": "sync"})
    assert r.status_code == 303
    assert "queued" in r.headers["location"]
    again = otto.post("/ops/run-now", {"portal": "megamart", "account": "acme-ar", "task": "sync"})
    assert "already+waiting" in again.headers["location"]
    for bad in ({"task": "match"}, {"task": "sync", "account": "acme-2"}):
        refused = otto.post("/ops/run-now", {"portal": "megamart", "account": "acme-ar", **bad})
        assert "not+queued" in refused.headers["location"], bad
    claimed = claim_job(ops_web.db)
    assert claimed is not None
    request_id, job = claimed
    assert job == Job("megamart", "acme-ar", "sync")
    finish_for_result(ops_web.db, JobResult(job=job, run_id="r1", status="succeeded"))
    with ops_web.db() as s:
        row = s.get(RetrievalRequest, request_id)
        assert row is not None
        assert (row.status, row.requester) == (RetrievalStatus.done, "otto")


def test_a_refused_account_runs_again_once_its_password_is_replaced(
    ops_web: WebStore, tmp_path: Path
) -> None:
    otto = ops_web.login("otto")
    page = otto.client.get("/ops").text
    assert 'action="/ops/run-now"' in page  # acme-ar runs
    assert 'aria-label="new password for acme-2 on megamart"' in page
    assert 'type="password" name="password" autocomplete="new-password"' in page
    plain = otto.post("/ops/accounts/enable", {"portal": "megamart", "account": "acme-2"})
    assert "no+password+stored" in plain.headers["location"]
    with ops_web.db() as s:
        assert accounts_repo.get(s, "megamart", "acme-2").enabled is False
    assert (
        ops_web.login("ana")
        .post(
            "/ops/accounts/enable",
            {"portal": "megamart", "account": "acme-2", "password": NEW_PASSWORD},
        )
        .status_code
        == 403
    )
    done = otto.post(
        "/ops/accounts/enable",
        {"portal": "megamart", "account": "acme-2", "password": NEW_PASSWORD},
    )
    assert done.status_code == 303
    assert "acme-2+on+megamart:+enabled" in done.headers["location"]
    assert NEW_PASSWORD not in done.headers["location"]
    vault = get_vault(tmp_path / "data")
    stored = vault.get("megamart", "acme-2")
    assert stored is not None
    assert stored.reveal() == NEW_PASSWORD
    with ops_web.db() as s:
        assert accounts_repo.get(s, "megamart", "acme-2").enabled is True
        actors = s.scalars(select(AuditLog.actor).where(AuditLog.action == "account.enabled")).all()
        assert actors == ["web:otto"]
        dump = "\n".join(
            str(row) for t in ("audit_log", "health_events", "accounts")
            for row in s.execute(text(f"SELECT * FROM {t}"))
        )  # fmt: skip
    assert NEW_PASSWORD not in dump, "the password lives in the keyring only"
    page = otto.client.get("/ops").text
    assert NEW_PASSWORD not in page
