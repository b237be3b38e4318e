"""Shipments, ERP records, disputes, runs, watermarks, retrieval requests, audit."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from records.schemas import (
    DisputeRecord,
    ErpInvoiceLineRecord,
    ErpInvoiceRecord,
    ErpPromotionRecord,
    ErpShipmentRecord,
    PodStatus,
    RemittanceAdjustmentRecord,
    RemittanceLineRecord,
    RemittanceRecord,
    RetrievalStatus,
    RunStatus,
)
from store.db import transaction
from store.models import (
    AuditLog,
    BotRun,
    ErpInvoiceLine,
    HealthEvent,
    RemittanceAdjustment,
    Shipment,
)
from store.repositories import (
    accounts,
    audit,
    deductions,
    disputes,
    erp,
    retrieval,
    runs,
    shipments,
    watermarks,
)

from .conftest import Db
from .factories import deduction, shipment


def test_shipment_upsert_is_idempotent_and_never_lowers_the_pod_status(db: Db) -> None:
    with transaction(db.sessions) as s:
        first = shipments.upsert(s, shipment(pod_status=PodStatus.fetched))
        again = shipments.upsert(s, shipment(pod_status=PodStatus.fetched))
        later = shipments.upsert(s, shipment(pod_status=PodStatus.unknown, signer="J. DOE JR"))
    assert (first.outcome, again.outcome, later.outcome) == ("created", "unchanged", "changed")
    assert [c.field for c in later.changes] == ["signer"]
    with transaction(db.sessions, write=False) as s:
        row = shipments.get(s, "haulstar", "123456789")
        assert row is not None
        assert row.pod_status is PodStatus.fetched
        assert row.exceptions == ["SHORT 3 CS"]
        assert s.execute(select(func.count()).select_from(Shipment)).scalar_one() == 1


def _invoice(**kw: object) -> ErpInvoiceRecord:
    values: dict[str, object] = {
        "invoice_number": "INV-5001",
        "customer": "MegaMart Inc.",
        "invoice_date": date(2025, 2, 1),
        "total": Decimal("300.00"),
        "lines": [
            ErpInvoiceLineRecord(
                sku="SKU-1", quantity=30, unit_price=Decimal("10.00"), amount=Decimal("300.00")
            )
        ],
    }
    values.update(kw)
    return ErpInvoiceRecord(**values)  # type: ignore[arg-type]


def test_erp_records_upsert_by_their_keys(db: Db) -> None:
    promo = ErpPromotionRecord(
        promo_id="P-1",
        customer="MegaMart Inc.",
        start_date=date(2025, 1, 1),
        end_date=date(2025, 3, 31),
        rate_per_unit=Decimal("0.50"),
        skus=["SKU-1"],
    )
    ship = ErpShipmentRecord(shipment_id="S-1", invoice_number="INV-5001", pro_number="123456789")
    with transaction(db.sessions) as s:
        assert erp.upsert_invoice(s, _invoice()).outcome == "created"
        assert erp.upsert_invoice(s, _invoice()).outcome == "unchanged"
        # the same number at another customer is another invoice
        assert erp.upsert_invoice(s, _invoice(customer="FreshCo")).outcome == "created"
        assert erp.upsert_promotion(s, promo).outcome == "created"
        assert erp.upsert_promotion(s, promo).outcome == "unchanged"
        assert erp.upsert_shipment(s, ship).outcome == "created"
        assert erp.upsert_shipment(s, ship).outcome == "unchanged"
    two_lines = [
        ErpInvoiceLineRecord(
            sku="SKU-1", quantity=20, unit_price=Decimal("10.00"), amount=Decimal("200.00")
        ),
        ErpInvoiceLineRecord(
            sku="SKU-2", quantity=10, unit_price=Decimal("10.00"), amount=Decimal("100.00")
        ),
    ]
    with transaction(db.sessions) as s:
        changed = erp.upsert_invoice(s, _invoice(lines=two_lines))
    assert changed.outcome == "changed"
    assert [c.field for c in changed.changes] == ["lines"]
    with transaction(db.sessions, write=False) as s:
        skus = (
            s.execute(
                select(ErpInvoiceLine.sku)
                .where(ErpInvoiceLine.invoice_id == changed.id)
                .order_by(ErpInvoiceLine.line_no)
            )
            .scalars()
            .all()
        )
    assert skus == ["SKU-1", "SKU-2"]


def test_remittance_keeps_lines_and_adjustments(db: Db) -> None:
    rec = RemittanceRecord(
        remittance_id="EFT-1",
        customer="MegaMart Inc.",
        payment_date=date(2025, 3, 10),
        total_paid=Decimal("1065.44"),
        lines=[
            RemittanceLineRecord(
                invoice_number="INV-5001",
                invoice_amount=Decimal("2300.00"),
                paid_amount=Decimal("1065.44"),
                adjustments=[
                    RemittanceAdjustmentRecord(
                        reference="CB-1001", reason_code="24", amount=Decimal("1234.56")
                    )
                ],
            )
        ],
    )
    with transaction(db.sessions) as s:
        assert erp.upsert_remittance(s, rec).outcome == "created"
        assert erp.upsert_remittance(s, rec).outcome == "unchanged"
        changed = erp.upsert_remittance(s, rec.model_copy(update={"lines": []}))
        assert changed.outcome == "changed"
        assert erp.adjustments_referencing(s, "CB-1001") == []
        assert erp.upsert_remittance(s, rec).outcome == "changed"
        [adj] = erp.adjustments_referencing(s, "CB-1001")
        assert adj.amount == Decimal("1234.56")
    with transaction(db.sessions, write=False) as s:
        assert s.execute(select(func.count()).select_from(RemittanceAdjustment)).scalar_one() == 1


def test_dispute_upsert_by_idempotency_key_tracks_status(db: Db) -> None:
    with transaction(db.sessions) as s:
        deductions.upsert(s, deduction())
    rec = DisputeRecord(
        portal="megamart",
        deduction_external_id="CB-1001",
        idempotency_key="dispute-CB-1001-1",
        amount=Decimal("1234.56"),
    )
    filed = rec.model_copy(
        update={
            "status": "Walmart research",
            "dispute_number": "D-1",
            "attempts": 1,
            "filed_at": datetime(2025, 3, 5, 12, tzinfo=UTC),
        }
    )
    with transaction(db.sessions) as s:
        a = disputes.upsert(s, rec, run_id="r1")
        b = disputes.upsert(s, rec)
        c = disputes.upsert(s, filed, run_id="r2")
    assert (a.outcome, b.outcome, c.outcome) == ("created", "unchanged", "changed")
    with transaction(db.sessions, write=False) as s:
        row = disputes.by_key(s, "dispute-CB-1001-1")
        assert row is not None
        assert (row.status, row.dispute_number, row.attempts) == ("Walmart research", "D-1", 1)
        assert row.filed_at == datetime(2025, 3, 5, 12, tzinfo=UTC)
        steps = [(h.old_status, h.status) for h in disputes.status_history(s, row.id)]
    assert steps == [(None, "draft"), ("draft", "Walmart research")]
    with pytest.raises(LookupError), transaction(db.sessions) as s:
        disputes.upsert(
            s,
            rec.model_copy(
                update={"deduction_external_id": "NOPE", "idempotency_key": "dispute-NOPE-1"}
            ),
        )


def test_bot_runs_accounts_and_watermarks(db: Db) -> None:
    with transaction(db.sessions) as s:
        accounts.upsert_portal(s, "megamart", "retailer", "MegaMart Retail Link")
        accounts.upsert_account(s, "megamart", "ap@supplier.example", "AP team")
        assert (
            runs.start(
                s, "run-1", "megamart", "list_deductions", account="ap@supplier.example"
            ).outcome
            == "created"
        )
        assert runs.start(s, "run-1", "megamart", "list_deductions").outcome == "unchanged"
        runs.finish(
            s,
            "run-1",
            RunStatus.partial,
            counts={"created": 3, "quarantined": 1},
            error_class="RecordInvalid",
        )
        runs.health_event(
            s, "login_failed", portal="megamart", severity="error", error_class="BadCredentials"
        )
        accounts.set_enabled(
            s,
            "megamart",
            "ap@supplier.example",
            False,
            "BadCredentials: stopped to avoid a lockout",
        )
        watermarks.put(s, "megamart", "list_deductions", "2025-03-01", account="ap")
        watermarks.put(s, "megamart", "list_deductions", "2025-03-04", account="ap")
    with transaction(db.sessions, write=False) as s:
        run = runs.get(s, "run-1")
        assert run is not None
        assert (run.status, run.counts, run.error_class) == (
            RunStatus.partial,
            {"created": 3, "quarantined": 1},
            "RecordInvalid",
        )
        assert run.finished_at is not None
        assert s.execute(select(func.count()).select_from(BotRun)).scalar_one() == 1
        assert accounts.enabled_accounts(s, "megamart") == []
        acct = accounts.get(s, "megamart", "ap@supplier.example")
        assert acct is not None
        assert acct.disabled_reason is not None
        assert watermarks.get(s, "megamart", "list_deductions", account="ap") == "2025-03-04"
        assert watermarks.get(s, "megamart", "list_deductions") is None
    # a disabled account stays disabled when a robot sees it again
    with transaction(db.sessions) as s:
        deductions.upsert(s, deduction())
    with transaction(db.sessions, write=False) as s:
        acct = accounts.get(s, "megamart", "ap@supplier.example")
        assert acct is not None
        assert acct.enabled is False


def test_retrieval_requests_are_deduplicated_while_active(db: Db) -> None:
    with transaction(db.sessions) as s:
        first = retrieval.enqueue(s, "ana", "deduction", "megamart:CB-1", portal="megamart")
        dup = retrieval.enqueue(s, "bob", "deduction", "megamart:CB-1", portal="megamart")
        urgent = retrieval.enqueue(s, "ana", "pod", "haulstar:123456789", priority=5)
    assert (first.outcome, dup.outcome) == ("created", "unchanged")
    assert first.id == dup.id
    with transaction(db.sessions) as s:
        claimed = retrieval.claim_next(s, run_id="run-7")
        assert claimed is not None
        assert claimed.id == urgent.id
        assert claimed.status is RetrievalStatus.running
        assert claimed.attempts == 1
        retrieval.finish(s, claimed.id, RetrievalStatus.needs_human, "CaptchaRequired")
        nxt = retrieval.claim_next(s)
        assert nxt is not None
        assert nxt.id == first.id
        assert retrieval.claim_next(s) is None
        # still running: asking again joins the active request
        again = retrieval.enqueue(s, "bob", "deduction", "megamart:CB-1", portal="megamart")
        assert again.id == first.id
        retrieval.finish(s, first.id, RetrievalStatus.done)
        # once done, a new request for the same target is a new request
        after = retrieval.enqueue(s, "bob", "deduction", "megamart:CB-1", portal="megamart")
        assert after.outcome == "created"


def test_the_same_number_on_two_portals_is_two_retrievals(db: Db) -> None:
    """A PRO number is only unique per carrier: merging across portals would
    leave one carrier's POD never fetched."""
    with transaction(db.sessions) as s:
        a = retrieval.enqueue(s, "ana", "pod", "123456789", portal="haulstar")
        b = retrieval.enqueue(s, "ana", "pod", "123456789", portal="parcelnet")
        a2 = retrieval.enqueue(s, "bob", "pod", "123456789", portal="haulstar")
    assert (a.outcome, b.outcome, a2.outcome) == ("created", "created", "unchanged")
    assert a.id != b.id
    assert a2.id == a.id
    with transaction(db.sessions) as s:
        portals = {retrieval.claim_next(s).portal, retrieval.claim_next(s).portal}  # type: ignore[union-attr]
    assert portals == {"haulstar", "parcelnet"}


def test_audit_log_is_append_only_and_chained(db: Db) -> None:
    with transaction(db.sessions) as s:
        one = audit.append(
            s,
            "analyst:ana",
            "approve",
            "deduction:1",
            before={"verdict": None},
            after={"verdict": "invalid", "amount": Decimal("5.00")},
        )
        two = audit.append(s, "system", "file_dispute", "deduction:1")
    assert two.seq > one.seq
    with transaction(db.sessions, write=False) as s:
        assert audit.verify(s) is None
        assert (
            s.execute(select(AuditLog.prev_hash).where(AuditLog.seq == two.seq)).scalar_one()
            == one.hash
        )
    for sql in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), transaction(db.sessions) as s:
            s.execute(text(sql))
    with transaction(db.sessions, write=False) as s:
        assert s.execute(select(func.count()).select_from(AuditLog)).scalar_one() == 2


def test_reaper_closes_only_runs_whose_heartbeat_stopped(db: Db) -> None:
    t0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    with transaction(db.sessions) as s:
        accounts.upsert_portal(s, "megamart", "retailer", "MegaMart")
        runs.start(s, "dead", "megamart", "sync", account="ap", started_at=t0)
        runs.start(s, "slow", "megamart", "sync", account="ap", started_at=t0)
        runs.beat(s, "slow", at=t0.replace(hour=9))  # started as long ago, but alive
        runs.start(s, "done", "megamart", "sync", account="ap", started_at=t0)
        runs.finish(s, "done", RunStatus.succeeded)
        runs.beat(s, "done", at=t0.replace(hour=9))  # a late beat after finishing moves nothing
    cutoff = t0.replace(hour=8, minute=50)
    with transaction(db.sessions) as s:
        assert [r.run_id for r in runs.reap_stale(s, cutoff)] == ["dead"]
    with transaction(db.sessions) as s:
        assert runs.reap_stale(s, cutoff) == []  # idempotent
        dead, slow, done = (runs.get(s, r) for r in ("dead", "slow", "done"))
        assert dead is not None
        assert slow is not None
        assert done is not None
        assert (dead.status, dead.error_class) == (RunStatus.failed, "WorkerLost")
        assert dead.finished_at is not None
        assert slow.status is RunStatus.running
        assert done.status is RunStatus.succeeded
        assert done.heartbeat_at == t0
        events = s.execute(select(HealthEvent).where(HealthEvent.kind == "run_reaped")).scalars()
        assert [(e.run_id, e.error_class) for e in events] == [("dead", "WorkerLost")]
