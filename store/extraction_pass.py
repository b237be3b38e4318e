"""Reading every stored document that has not been read yet.

Text comes from the killable extraction worker; fields come from the backup
and POD/BOL readers by the role each document is linked in (a backup also
gets its carrier numbers read, since shortage claims carry PRO and BOL).
Every outcome is recorded on the document (extracted, partial, failed with
a reason, needs_ocr), and the bytes stay in the vault whatever happens.
Idempotent: a document leaves ``pending`` once, and a re-run skips it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from records.schemas import ExtractionStatus
from store.extraction import (
    ExtractedField,
    PdfExtractor,
    extract_backup_fields,
    extract_pod_fields,
)
from store.extraction import (
    ExtractionStatus as TextStatus,
)
from store.models import Document, DocumentLink
from store.repositories import documents as documents_repo
from store.vault import DocumentVault

BACKUP_KEYS = ("claim_number", "invoice_number", "amount")
POD_KEYS = ("pro_number", "pieces_delivered")


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def _fields(obj: Any) -> dict[str, Any]:
    """Every field as {"value", "confidence"}; lists as plain values."""
    out: dict[str, Any] = {}
    for name, value in vars(obj).items():
        if isinstance(value, ExtractedField):
            out[name] = {"value": _jsonable(value.value), "confidence": value.confidence}
        elif isinstance(value, list) and value:
            out[name] = _jsonable([getattr(v, "__dict__", v) for v in value])
    return out


def read_fields(text: str, roles: set[str]) -> dict[str, Any]:
    """The fields a document of these roles carries."""
    fields: dict[str, Any] = {}
    if roles & {"pod", "bol"}:
        fields.update(_fields(extract_pod_fields(text)))
    if roles - {"pod", "bol"}:
        pod = _fields(extract_pod_fields(text))
        fields.update({k: v for k, v in pod.items() if k in ("pro_number", "bol_number")})
        fields.update(_fields(extract_backup_fields(text)))
    return fields


def extract_pending(
    db: sessionmaker[Session],
    vault: DocumentVault,
    *,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Counter[str]:
    """Read every pending document; returns counts by outcome."""
    counts: Counter[str] = Counter()
    with db() as s:
        q = (
            select(Document.id, Document.sha256, Document.media_type)
            .where(Document.extraction_status == ExtractionStatus.pending)
            .order_by(Document.id)
        )
        if limit:
            q = q.limit(limit)
        pending = s.execute(q).all()
        roles: dict[int, set[str]] = {}
        for doc_id, role in s.execute(select(DocumentLink.document_id, DocumentLink.role)):
            roles.setdefault(doc_id, set()).add(str(getattr(role, "value", role)))
    extractor = PdfExtractor()
    try:
        for n, (doc_id, sha, media_type) in enumerate(pending, start=1):
            outcome = _extract_one(extractor, vault, sha, media_type, roles.get(doc_id, set()))
            with db() as s, s.begin():
                documents_repo.set_extraction(
                    s,
                    doc_id,
                    outcome["status"],
                    reason=outcome["reason"],
                    needs_ocr=outcome["needs_ocr"],
                    text_length=outcome["text_length"],
                    fields=outcome["fields"],
                )
            counts["documents"] += 1
            counts[outcome["status"].value] += 1
            if progress is not None:
                progress(n, len(pending))
    finally:
        extractor.close()
    return counts


def _extract_one(
    extractor: PdfExtractor, vault: DocumentVault, sha: str, media_type: str, roles: set[str]
) -> dict[str, Any]:
    none = {"needs_ocr": False, "text_length": None, "fields": {}}
    if media_type != "application/pdf":
        return {
            **none,
            "status": ExtractionStatus.unsupported,
            "reason": f"{media_type} is not read",
        }
    result = extractor.extract(vault.read_bytes(sha))
    if result.status is TextStatus.needs_ocr:
        return {
            **none,
            "status": ExtractionStatus.failed,
            "needs_ocr": True,
            "reason": "image-only PDF: no text layer (needs OCR)",
            "text_length": 0,
        }
    if not result.ok:
        return {
            **none,
            "status": ExtractionStatus.failed,
            "reason": f"{result.status.value}: {result.reason}"[:500],
        }
    text = result.text
    fields = read_fields(text, roles)
    wanted = POD_KEYS if roles & {"pod"} else BACKUP_KEYS if roles - {"pod", "bol"} else ()
    complete = all(k in fields for k in wanted)
    return {
        "status": ExtractionStatus.extracted if complete else ExtractionStatus.partial,
        "reason": "" if complete else "missing: " + ", ".join(k for k in wanted if k not in fields),
        "needs_ocr": False,
        "text_length": len(text),
        "fields": fields,
    }
