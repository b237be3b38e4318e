"""One deduction in full (store.queries.detail) on SQLite and PostgreSQL: its
timeline from first sight to recovery, documents (its own and its shipment's),
verdict, approval chain, comments and dispute; and which deduction a REF names."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from matching import approvals
from records.schemas import DisputeRecord, ExtractionStatus
from store.models import utcnow
from store.queries.detail import AmbiguousRef, UnknownRef, deduction_detail
from store.queries.refs import resolve_ref
from store.repositories import approvals as approvals_repo
from store.repositories import audit, deductions, disputes, documents, shipments
from tests.integration.store import factories
from tests.integration.store.conftest import Db
from tests.integration.worklist.store import CLAIMS, fill


def _life_of_a_claim(db: Db, ids: dict[str, int]) -> None:
    """mm1 (megamart:CB-1001) from first sight to a won dispute, in order."""
    mm1 = ids["mm1"]
    claim = {**CLAIMS["mm1"], "amount": Decimal("1200.00"), "status": "In research"}
    with db.sessions() as s, s.begin():
        changed = deductions.upsert(s, factories.deduction(**claim), run_id="run-2")
        assert changed.changed
    with db.sessions() as s, s.begin():
        backup = documents.register(
            s, factories.document(b"%PDF-1.4 backup", original_filename="claim CB-1001.pdf")
        ).id
        documents.link(s, backup, "backup", deduction_id=mm1)
        documents.record_fetch(s, backup, "doc-1", deduction_id=mm1)
        documents.set_extraction(
            s, backup, ExtractionStatus.extracted, fields={"pro_number": "123456789"}
        )
    with db.sessions() as s, s.begin():
        ship = shipments.upsert(s, factories.shipment("123456789")).id
        pod = documents.register(
            s, factories.document(b"%PDF-1.4 pod", original_filename="pod 123456789.pdf")
        ).id
        documents.link(s, pod, "pod", shipment_id=ship)
    with db.sessions() as s, s.begin():
        audit.append(
            s, "system:matching", "verdict", f"deduction:{mm1}", None,
            {"validity": "invalid", "valid_amount": "0.00", "category": "shortage"},
        )  # fmt: skip
        approvals_repo.ensure_user(s, "ana", "analyst")
        approvals_repo.ensure_user(s, "mia", "manager")
    with db.sessions() as s, s.begin():
        decision = approvals.propose(s, mm1, "dispute", "ana", note="the POD shows 40 of 40")
    with db.sessions() as s, s.begin():
        # approved on a day inside the claim's dispute window
        approvals.act(s, decision.id, "mia", approve=True, note="ok", today=date(2025, 4, 1))
    with db.sessions() as s, s.begin():
        approvals.comment(s, mm1, "ana", "Filed it, @mia: [bold]see[/bold] the POD")
    key = "megamart:CB-1001:dispute"
    base = {"portal": "megamart", "deduction_external_id": "CB-1001", "idempotency_key": key}
    with db.sessions() as s, s.begin():
        disputes.upsert(s, DisputeRecord(**base, status="queued", amount=Decimal("1200.00")))
    filed = utcnow()
    with db.sessions() as s, s.begin():
        disputes.upsert(
            s,
            DisputeRecord(
                **base, status="submitted", amount=Decimal("1200.00"), dispute_number="D-77",
                filed_at=filed, attempts=1,
            ),
        )  # fmt: skip
    with db.sessions() as s, s.begin():
        disputes.upsert(
            s,
            DisputeRecord(
                **base, status="approved", amount=Decimal("1200.00"), dispute_number="D-77",
                filed_at=filed, attempts=1,
            ),
        )  # fmt: skip


def test_the_timeline_tells_the_claim_s_life_in_order(db: Db) -> None:
    ids = fill(db)
    _life_of_a_claim(db, ids)
    with db.sessions() as s:
        detail = deduction_detail(s, "megamart:CB-1001")
    steps = [(e.kind, e.actor, e.field, e.before, e.after, e.ref, e.note) for e in detail.timeline]
    assert steps == [
        ("first_seen", None, None, None, None, None, None),
        ("changed", None, "amount", "1234.56", "1200.00", "run-2", None),
        ("changed", None, "status", "Open", "In research", "run-2", None),
        ("document", None, "backup", None, None, "claim CB-1001.pdf", None),
        ("document", None, "pod", None, None, "pod 123456789.pdf", "shipment haulstar:123456789"),
        ("verdict", "system:matching", None, None, "invalid", None, "0.00"),
        ("proposed", "ana", None, None, "dispute", str(detail.decisions[0].id),
         "the POD shows 40 of 40"),
        ("approval", "mia", "manager", None, "approved", str(detail.decisions[0].id), "ok"),
        ("decision", None, None, None, "approved", str(detail.decisions[0].id), None),
        ("comment", "ana", None, None, None, None, "Filed it, @mia: [bold]see[/bold] the POD"),
        ("dispute", None, None, None, "1200.00", None, None),
        ("dispute_filed", None, None, None, None, "D-77", None),
        ("dispute_status", None, None, "queued", "submitted", None, None),
        ("dispute_status", None, None, "submitted", "approved", None, None),
        ("recovered", None, None, None, "approved", "D-77", None),
    ]  # fmt: skip
    times = [e.at for e in detail.timeline]
    assert times == sorted(times)


def test_the_detail_holds_every_part(db: Db) -> None:
    ids = fill(db)
    _life_of_a_claim(db, ids)
    with db.sessions() as s:
        d = deduction_detail(s, ids["mm1"])
    f = d.deduction
    assert (f.ref, f.amount, f.status) == ("megamart:CB-1001", Decimal("1200.00"), "In research")
    assert f.customer == "MegaMart Stores, Inc."
    assert (f.invoice_number, f.po_number, f.pro_number) == ("INV-5001", "PO-777", "123456789")
    assert [(ln.line_no, ln.sku, ln.amount) for ln in f.lines] == [(1, "SKU-1", Decimal("30.00"))]
    assert f.raw["Claim #"] == "CB-1001"
    assert [(doc.role, doc.filename, doc.via, doc.extraction_status) for doc in d.documents] == [
        ("backup", "claim CB-1001.pdf", None, "extracted"),
        ("pod", "pod 123456789.pdf", "shipment haulstar:123456789", "pending"),
    ]
    assert d.documents[0].fetched_at is not None
    assert d.documents[1].fetched_at is None
    assert d.documents[0].size_bytes == len(b"%PDF-1.4 backup")
    assert [(sh.carrier, sh.pro_number, sh.pieces_delivered) for sh in d.shipments] == [
        ("haulstar", "123456789", 37)
    ]
    assert d.verdict is not None
    assert (d.verdict.validity, d.verdict.reasons) == (
        "invalid",
        ["invalid because the test says so"],
    )
    (decision,) = d.decisions
    assert (decision.kind, decision.status, decision.dispute_amount) == (
        "dispute", "approved", Decimal("1200.00"),
    )  # fmt: skip
    assert [(st.role, st.status, st.actor) for st in decision.steps] == [
        ("manager", "approved", "mia")
    ]
    assert decision.waiting_for is None
    assert d.approval is decision
    (comment,) = d.comments
    assert (comment.author, comment.mentions) == ("ana", ["mia"])
    (dispute,) = d.disputes
    assert (dispute.dispute_number, dispute.status, dispute.won) == ("D-77", "approved", True)
    assert [(h.old_status, h.status) for h in dispute.history] == [
        (None, "queued"), ("queued", "submitted"), ("submitted", "approved"),
    ]  # fmt: skip


def test_a_pending_chain_says_whom_it_waits_for(db: Db) -> None:
    ids = fill(db)
    with db.sessions() as s, s.begin():
        approvals_repo.ensure_user(s, "ana", "analyst")
        approvals.propose(s, ids["sr1"], "accept", "ana")
    with db.sessions() as s:
        d = deduction_detail(s, "SR-2001")
    (decision,) = d.decisions
    assert decision.status == "pending"
    assert decision.waiting_for is not None
    assert decision.waiting_for.role == "manager"
    assert [e.kind for e in d.timeline] == ["first_seen", "verdict", "proposed"]


def test_a_claim_with_nothing_yet(db: Db) -> None:
    ids = fill(db)
    with db.sessions() as s:
        d = deduction_detail(s, "freshco:FC-3001")
    assert d.deduction.id == ids["fc1"]
    assert d.deduction.deduction_date is None
    assert (d.verdict, d.documents, d.shipments, d.decisions, d.comments, d.disputes) == (
        None, [], [], [], [], [],
    )  # fmt: skip
    assert [e.kind for e in d.timeline] == ["first_seen"]


def test_which_deduction_a_ref_names(db: Db) -> None:
    ids = fill(db)
    with db.sessions() as s, s.begin():
        colon = deductions.upsert(s, factories.deduction("CB:9", portal="freshco")).id
    with db.sessions() as s:
        assert resolve_ref(s, "SR-2001").deduction.id == ids["sr1"]  # type: ignore[union-attr]
        assert resolve_ref(s, " shopright:CB-1001 ").deduction.id == ids["sr2"]  # type: ignore[union-attr]
        assert resolve_ref(s, "CB:9").deduction.id == colon  # type: ignore[union-attr]
        assert resolve_ref(s, "freshco:CB:9").deduction.id == colon  # type: ignore[union-attr]
        many = resolve_ref(s, "CB-1001")
        assert (many.deduction, many.candidates) == (
            None,
            ("megamart:CB-1001", "shopright:CB-1001"),
        )
        for nothing in ("NOPE", "megamart:NOPE", "", "   ", "x" * 500, "%", "CB-100"):
            assert resolve_ref(s, nothing) == resolve_ref(s, "NOPE")
            assert resolve_ref(s, nothing).deduction is None
        with pytest.raises(AmbiguousRef) as many_exc:
            deduction_detail(s, "CB-1001")
        assert many_exc.value.candidates == ("megamart:CB-1001", "shopright:CB-1001")
        with pytest.raises(UnknownRef):
            deduction_detail(s, "NOPE")
        with pytest.raises(UnknownRef):
            deduction_detail(s, 10_000)
        assert deduction_detail(s, ids["mm2"]).deduction.ref == "megamart:CB-1002"


def test_verdict_history_from_the_audit_log(db: Db) -> None:
    """Each verdict the matcher wrote is an event, with the validity it replaced."""
    ids = fill(db)
    entity = f"deduction:{ids['mm3']}"
    with db.sessions() as s, s.begin():
        audit.append(s, "system:matching", "verdict", entity, None, {"validity": "needs_review"})
        audit.append(
            s, "system:matching", "verdict", entity, {"validity": "needs_review"},
            {"validity": "valid", "valid_amount": "50.00"},
        )  # fmt: skip
        audit.append(s, "ana", "comment", entity, None, {"comment": 1})  # not a verdict
    with db.sessions() as s:
        d = deduction_detail(s, ids["mm3"])
    assert [(e.kind, e.before, e.after, e.note) for e in d.timeline if e.kind == "verdict"] == [
        ("verdict", None, "needs_review", None),
        ("verdict", "needs_review", "valid", "50.00"),
    ]
