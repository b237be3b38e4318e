"""The anomalies a run's end can raise (bots/anomalies.py), on a SQLite store
built through the store's own repositories, as the robots write it: a
document kind that stops arriving on an account, and a portal whose failures
jump; each raised once a day, and none when the condition does not hold.
Also the runtime's call: a job's end runs the checks."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import keyring.backends.fail
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bots.anomalies import (
    after_run,
    check_documents,
    check_failure_rate,
    check_listed_rows,
    recent_anomalies,
)
from bots.browser_pool import BrowserPool
from bots.jobs import CORE, EVERY_ACCOUNT, Job
from bots.options import BrowserOptions
from bots.runtime import FleetRuntime
from credentials.keyring_vault import CredentialVault
from records.schemas import LinkRole, RunStatus
from store.db import init_db, session_factory, transaction
from store.models import HealthEvent
from store.repositories import deductions as deductions_repo
from store.repositories import documents as documents_repo
from store.repositories import runs as runs_repo
from store.repositories import shipments as shipments_repo
from store.vault import DocumentVault
from tests.integration.store import factories

PORTAL, ACCOUNT = "megamart", "acme-ar"
CLAIMS = ("CB-1", "CB-2", "CB-3")
_content = itertools.count()


@pytest.fixture
def db(tmp_path: Path) -> sessionmaker[Session]:
    sessions = session_factory(init_db(f"sqlite:///{tmp_path / 'fleet.db'}"))
    with transaction(sessions) as s:
        for ext in CLAIMS:
            deductions_repo.upsert(s, factories.deduction(ext, portal=PORTAL, account=ACCOUNT))
    return sessions


def _claim(s: Session, ext: str) -> int:
    row = deductions_repo.get(s, PORTAL, ext)
    assert row is not None
    return row.id


def _fetch(s: Session, role: LinkRole, claim: str, shipment_id: int | None = None) -> None:
    """One document fetched for a claim (and, as ``pods`` does, for a shipment)."""
    content = f"%PDF-1.4 {role} {next(_content)}".encode()
    doc = documents_repo.register(s, factories.document(content)).id
    ref = f"ref-{next(_content)}"
    documents_repo.link(s, doc, role, deduction_id=_claim(s, claim))
    documents_repo.record_fetch(s, doc, ref, deduction_id=_claim(s, claim))
    if shipment_id is not None:
        documents_repo.link(s, doc, role, shipment_id=shipment_id)
        documents_repo.record_fetch(s, doc, ref, shipment_id=shipment_id)


def _sync(
    db: sessionmaker[Session],
    run_id: str,
    roles: tuple[LinkRole, ...],
    *,
    listed: int = 6,
    skipped: int = 0,
    pods_from_carrier: bool = False,
    status: RunStatus = RunStatus.succeeded,
) -> str:
    """A sync run of the account, fetching one document per role, as the runner
    records it: started, its documents stored and linked, finished with its
    counts. With ``pods_from_carrier`` a carrier's POD lands on the account's
    claim during the run (a ``pods`` job of another account's lock)."""
    with transaction(db) as s:
        runs_repo.start(s, run_id, PORTAL, "sync", account=ACCOUNT)
    with transaction(db) as s:
        for role in roles:
            _fetch(s, role, CLAIMS[0])
        if pods_from_carrier:
            pro = f"PRO{next(_content):06d}"
            shipment = shipments_repo.upsert(s, factories.shipment(pro)).id
            _fetch(s, LinkRole.pod, CLAIMS[1], shipment_id=shipment)
    with transaction(db) as s:
        counts = {
            "deductions.unchanged": 40,
            "documents.listed": listed,
            "documents.skipped": skipped,
        }
        runs_repo.finish(s, run_id, status, counts=counts)
    return run_id


USUAL = (LinkRole.backup, LinkRole.deal_sheet)


def _history(db: sessionmaker[Session], **kw: bool) -> None:
    """Five syncs: backup every time, a deal sheet in four of them."""
    for i, roles in enumerate((USUAL, USUAL, (LinkRole.backup,), USUAL, USUAL)):
        _sync(db, f"before-{i}", roles, **kw)


def _events(db: sessionmaker[Session]) -> list[HealthEvent]:
    with db() as s:
        return list(s.scalars(select(HealthEvent).where(HealthEvent.kind == "anomaly")))


def test_a_document_kind_that_stops_arriving_is_an_anomaly_once(
    db: sessionmaker[Session],
) -> None:
    _history(db)
    latest = _sync(db, "latest", (LinkRole.backup,))
    with transaction(db) as s:
        [found] = check_documents(s, latest)
    assert (found["what"], found["role"], found["seen"], found["runs"]) == (
        "documents",
        "deal_sheet",
        4,
        5,
    )
    message = "megamart acme-ar: no deal sheet documents arrived in the last sync; they came in 4 of the 5 before"
    assert found["message"] == message
    with db() as s:
        [shown] = recent_anomalies(s, datetime.now(UTC))
    assert (shown["portal"], shown["account"], shown["message"]) == (PORTAL, ACCOUNT, message)

    again = _sync(db, "later-the-same-day", (LinkRole.backup,))
    with transaction(db) as s:
        assert check_documents(s, again) == [], "raised once a day"
        assert check_documents(s, latest) == []
    assert len(_events(db)) == 1


def test_documents_as_usual_raise_nothing(db: sessionmaker[Session]) -> None:
    _history(db)
    latest = _sync(db, "latest", USUAL)
    with transaction(db) as s:
        assert check_documents(s, latest) == []
    assert _events(db) == []


def test_a_run_with_nothing_new_to_fetch_is_no_yardstick(db: sessionmaker[Session]) -> None:
    _history(db)
    idle = _sync(db, "idle", (), listed=6, skipped=6)  # every ref already held
    smaller = _sync(db, "smaller", (LinkRole.backup,), listed=2)  # less work than any before
    with transaction(db) as s:
        assert check_documents(s, idle) == []
        assert check_documents(s, smaller) == []
    assert _events(db) == []


def test_a_kind_that_came_now_and_then_is_not_usual(db: sessionmaker[Session]) -> None:
    rare = (LinkRole.backup, LinkRole.remittance)
    for i, roles in enumerate((rare, (LinkRole.backup,), rare, (LinkRole.backup,), USUAL)):
        _sync(db, f"before-{i}", roles)
    latest = _sync(db, "latest", (LinkRole.backup,))
    with transaction(db) as s:
        assert check_documents(s, latest) == [], "remittance 2 of 5, deal sheet 1 of 5"


def test_too_short_a_history_raises_nothing(db: sessionmaker[Session]) -> None:
    for i in range(2):
        _sync(db, f"before-{i}", USUAL)
    latest = _sync(db, "latest", (LinkRole.backup,))
    with transaction(db) as s:
        assert check_documents(s, latest) == []


def test_a_failed_run_is_not_judged_on_its_documents(db: sessionmaker[Session]) -> None:
    _history(db)
    failed = _sync(db, "failed", (LinkRole.backup,), status=RunStatus.failed)
    with transaction(db) as s:
        assert check_documents(s, failed) == []


def test_a_carriers_pod_on_the_accounts_claims_is_not_the_accounts_kind(
    db: sessionmaker[Session],
) -> None:
    _history(db, pods_from_carrier=True)  # a POD landed during every sync
    latest = _sync(db, "latest", USUAL)
    with transaction(db) as s:
        assert check_documents(s, latest) == [], "the POD is the carrier's, not the sync's"


# ---------------------------------------------------------------- failure rate


def _runs(
    db: sessionmaker[Session],
    portal: str,
    hours_ago: float,
    ok: int,
    failed: int,
    error_class: str = "LayoutChanged",
) -> None:
    """``ok`` and ``failed`` runs of the portal, started ``hours_ago``."""
    with transaction(db) as s:
        for i in range(ok + failed):
            run_id = f"{portal}-{hours_ago}-{error_class}-{i}"
            at = datetime.now(UTC) - timedelta(hours=hours_ago, minutes=i)
            runs_repo.start(s, run_id, portal, "sync", account=ACCOUNT, started_at=at)
            bad = i < failed
            runs_repo.finish(
                s,
                run_id,
                RunStatus.failed if bad else RunStatus.succeeded,
                error_class=error_class if bad else None,
                finished_at=at,
            )


def test_a_portal_whose_failures_jump_is_an_anomaly_once(db: sessionmaker[Session]) -> None:
    _runs(db, PORTAL, 24 * 4, ok=9, failed=1)  # 10% the week before
    _runs(db, PORTAL, 3, ok=2, failed=3)
    _runs(db, PORTAL, 2, ok=0, failed=1, error_class="PortalUnavailable")  # 4 of 6 today
    _runs(db, "freshco", 3, ok=6, failed=0)
    _runs(db, "freshco", 24 * 3, ok=6, failed=0)
    with transaction(db) as s:
        found = check_failure_rate(s, PORTAL)
        assert check_failure_rate(s, "freshco") is None
    assert found is not None
    assert (found["what"], found["runs"], found["failed"]) == ("failure_rate", 6, 4)
    assert found["classes"] == {"LayoutChanged": 3, "PortalUnavailable": 1}
    assert found["message"] == (
        "megamart: 4 of 6 runs failed in the last 24 h (67%; 10% the week before):"
        " LayoutChanged 3, PortalUnavailable 1"
    )
    [event] = _events(db)
    assert (event.portal, event.account) == (PORTAL, None), "portal-wide"
    with transaction(db) as s:
        assert check_failure_rate(s, PORTAL) is None, "raised once a day"
    assert len(_events(db)) == 1


@pytest.mark.parametrize(
    ("before", "today", "why"),
    [
        ((9, 1), (4, 2), "a third failed: under half"),
        ((6, 4), (2, 4), "two thirds, but 40% the week before: not a jump"),
        ((9, 1), (0, 3), "three runs are too few to judge"),
        ((2, 0), (1, 5), "two runs the week before are no usual rate"),
    ],
)
def test_failures_that_are_no_jump_raise_nothing(
    db: sessionmaker[Session], before: tuple[int, int], today: tuple[int, int], why: str
) -> None:
    _runs(db, PORTAL, 24 * 4, ok=before[0], failed=before[1])
    _runs(db, PORTAL, 3, ok=today[0], failed=today[1])
    with transaction(db) as s:
        assert check_failure_rate(s, PORTAL) is None, why
    assert _events(db) == []


def test_a_disabled_account_is_not_the_portal_failing(db: sessionmaker[Session]) -> None:
    _runs(db, PORTAL, 24 * 4, ok=10, failed=0)
    _runs(db, PORTAL, 3, ok=2, failed=0)
    _runs(db, PORTAL, 2, ok=0, failed=6, error_class="AccountDisabled")
    with transaction(db) as s:
        assert check_failure_rate(s, PORTAL) is None


# ---------------------------------------------------------------- once a day, all kinds


def test_the_rows_anomaly_is_raised_once_a_day_too(db: sessionmaker[Session]) -> None:
    with transaction(db) as s:
        for i, n in enumerate((60, 58, 61)):
            runs_repo.start(s, f"sync-{i}", PORTAL, "sync", account=ACCOUNT)
            runs_repo.finish(
                s, f"sync-{i}", RunStatus.succeeded, counts={"deductions.unchanged": n}
            )
        assert check_listed_rows(s, PORTAL, ACCOUNT, 0, run_id="quiet-1") is not None
        assert check_listed_rows(s, PORTAL, ACCOUNT, 0, run_id="quiet-2") is None


def test_each_kind_is_its_own_banner(db: sessionmaker[Session]) -> None:
    """One banner per condition: a quiet sync does not hide a missing kind."""
    _history(db)
    latest = _sync(db, "latest", (LinkRole.backup,))
    with transaction(db) as s:
        check_documents(s, latest)
        check_listed_rows(s, PORTAL, ACCOUNT, 0, run_id="latest")
    with db() as s:
        shown = recent_anomalies(s, datetime.now(UTC))
    assert sorted(a["what"] for a in shown) == ["documents", "rows"]


# ---------------------------------------------------------------- the runtime calls them


async def test_a_jobs_end_runs_the_checks(tmp_path: Path, db: sessionmaker[Session]) -> None:
    _runs(db, CORE, 24 * 3, ok=5, failed=0)
    _runs(db, CORE, 3, ok=0, failed=3, error_class="OperationalError")
    runtime = FleetRuntime(
        tmp_path,
        db=db,
        vault=DocumentVault(tmp_path / "vault"),
        credentials=CredentialVault(keyring.backends.fail.Keyring(), tmp_path),
        pool=BrowserPool(BrowserOptions(), data_dir=tmp_path),
        portal_urls={},
    )
    result = await runtime.run(Job(CORE, EVERY_ACCOUNT, "queue_disputes"))
    assert result.status == RunStatus.succeeded.value, result
    [event] = _events(db)
    assert (event.portal, event.run_id) == (CORE, result.run_id)
    assert event.detail["message"].startswith("core: 3 of 4 runs failed in the last 24 h (75%")
    with transaction(db) as s:
        assert after_run(s, result.run_id) == [], "once a day"
