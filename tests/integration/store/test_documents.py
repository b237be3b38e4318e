"""Documents are unique by content; links are unique per (document, target, role)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from records.schemas import ExtractionStatus, LinkRole
from store.db import transaction
from store.models import Document, DocumentLink
from store.repositories import deductions, documents, shipments

from .conftest import Db
from .factories import deduction, document, shipment


def test_same_content_is_one_document_whatever_its_name(db: Db) -> None:
    with transaction(db.sessions) as s:
        first = documents.register(s, document(original_filename="claim.pdf"))
        second = documents.register(s, document(original_filename="../../etc/passwd"))
        other = documents.register(s, document(b"another file"))
    assert (first.outcome, second.outcome, other.outcome) == ("created", "unchanged", "created")
    assert first.id == second.id != other.id
    with transaction(db.sessions, write=False) as s:
        assert s.execute(select(func.count()).select_from(Document)).scalar_one() == 2
        kept = documents.by_sha256(s, document().sha256)
        assert kept is not None
        assert kept.original_filename == "claim.pdf"  # the first name seen is kept


def test_sha256_is_unique_in_the_database_itself(db: Db) -> None:
    def add_twice() -> None:
        with transaction(db.sessions) as s:
            s.add(Document(**document().model_dump()))
            s.add(Document(**document().model_dump()))

    with pytest.raises(IntegrityError):
        add_twice()


def test_extraction_result_fills_a_pending_document(db: Db) -> None:
    with transaction(db.sessions) as s:
        doc = documents.register(s, document())
    done = document(
        extraction_status=ExtractionStatus.failed,
        extraction_reason="image only",
        needs_ocr=True,
        extracted_text_length=0,
    )
    with transaction(db.sessions) as s:
        assert documents.register(s, done).outcome == "changed"
        assert documents.register(s, done).outcome == "unchanged"
    with transaction(db.sessions, write=False) as s:
        row = s.get(Document, doc.id)
        assert row is not None
        assert (row.extraction_status, row.needs_ocr, row.extraction_reason) == (
            ExtractionStatus.failed,
            True,
            "image only",
        )
        assert row.extracted_at is not None


def test_links_are_unique_per_document_target_and_role(db: Db) -> None:
    with transaction(db.sessions) as s:
        d = deductions.upsert(s, deduction()).id
        sh = shipments.upsert(s, shipment()).id
        doc = documents.register(s, document()).id
        a = documents.link(s, doc, LinkRole.backup, deduction_id=d)
        b = documents.link(s, doc, "backup", deduction_id=d)
        c = documents.link(s, doc, LinkRole.pod, deduction_id=d)
        e = documents.link(s, doc, LinkRole.pod, shipment_id=sh)
        f = documents.link(s, doc, LinkRole.pod, shipment_id=sh)
    assert (a.outcome, b.outcome, c.outcome, e.outcome, f.outcome) == (
        "created",
        "unchanged",
        "created",
        "created",
        "unchanged",
    )
    assert a.id == b.id
    assert e.id == f.id
    with transaction(db.sessions, write=False) as s:
        assert s.execute(select(func.count()).select_from(DocumentLink)).scalar_one() == 3
        assert sorted(role for _, role in documents.for_deduction(s, d)) == ["backup", "pod"]
        assert [role for _, role in documents.for_shipment(s, sh)] == ["pod"]


def test_a_link_has_exactly_one_target(db: Db) -> None:
    with transaction(db.sessions) as s:
        doc = documents.register(s, document()).id
        with pytest.raises(ValueError, match="exactly one"):
            documents.link(s, doc, LinkRole.backup)

    def add_untargeted() -> None:
        with transaction(db.sessions) as s:
            s.add(DocumentLink(document_id=doc, role=LinkRole.backup))

    with pytest.raises(IntegrityError):
        add_untargeted()


def test_fetched_refs_are_remembered_once_per_target(db: Db) -> None:
    with transaction(db.sessions) as s:
        d = deductions.upsert(s, deduction()).id
        doc = documents.register(s, document()).id
        documents.record_fetch(s, doc, "doc:42", deduction_id=d)
        documents.record_fetch(s, doc, "doc:42", deduction_id=d)  # a re-run: no error, no copy
        documents.record_fetch(s, doc, "zip:CB1#1", deduction_id=d)  # same bytes, other ref
    with transaction(db.sessions, write=False) as s:
        assert documents.source_refs(s, deduction_id=d) == {"doc:42", "zip:CB1#1"}
        assert documents.source_refs(s, deduction_id=d + 999) == set()
    with pytest.raises(ValueError, match="exactly one"), transaction(db.sessions) as s:
        documents.record_fetch(s, doc, "x", deduction_id=d, shipment_id=1)
