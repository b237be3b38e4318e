"""The extraction pass over a real store and vault: every kind the robots fetch is
read (PDF, CSV line detail, ZIP members as documents of their own), outcomes are
recorded with their reasons, a per-account call reads only that account's, and a
re-run changes nothing."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from records.schemas import DeductionRecord, DocumentRecord, ExtractionStatus
from store.db import make_engine, session_factory
from store.extraction_pass import extract_pending
from store.migrate import upgrade
from store.models import Document, DocumentLink
from store.repositories import deductions as deductions_repo
from store.repositories import documents as documents_repo
from store.vault import DocumentVault

from .test_fields import _fpdf
from .test_line_detail import FRESHCO

BACKUP = """FRESHCO VENDOR CLAIM
Claim Number: FC-1
Invoice Number: INV-1
Reason Code: 8
Amount: {amount}
"""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[sessionmaker[Session], DocumentVault]]:
    url = f"sqlite:///{tmp_path / 'fleet.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield session_factory(engine), DocumentVault(tmp_path / "vault")
    engine.dispose()


def _deduction(db: sessionmaker[Session], portal: str, ext: str, account: str) -> int:
    with db() as s, s.begin():
        rec = DeductionRecord(
            portal=portal, external_id=ext, account=account, amount=Decimal("3071.90")
        )
        return deductions_repo.upsert(s, rec).id


def _put(
    db: sessionmaker[Session], vault: DocumentVault, data: bytes, name: str, role: str, did: int
) -> int:
    stored = vault.put(data, name)
    with db() as s, s.begin():
        doc = documents_repo.register(
            s,
            DocumentRecord(
                sha256=stored.sha256,
                size_bytes=stored.size,
                media_type="application/octet-stream",  # whatever the portal said
                original_filename=name,
                vault_path=str(stored.path.relative_to(vault.root)),
            ),
        ).id
        documents_repo.link(s, doc, role, deduction_id=did)
        return doc


def _doc(db: sessionmaker[Session], doc_id: int) -> Document:
    with db() as s:
        d = s.get(Document, doc_id)
        assert d is not None
        s.expunge(d)
        return d


def test_csv_line_detail_becomes_lines_with_rows_kept(store) -> None:  # type: ignore[no-untyped-def]
    db, vault = store
    did = _deduction(db, "freshco", "FC-1", "ACME69")
    doc_id = _put(db, vault, FRESHCO, "FC-1_detail.csv", "line_detail", did)
    counts = extract_pending(db, vault)
    assert counts["csv"] == 1
    assert counts["extracted"] == 1
    doc = _doc(db, doc_id)
    assert doc.extraction_status is ExtractionStatus.extracted
    lines = doc.extracted_fields["lines"]
    assert [(ln["sku"], ln["quantity"], ln["amount"]) for ln in lines] == [
        ("AC-10206", 290, "31.90"),
        ("AC-10010", 760, "3040.00"),
    ]
    assert lines[0]["unit_cost"] == "0.11"
    assert "PO COST 82.96" in lines[0]["description"]
    assert lines[0]["raw"].startswith("AC-10206,")


def test_zip_members_are_documents_of_their_own_linked_and_read(store) -> None:  # type: ignore[no-untyped-def]
    db, vault = store
    did = _deduction(db, "shopright", "CB-1", "ar@acme.example")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("CB-1_claim.pdf", _fpdf(BACKUP.format(amount="$3,071.90")))
        zf.writestr("CB-1_detail.csv", FRESHCO)
        zf.writestr("notes.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    archive = _put(db, vault, buf.getvalue(), "CB-1_backup.zip", "backup", did)
    counts = extract_pending(db, vault)
    assert counts["zip"] == 1
    assert counts["members"] == 3
    assert _doc(db, archive).extraction_status is ExtractionStatus.extracted
    with db() as s:
        members = s.execute(
            select(
                Document.original_filename, Document.extraction_status, Document.extracted_fields
            )
            .join(DocumentLink, DocumentLink.document_id == Document.id)
            .where(DocumentLink.deduction_id == did, Document.id != archive)
            .order_by(Document.original_filename)
        ).all()
    by_name = {m[0]: m for m in members}
    assert set(by_name) == {"CB-1_claim.pdf", "CB-1_detail.csv", "notes.png"}
    pdf = by_name["CB-1_claim.pdf"]
    assert pdf[1] is ExtractionStatus.extracted
    assert pdf[2]["claim_number"]["value"] == "FC-1"
    assert by_name["CB-1_detail.csv"][2]["lines"][1]["amount"] == "3040.00"
    assert by_name["notes.png"][1] is ExtractionStatus.unsupported
    # again: nothing pending, nothing registered twice
    assert extract_pending(db, vault)["documents"] == 0
    with db() as s:
        assert s.scalar(select(func.count()).select_from(Document)) == 4


def test_one_accounts_documents_only(store) -> None:  # type: ignore[no-untyped-def]
    db, vault = store
    mine = _put(db, vault, FRESHCO, "a.csv", "line_detail", _deduction(db, "freshco", "A", "x"))
    other = _put(
        db,
        vault,
        FRESHCO + b"Z-1,z,1,1.00,1.00\r\n",
        "b.csv",
        "line_detail",
        _deduction(db, "freshco", "B", "y"),
    )
    counts = extract_pending(db, vault, portal="freshco", account="x")
    assert counts["documents"] == 1
    assert _doc(db, mine).extraction_status is ExtractionStatus.extracted
    assert _doc(db, other).extraction_status is ExtractionStatus.pending


def test_a_doubtful_read_goes_to_review_with_its_reason(store) -> None:  # type: ignore[no-untyped-def]
    db, vault = store
    did = _deduction(db, "freshco", "FC-1", "ACME69")
    text = BACKUP.format(amount="307190") + "Freight: $12.00\nFuel: $3.50\n"
    doc_id = _put(db, vault, _fpdf(text), "FC-1_claim.pdf", "backup", did)
    seen: list[tuple[int, int]] = []
    extract_pending(db, vault, progress=lambda done, total: seen.append((done, total)))
    doc = _doc(db, doc_id)
    assert doc.extraction_status is ExtractionStatus.partial
    assert "low confidence: amount (0.5)" in doc.extraction_reason
    assert "without decimals" in doc.extraction_reason
    assert seen == [(1, 1)]


def test_bytes_gone_from_the_vault_fail_that_document_not_the_pass(store) -> None:  # type: ignore[no-untyped-def]
    db, vault = store
    did = _deduction(db, "freshco", "FC-1", "ACME69")
    gone = _put(db, vault, b"sku,quantity,amount\nA,1,1.00\n", "gone.csv", "line_detail", did)
    kept = _put(db, vault, FRESHCO, "kept.csv", "line_detail", did)
    vault.path_for(_doc(db, gone).sha256).unlink()
    counts = extract_pending(db, vault)
    assert (counts["failed"], counts["extracted"]) == (1, 1)
    assert "not readable in the vault" in _doc(db, gone).extraction_reason
    assert _doc(db, kept).extraction_status is ExtractionStatus.extracted
