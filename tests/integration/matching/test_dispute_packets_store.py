"""Dispute packets, deadlines and outcomes on a real store (SQLite and PostgreSQL):
the packet rules a browser test would take minutes to reach one by one."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from pathlib import Path

from fpdf import FPDF
from pypdf import PdfReader
from sqlalchemy import select

from bots.health import health_report
from dispute_filing import deadlines
from dispute_filing.narrative import OVERRIDE_DIR
from dispute_filing.outcomes import outcome, recovered
from dispute_filing.packets import prepare, queue_dispute
from matching.reports import export_credits
from records.schemas import DocumentRecord
from store.models import HealthEvent
from store.repositories import deductions, documents
from store.repositories import disputes as disputes_repo
from store.repositories import matching as matching_repo
from store.vault import DocumentVault
from tests.integration.store import factories
from tests.integration.store.conftest import Db

TODAY = date(2025, 6, 1)


def _pdf(text: str) -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", "", 12)
    pdf.cell(100, 10, text)
    return bytes(pdf.output())


def _claim(s, ref: str, amount: str, closes: date | None, validity: str = "invalid") -> int:  # type: ignore[no-untyped-def]
    ded_id = deductions.upsert(s, factories.deduction(ref, amount=Decimal(amount))).id
    matching_repo.save_verdicts(
        s,
        [
            matching_repo.VerdictRow(
                deduction_id=ded_id,
                validity=validity,
                category="shortage",
                category_source="test",
                rule="test",
                claimed_amount=Decimal(amount),
                current_amount=Decimal(amount),
                valid_amount=Decimal("0.00"),
                disputable_amount=Decimal(amount),
                window_closes=closes,
                reasons=["The POD shows every carton delivered"],
                evidence=[],
                missing=[],
                fingerprint=f"fp-{ref}",
            )
        ],
    )
    return ded_id


def _attach(s, vault: DocumentVault, ded_id: int, name: str, role: str) -> str:  # type: ignore[no-untyped-def]
    stored = vault.put(_pdf(name), name, "application/pdf")
    doc = documents.register(
        s,
        DocumentRecord(
            sha256=stored.sha256,
            size_bytes=stored.size,
            media_type="application/pdf",
            original_filename=name,
            vault_path=str(stored.path.relative_to(vault.root)),
        ),
    )
    documents.link(s, doc.id, role, deduction_id=ded_id)
    return stored.sha256


def test_a_packet_is_merged_to_the_portals_count_strongest_first(db: Db, tmp_path: Path) -> None:
    vault = DocumentVault(tmp_path / "vault")
    with db.sessions() as s, s.begin():
        ded_id = _claim(s, "D-1", "155.38", date(2026, 1, 1))
        for i in range(5):
            _attach(s, vault, ded_id, f"backup-{i}.pdf", "backup")
        pod = _attach(s, vault, ded_id, "pod.pdf", "pod")
        dispute = queue_dispute(s, "megamart", "D-1")
        prepared = prepare(s, vault, dispute, today=TODAY)
    assert prepared.refusal is None
    kinds = [a.kind for a in prepared.attachments]
    assert kinds == ["cover_letter", "pod", "backup", "backup", "merged"], kinds
    assert prepared.attachments[1].sha256 == pod, "the POD is the strongest proof of a shortage"
    merged = prepared.attachments[-1]
    assert merged.sources == ("backup-2.pdf", "backup-3.pdf", "backup-4.pdf")
    assert len(PdfReader(io.BytesIO(merged.data)).pages) == 3
    assert prepared.packet.portal_reason == "Proof of delivery attached"
    letter = PdfReader(io.BytesIO(prepared.attachments[0].data)).pages[0].extract_text()
    assert "Dispute of claim D-1" in letter
    assert "INV-5001" in letter
    assert "pod.pdf" in letter


def test_a_split_on_a_portal_without_an_amount_is_refused_with_the_figures(
    db: Db, tmp_path: Path
) -> None:
    vault = DocumentVault(tmp_path / "vault")
    with db.sessions() as s, s.begin():
        _claim(s, "D-2", "155.38", date(2026, 1, 1))
        dispute = queue_dispute(s, "megamart", "D-2", Decimal("77.69"))
        prepared = prepare(s, vault, dispute, today=TODAY)
    assert prepared.refusal is not None
    assert "takes no amount" in prepared.refusal
    assert "155.38" in prepared.refusal
    assert "77.69" in prepared.refusal
    assert prepared.packet.explanation.startswith("We dispute 77.69 USD of the 155.38 USD")


def test_a_users_template_wins_and_an_overlong_one_is_refused(db: Db, tmp_path: Path) -> None:
    vault = DocumentVault(tmp_path / "vault")
    own = tmp_path / "data" / OVERRIDE_DIR / "megamart"
    own.mkdir(parents=True)
    (own / "shortage.j2").write_text("Claim {{ claim.number }}: {{ findings[0] }}\n")
    with db.sessions() as s, s.begin():
        _claim(s, "D-3", "10.00", date(2026, 1, 1))
        dispute = queue_dispute(s, "megamart", "D-3")
        prepared = prepare(s, vault, dispute, data_dir=tmp_path / "data", today=TODAY)
        assert prepared.packet.explanation == "Claim D-3: The POD shows every carton delivered"
        assert prepared.template == "megamart/shortage.j2"
        (own / "shortage.j2").write_text("{{ 'x' * 2001 }}")
        refused = prepare(s, vault, dispute, data_dir=tmp_path / "data", today=TODAY)
    assert refused.refusal is not None
    assert "2,001 characters; megamart takes 2,000" in refused.refusal


def test_deadlines_rank_by_money_at_risk_and_alert_once_a_day(db: Db) -> None:
    with db.sessions() as s, s.begin():
        _claim(s, "SMALL", "50.00", date(2025, 6, 5))
        _claim(s, "BIG", "900.00", date(2025, 6, 20))
        _claim(s, "LATER", "5000.00", date(2025, 8, 1))
        _claim(s, "CLOSED", "700.00", date(2025, 5, 30))
        _claim(s, "VALID", "800.00", date(2025, 6, 6), validity="valid")
        _claim(s, "FILED", "600.00", date(2025, 6, 7))
        filed = queue_dispute(s, "megamart", "FILED")
        filed.dispute_number, filed.status = "MD0000001", "research"
    with db.sessions() as s, s.begin():
        found = deadlines.closing(s, TODAY, 30)
        assert [d.claim for d in found] == ["megamart:BIG", "megamart:SMALL"]
        assert [d.days_left for d in found] == [19, 4]
        assert deadlines.alert(s, TODAY, 30) is not None
        assert deadlines.alert(s, TODAY, 30) is None, "once a business day"
        event = s.scalars(select(HealthEvent).where(HealthEvent.kind == "dispute_deadlines")).one()
        assert event.detail["amount_at_risk"] == "950.00"
        shown = health_report(s)["dispute_deadlines"]
        assert [x["claim"] for x in shown["top"]] == ["megamart:BIG", "megamart:SMALL"]


def test_outcomes_reach_the_credit_export_once(db: Db) -> None:
    assert recovered("approved", None, Decimal("10.00")) == Decimal("10.00")
    assert recovered("partially_approved", Decimal("4.00"), Decimal("10.00")) == Decimal("4.00")
    assert recovered("partially_approved", None, Decimal("10.00")) is None
    assert recovered("denied", None, Decimal("10.00")) == Decimal("0.00")
    assert recovered("research", None, Decimal("10.00")) is None
    assert [outcome(x) for x in ("approved", "partially_approved", "expired", "research")] == [
        "won",
        "partially won",
        "lost",
        None,
    ]
    with db.sessions() as s, s.begin():
        _claim(s, "WON", "100.00", None)
        _claim(s, "PART", "80.00", None)
        for ref, status, back in (
            ("WON", "approved", "100.00"),
            ("PART", "partially_approved", "30.00"),
        ):
            d = queue_dispute(s, "megamart", ref)
            record = disputes_repo.as_record(d, ref).model_copy(
                update={"status": status, "recovered_amount": Decimal(back), "dispute_number": ref}
            )
            disputes_repo.upsert(s, record)
    with db.sessions() as s, s.begin():
        rows = export_credits(s, date(2000, 1, 1), "test")
        again = export_credits(s, date(2000, 1, 1), "test")
    got = {(r["deduction"], r["kind"]): r["amount"] for r in rows}
    assert got == {
        ("WON", "recovered"): "100.00",
        ("PART", "recovered"): "30.00",
        ("PART", "dispute_write_off"): "50.00",
    }
    assert again == []


def test_a_person_releases_a_held_dispute_and_the_audit_keeps_why(db: Db) -> None:
    from dispute_filing.handoff import release
    from store.models import AuditLog
    from store.repositories import approvals as approvals_repo

    with db.sessions() as s, s.begin():
        approvals_repo.ensure_user(s, "ana", "analyst")
        _claim(s, "HELD", "155.38", date(2026, 1, 1))
        d = queue_dispute(s, "megamart", "HELD", Decimal("77.69"))
        held = disputes_repo.as_record(d, "HELD").model_copy(
            update={"status": "awaiting_person", "hold_reason": "megamart's form takes no amount"}
        )
        disputes_repo.upsert(s, held)
    with db.sessions() as s, s.begin():
        d = disputes_repo.by_key(s, "megamart:HELD:dispute")
        assert d is not None
        release(s, d, "ana", TODAY)
    with db.sessions() as s:
        d = disputes_repo.by_key(s, "megamart:HELD:dispute")
        assert d is not None
        assert (d.status, d.hold_reason) == ("queued", None)
        entry = s.scalars(select(AuditLog).where(AuditLog.action == "release_dispute")).one()
        assert entry.before["held_because"] == "megamart's form takes no amount"
