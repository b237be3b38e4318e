"""Documents (one row per distinct content, by sha256) and their links.

The vault writes the bytes; this module records them. Registering the same
content twice returns the same row: the first file name seen is kept (names are
metadata only), and extraction results are only filled in, never lost.
Links are unique per (document, target, role). All functions are idempotent,
safe to retry and under concurrency; none commits.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from records.schemas import DocumentRecord, ExtractionStatus, LinkRole
from store.models import Document, DocumentLink, FetchedRef, table_of, utcnow
from store.repositories._common import UpsertResult, insert_for

T = table_of(Document)
LT = table_of(DocumentLink)

_EXTRACTION = (
    "extraction_status",
    "extraction_reason",
    "needs_ocr",
    "extracted_text_length",
    "extracted_fields",
)


def register(session: Session, record: DocumentRecord) -> UpsertResult:
    """Record a stored file. ``created`` for new content; ``changed`` when the
    row was still ``pending`` and the record brings an extraction result;
    otherwise ``unchanged``."""
    now = utcnow()
    values = record.model_dump()
    inserted = session.execute(
        insert_for(session, T)
        .values(**values, first_seen_at=now, extracted_at=_extracted_at(record, now))
        .on_conflict_do_nothing(index_elements=["sha256"])
        .returning(T.c.id)
    ).scalar_one_or_none()
    if inserted is not None:
        return UpsertResult("created", inserted)
    row = session.execute(
        select(T.c.id, T.c.extraction_status).where(T.c.sha256 == record.sha256).with_for_update()
    ).one()
    if (
        ExtractionStatus(row.extraction_status) is ExtractionStatus.pending
        and record.extraction_status is not ExtractionStatus.pending
    ):
        set_extraction(
            session,
            row.id,
            record.extraction_status,
            reason=record.extraction_reason,
            needs_ocr=record.needs_ocr,
            text_length=record.extracted_text_length,
            fields=record.extracted_fields,
        )
        return UpsertResult("changed", row.id)
    return UpsertResult("unchanged", row.id)


def _extracted_at(record: DocumentRecord, now: Any) -> Any:
    return None if record.extraction_status is ExtractionStatus.pending else now


def set_extraction(
    session: Session,
    document_id: int,
    status: ExtractionStatus,
    *,
    reason: str = "",
    needs_ocr: bool = False,
    text_length: int | None = None,
    fields: dict[str, Any] | None = None,
) -> None:
    """Store the extraction outcome (replaces any earlier one). Idempotent."""
    session.execute(
        update(T)
        .where(T.c.id == document_id)
        .values(
            extraction_status=ExtractionStatus(status),
            extraction_reason=reason[:500],
            needs_ocr=needs_ocr,
            extracted_text_length=text_length,
            extracted_fields=fields or {},
            extracted_at=utcnow(),
        )
    )


def link(
    session: Session,
    document_id: int,
    role: LinkRole | str,
    *,
    deduction_id: int | None = None,
    shipment_id: int | None = None,
) -> UpsertResult:
    """Attach a document to exactly one deduction or shipment in ``role``.
    ``created`` the first time, ``unchanged`` after."""
    if (deduction_id is None) == (shipment_id is None):
        raise ValueError("link a document to exactly one of deduction_id or shipment_id")
    role = LinkRole(role)
    target, target_id = (
        ("deduction_id", deduction_id) if deduction_id is not None else ("shipment_id", shipment_id)
    )
    inserted = session.execute(
        insert_for(session, LT)
        .values(
            document_id=document_id,
            deduction_id=deduction_id,
            shipment_id=shipment_id,
            role=role,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(
            index_elements=["document_id", target, "role"],
            index_where=text(f"{target} IS NOT NULL"),
        )
        .returning(LT.c.id)
    ).scalar_one_or_none()
    if inserted is not None:
        return UpsertResult("created", inserted)
    existing: int = session.execute(
        select(LT.c.id).where(
            LT.c.document_id == document_id, LT.c[target] == target_id, LT.c.role == role
        )
    ).scalar_one()
    return UpsertResult("unchanged", existing)


def by_sha256(session: Session, sha256: str) -> Document | None:
    return session.execute(
        select(Document).where(Document.sha256 == sha256.lower())
    ).scalar_one_or_none()


def for_deduction(session: Session, deduction_id: int) -> list[tuple[Document, LinkRole]]:
    """Documents attached to a deduction, with their roles, oldest link first."""
    rows = session.execute(
        select(Document, DocumentLink.role)
        .join(DocumentLink, DocumentLink.document_id == Document.id)
        .where(DocumentLink.deduction_id == deduction_id)
        .order_by(DocumentLink.id)
    )
    return [(doc, role) for doc, role in rows]


def for_shipment(session: Session, shipment_id: int) -> list[tuple[Document, LinkRole]]:
    rows = session.execute(
        select(Document, DocumentLink.role)
        .join(DocumentLink, DocumentLink.document_id == Document.id)
        .where(DocumentLink.shipment_id == shipment_id)
        .order_by(DocumentLink.id)
    )
    return [(doc, role) for doc, role in rows]


def record_fetch(
    session: Session,
    document_id: int,
    source_ref: str,
    *,
    deduction_id: int | None = None,
    shipment_id: int | None = None,
) -> None:
    """Remember that ``source_ref`` (the portal's id for a document) was fetched
    for this deduction or shipment, so a re-run skips it. Idempotent."""
    if (deduction_id is None) == (shipment_id is None):
        raise ValueError("record a fetch for exactly one of deduction_id or shipment_id")
    target = "deduction_id" if deduction_id is not None else "shipment_id"
    session.execute(
        insert_for(session, table_of(FetchedRef))
        .values(
            document_id=document_id,
            deduction_id=deduction_id,
            shipment_id=shipment_id,
            source_ref=source_ref[:500],
            fetched_at=utcnow(),
        )
        .on_conflict_do_nothing(
            index_elements=[target, "source_ref"], index_where=text(f"{target} IS NOT NULL")
        )
    )


def source_refs(
    session: Session, *, deduction_id: int | None = None, shipment_id: int | None = None
) -> set[str]:
    """The refs already fetched for one deduction or shipment."""
    column = FetchedRef.deduction_id if deduction_id is not None else FetchedRef.shipment_id
    target = deduction_id if deduction_id is not None else shipment_id
    return set(session.scalars(select(FetchedRef.source_ref).where(column == target)))


__all__ = [
    "by_sha256",
    "for_deduction",
    "for_shipment",
    "link",
    "record_fetch",
    "register",
    "set_extraction",
    "source_refs",
]
