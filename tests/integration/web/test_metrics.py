"""``/metrics``: the fleet's numbers in Prometheus' format, read from the store,
parsed back with prometheus-client's own parser; only ops and admin (a token
or a session) may read them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from matching import approvals
from records.schemas import RetrievalStatus, RunStatus
from store.db import transaction
from store.models import BotRun, RetrievalRequest
from store.repositories import accounts as accounts_repo
from store.repositories import approvals as approvals_repo
from tests.integration.web.conftest import WebStore

NOW = datetime.now(UTC)


def _run(portal: str, account: str | None, task: str, status: RunStatus, **kw: Any) -> BotRun:
    started = kw.pop("started", NOW - timedelta(hours=1))
    return BotRun(
        run_id=f"{portal}-{task}-{status}-{started.timestamp()}-{account}",
        portal=portal,
        account=account,
        task=task,
        status=status,
        started_at=started,
        finished_at=None if status == RunStatus.running else started + timedelta(minutes=2),
        **kw,
    )


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_ops_scrapes_the_fleet_from_the_store(web: WebStore) -> None:
    with transaction(web.db) as s:
        accounts_repo.upsert_account(s, "megamart", "acme-ar")
        accounts_repo.upsert_account(s, "parcelnet", "acme-parcel")
        s.add_all(
            [
                _run("megamart", "acme-ar", "sync", RunStatus.succeeded),
                _run("megamart", "acme-ar", "sync", RunStatus.succeeded,
                     started=NOW - timedelta(minutes=30)),
                _run("megamart", "acme-ar", "sync", RunStatus.failed, error_class="PortalUnavailable",
                     started=NOW - timedelta(minutes=10)),
                _run("parcelnet", "acme-parcel", "pods", RunStatus.running),
            ]
        )  # fmt: skip
        for status, waited in (
            (RetrievalStatus.done, 4),
            (RetrievalStatus.done, 25),
            (RetrievalStatus.queued, None),
            (RetrievalStatus.needs_human, 3),
        ):
            s.add(
                RetrievalRequest(
                    requester="ana",
                    target_kind="deduction",
                    target_value=f"CB-{status}-{waited}",
                    portal="megamart",
                    status=status,
                    created_at=NOW - timedelta(minutes=5),
                    finished_at=None
                    if waited is None
                    else NOW - timedelta(minutes=5) + timedelta(seconds=waited),
                )
            )
        token = approvals_repo.create_api_token(s, "otto", "prometheus")  # otto: ops
        analyst_token = approvals_repo.create_api_token(s, "ana", "script")

    client = web.client()
    assert client.get("/metrics").status_code == 401
    denied = client.get("/metrics", headers={"Authorization": f"Bearer {analyst_token}"})
    assert denied.status_code == 403
    r = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    got = _samples(r.text)

    def value(name: str, **labels: str) -> float:
        return got[(name, tuple(sorted(labels.items())))]

    runs = "fleet_bot_runs_total"
    assert value(runs, portal="megamart", task="sync", outcome="succeeded") == 2
    assert value(runs, portal="megamart", task="sync", outcome="failed") == 1
    assert (
        value("fleet_bot_failures_total", portal="megamart", error_class="PortalUnavailable") == 1
    )
    assert value("fleet_bot_runs_in_progress", portal="parcelnet") == 1
    assert value("fleet_documents_linked", role="backup") == 3  # the store's three documents
    assert value("fleet_documents_stored") == 3
    assert value("fleet_ondemand_queue_depth", status="queued") == 1
    assert value("fleet_ondemand_queue_depth", status="running") == 0
    assert value("fleet_needs_human_open") == 1
    last = value(
        "fleet_account_last_success_timestamp_seconds", portal="megamart", account="acme-ar"
    )
    assert abs(last - (NOW - timedelta(minutes=28)).timestamp()) < 1  # the later success
    assert ("fleet_account_last_success_timestamp_seconds",
            (("account", "acme-parcel"), ("portal", "parcelnet"))) not in got  # fmt: skip
    assert value("fleet_account_enabled", portal="megamart", account="acme-ar") == 1
    hist = "fleet_ondemand_latency_seconds"
    assert value(f"{hist}_bucket", le="5.0") == 2  # 4 s and the needs-human one (3 s)
    assert value(f"{hist}_bucket", le="30.0") == 3
    assert value(f"{hist}_bucket", le="+Inf") == 3
    assert value(f"{hist}_count") == 3
    assert value(f"{hist}_sum") == 32

    with transaction(web.db) as s:  # an account disabled after bad credentials
        accounts_repo.set_enabled(s, "megamart", "acme-ar", False, "bad credentials")
    again = _samples(client.get("/metrics", headers={"Authorization": f"Bearer {token}"}).text)
    key = ("fleet_account_enabled", (("account", "acme-ar"), ("portal", "megamart")))
    assert again[key] == 0


def test_an_ops_session_reads_metrics_and_an_approver_does_not(web: WebStore) -> None:
    assert web.login("otto").client.get("/metrics").status_code == 200
    assert web.login("mia").client.get("/metrics").status_code == 403
    with transaction(web.db) as s:
        approvals.set_access(s, "mia", "test", access="ops")
    assert web.login("mia").client.get("/metrics").status_code == 200
