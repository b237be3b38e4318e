"""Reading every stored document that has not been read yet.

The pipeline calls :func:`extract_pending` after a sync (per account) and after a
carrier's POD fetch; it is a plain function of the database and the vault:

    counts = extract_pending(db, vault, portal="freshco", account="ACME69")

What a document is comes from its bytes (sniffed, never the portal's word):

* **PDF**: text from the killable extraction worker, then fields by the role
  each document is linked in (backup: claim, invoice, amount, dates, reason,
  promotion, lines, and the PRO/BOL that shortage claims carry; POD/BOL: the
  carrier's fields);
* **CSV**: a line detail (:mod:`store.extraction.line_detail`): every row a
  deduction line, kept as printed;
* **ZIP**: each member (unpacked by :func:`store.archives.safe_unzip`, bounded)
  becomes a document of its own, linked where the archive is linked and in its
  role, and is read in the same pass; the archive records what it held;
* anything else is ``unsupported``, with the sniffed type as the reason.

Every outcome is recorded on the document: ``extracted``; ``partial`` with what
is missing, what was read with low confidence and what a consistency check
doubts (these go to a person: the matcher does not decide on them); ``failed``
with a reason (``needs_ocr`` for an image-only PDF); ``unsupported``. The bytes
stay in the vault whatever happens.

Idempotent and safe to re-run or to run concurrently with a sync: a document
leaves ``pending`` once and a re-run skips it; registering a ZIP's members
twice leaves one document and one link each.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session, sessionmaker

from records.schemas import DocumentRecord, ExtractionStatus
from records.sniff import CSV, PDF, TEXT, ZIP, sniff_media_type
from store.archives import ArchiveError, safe_unzip
from store.extraction import (
    ExtractedField,
    LineDetailError,
    PdfExtractor,
    extract_backup_fields,
    extract_pod_fields,
    read_line_detail,
)
from store.extraction import ExtractionStatus as TextStatus
from store.extraction.labels import REVIEW_BELOW
from store.models import Deduction, Document, DocumentLink, Shipment
from store.repositories import documents as documents_repo
from store.repositories import quarantines as quarantine_repo
from store.vault import DocumentNotFound, DocumentTooLarge, DocumentVault

BACKUP_KEYS = ("claim_number", "invoice_number", "amount")
POD_KEYS = ("pro_number", "pieces_delivered")
CARRIER_ROLES = {"pod", "bol"}
WANTED: dict[str, tuple[str, ...]] = {
    "backup": BACKUP_KEYS,
    "deal_sheet": ("promotion_number",),
    "pod": POD_KEYS,
    "bol": ("pro_number",),
}
"""What a document in each role must yield to count as read (else ``partial``)."""
REVIEW_KEYS = frozenset(
    {
        *BACKUP_KEYS,
        *POD_KEYS,
        "bol_number",
        "promotion_number",
        "reason_code",
        "claim_date",
        "invoice_date",
        "pieces_shipped",
        "delivery_date",
    }
)
"""Fields the matcher or a dispute relies on: read with low confidence, they send
the document to review."""
MAX_ROUNDS = 3  # ZIPs inside ZIPs: members found in one round are read in the next

Progress = Callable[[int, int], None]


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
    """The fields a document of these roles carries (``problems``: what a check doubts)."""
    fields: dict[str, Any] = {}
    if roles & CARRIER_ROLES:
        fields.update(_fields(extract_pod_fields(text)))
    if roles - CARRIER_ROLES:
        pod = _fields(extract_pod_fields(text))
        fields.update({k: v for k, v in pod.items() if k in ("pro_number", "bol_number")})
        fields.update(_fields(extract_backup_fields(text)))
    return fields


@dataclass(frozen=True)
class _Pending:
    id: int
    sha256: str
    filename: str
    roles: frozenset[str]


def _pending(
    s: Session, portal: str | None, account: str | None, limit: int | None
) -> list[_Pending]:
    q = (
        select(Document.id, Document.sha256, Document.original_filename)
        .where(Document.extraction_status == ExtractionStatus.pending)
        .order_by(Document.id)
    )
    if portal is not None or account is not None:
        mine = select(DocumentLink.document_id).join(
            Deduction, Deduction.id == DocumentLink.deduction_id
        )
        if portal is not None:
            mine = mine.where(Deduction.portal == portal)
        if account is not None:
            mine = mine.where(Deduction.account == account)
        wanted: ColumnElement[bool] = Document.id.in_(mine)
        if portal is not None:  # a carrier's documents hang on its shipments
            carried = (
                select(DocumentLink.document_id)
                .join(Shipment, Shipment.id == DocumentLink.shipment_id)
                .where(Shipment.carrier == portal)
            )
            wanted = wanted | Document.id.in_(carried)
        q = q.where(wanted)
    if limit:
        q = q.limit(limit)
    rows = s.execute(q).all()
    roles: dict[int, set[str]] = {}
    ids = [r.id for r in rows]
    for i in range(0, len(ids), 500):
        for doc_id, role in s.execute(
            select(DocumentLink.document_id, DocumentLink.role).where(
                DocumentLink.document_id.in_(ids[i : i + 500])
            )
        ):
            roles.setdefault(doc_id, set()).add(str(getattr(role, "value", role)))
    return [
        _Pending(r.id, r.sha256, r.original_filename or "", frozenset(roles.get(r.id, ())))
        for r in rows
    ]


def extract_pending(
    db: sessionmaker[Session],
    vault: DocumentVault,
    *,
    portal: str | None = None,
    account: str | None = None,
    limit: int | None = None,
    progress: Progress | None = None,
) -> Counter[str]:
    """Read every pending document (only those of ``portal``/``account`` when given:
    linked to its deductions, or for a carrier to its shipments). Returns counts:
    ``documents`` read, one count per outcome (``extracted``, ``partial``,
    ``failed``, ``unsupported``), per kind read (``pdf``, ``csv``, ``zip``) and
    ``members`` registered from ZIPs. ``progress(done, total)`` after each one."""
    counts: Counter[str] = Counter()
    extractor = PdfExtractor()
    try:
        for _ in range(MAX_ROUNDS):
            with db() as s:
                pending = _pending(s, portal, account, limit)
            if not pending:
                break
            for n, doc in enumerate(pending, start=1):
                outcome = _extract_one(db, extractor, vault, doc, counts)
                with db() as s, s.begin():
                    documents_repo.set_extraction(
                        s,
                        doc.id,
                        outcome["status"],
                        reason=outcome["reason"],
                        needs_ocr=outcome["needs_ocr"],
                        text_length=outcome["text_length"],
                        fields=outcome["fields"],
                    )
                    if outcome["refused"]:
                        quarantine_repo.quarantine(
                            s,
                            "vault",
                            "document",
                            {"sha256": doc.sha256, "filename": doc.filename[:300]},
                            f"{doc.filename[:120]!r}: {outcome['reason']}",
                            external_id=f"sha256:{doc.sha256}",
                        )
                        counts["quarantined"] += 1
                counts["documents"] += 1
                counts[outcome["status"].value] += 1
                if progress is not None:
                    progress(n, len(pending))
            if limit or not counts["members"]:
                break
    finally:
        extractor.close()
    return counts


def _outcome(
    status: ExtractionStatus,
    reason: str = "",
    *,
    fields: dict[str, Any] | None = None,
    text_length: int | None = None,
    needs_ocr: bool = False,
    refused: bool = False,
) -> dict[str, Any]:
    """``refused``: past a bound on work (pages, time, an archive's limits): the
    document is also a quarantine row with the reason, so the job needs a person."""
    return {
        "refused": refused,
        "status": status,
        "reason": reason[:500],
        "fields": fields or {},
        "text_length": text_length,
        "needs_ocr": needs_ocr,
    }


def _extract_one(
    db: sessionmaker[Session],
    extractor: PdfExtractor,
    vault: DocumentVault,
    doc: _Pending,
    counts: Counter[str],
) -> dict[str, Any]:
    try:
        data = vault.read_bytes(doc.sha256)
    except (DocumentNotFound, OSError) as exc:
        return _outcome(ExtractionStatus.failed, f"bytes not readable in the vault: {exc}")
    kind = sniff_media_type(data)
    if kind == PDF:
        counts["pdf"] += 1
        return _read_pdf(extractor, data, doc.roles)
    if kind in (CSV, TEXT) and (kind == CSV or "line_detail" in doc.roles):
        counts["csv"] += 1
        return _read_csv(data)
    if kind == ZIP:
        counts["zip"] += 1
        return _read_zip(db, vault, doc, data, counts)
    return _outcome(ExtractionStatus.unsupported, f"{kind} is not read")


def _review(fields: dict[str, Any], wanted: tuple[str, ...]) -> str:
    """Why a read needs a person: fields missing, read with low confidence, doubted."""
    parts = []
    missing = [k for k in wanted if k not in fields]
    if missing:
        parts.append("missing: " + ", ".join(missing))
    low = [
        f"{k} ({v['confidence']})"
        for k, v in fields.items()
        if k in REVIEW_KEYS and isinstance(v, dict) and v.get("confidence", 1) < REVIEW_BELOW
    ]
    if low:
        parts.append("low confidence: " + ", ".join(low))
    parts += [str(p) for p in fields.get("problems", [])]
    return "; ".join(parts)


def _read_pdf(extractor: PdfExtractor, data: bytes, roles: frozenset[str]) -> dict[str, Any]:
    result = extractor.extract(data)
    if result.status is TextStatus.needs_ocr:
        return _outcome(
            ExtractionStatus.failed,
            "image-only PDF: no text layer (needs OCR)",
            text_length=0,
            needs_ocr=True,
        )
    if not result.ok:
        bounded = result.status in (TextStatus.too_many_pages, TextStatus.timeout)
        return _outcome(
            ExtractionStatus.failed, f"{result.status.value}: {result.reason}", refused=bounded
        )
    fields = read_fields(result.text, set(roles))
    wanted = tuple(dict.fromkeys(k for role in sorted(roles) for k in WANTED.get(role, ())))
    review = _review(fields, wanted)
    return _outcome(
        ExtractionStatus.partial if review else ExtractionStatus.extracted,
        review,
        fields=fields,
        text_length=len(result.text),
    )


def _read_csv(data: bytes) -> dict[str, Any]:
    try:
        detail = read_line_detail(data)
    except LineDetailError as exc:
        return _outcome(ExtractionStatus.failed, f"not a line detail: {exc}")
    fields: dict[str, Any] = {
        "lines": _jsonable([ln.__dict__ for ln in detail.lines]),
        "line_rows": detail.rows,
    }
    if detail.problems:
        fields["problems"] = list(detail.problems)
    status = ExtractionStatus.partial if detail.problems else ExtractionStatus.extracted
    if not detail.lines:
        status = ExtractionStatus.partial
    return _outcome(
        status, "; ".join(detail.problems) or ("" if detail.lines else "no lines"), fields=fields
    )


def _read_zip(
    db: sessionmaker[Session],
    vault: DocumentVault,
    doc: _Pending,
    data: bytes,
    counts: Counter[str],
) -> dict[str, Any]:
    """Register each member as a document of its own, linked where the archive is."""
    try:
        members = safe_unzip(data)
    except ArchiveError as exc:
        return _outcome(
            ExtractionStatus.failed, f"archive refused: {type(exc).__name__}: {exc}", refused=True
        )
    with db() as s:
        links = s.execute(
            select(DocumentLink.role, DocumentLink.deduction_id, DocumentLink.shipment_id).where(
                DocumentLink.document_id == doc.id
            )
        ).all()
    listed: list[dict[str, Any]] = []
    skipped: list[str] = []
    for m in members:
        try:
            stored = vault.put(m.data, m.name)
        except DocumentTooLarge:
            skipped.append(f"{m.name}: too large")
            continue
        with db() as s, s.begin():
            reg = documents_repo.register(
                s,
                DocumentRecord(
                    sha256=stored.sha256,
                    size_bytes=stored.size,
                    media_type=stored.media_type,
                    original_filename=m.original_name[:1000],
                    vault_path=str(Path(stored.path).relative_to(vault.root)),
                ),
            )
            for role, deduction_id, shipment_id in links:
                # The archive itself is linked as "backup"; its members keep that role.
                documents_repo.link(
                    s, reg.id, role, deduction_id=deduction_id, shipment_id=shipment_id
                )
        counts["members"] += reg.created
        listed.append({"name": m.original_name[:200], "sha256": stored.sha256})
    fields: dict[str, Any] = {"members": listed}
    if skipped:
        fields["problems"] = skipped
    return _outcome(
        ExtractionStatus.partial if skipped else ExtractionStatus.extracted,
        "; ".join(skipped),
        fields=fields,
    )


__all__ = ["BACKUP_KEYS", "POD_KEYS", "extract_pending", "read_fields"]
