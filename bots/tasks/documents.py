"""Putting fetched bytes into the vault and linking them, crash-safely.

The order is: bytes to the vault (atomic, content-addressed), then one
transaction registering the document and its links, including the portal's
ref. A run killed between the two re-downloads that document (one per page at
work, ``AdapterSession.lanes``); a run killed after sees the ref and skips it.

Work is bounded: an archive expands within its own limits (store/archives.py)
and the job's (:data:`JOB_MAX_EXPANDED_BYTES`); a document over the vault's cap
or an archive refused is kept raw where it can be (the archive itself always
is), and is one quarantine row naming why, so the job ends ``partial``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog

from bots.context import JobContext
from portal_adapters.base import FetchedDocument
from portal_adapters.errors import RecordInvalid
from records.schemas import DocumentRecord
from store.archives import (
    DEFAULT_MAX_TOTAL_BYTES,
    ArchiveError,
    ArchiveMember,
    ArchiveTooLarge,
    safe_unzip,
)
from store.db import transaction
from store.repositories import documents as documents_repo
from store.repositories import quarantines as quarantine_repo
from store.vault import DocumentTooLarge, StoredDocument

log = structlog.get_logger(__name__)

JOB_MAX_EXPANDED_BYTES = 1024 * 1024 * 1024
"""What one job may expand from archives in all (each archive: store.archives'
own cap and ratio). Past it, further archives are quarantined, not unpacked."""


def quarantine(jc: JobContext, item: RecordInvalid) -> None:
    """One record the portal showed that could not be read (a claim, a document,
    a shipment): kept raw with the reason naming the field, counted, and the
    job goes on. Runs off the event loop (asyncio.to_thread)."""
    reason = str(item)[:500]
    if item.field and item.field not in reason:
        reason = f"{item.field}: {reason}"[:500]
    with transaction(jc.db) as s:
        quarantine_repo.quarantine(
            s, jc.job.portal, item.kind, item.raw, reason, external_id=item.external_id
        )
    jc.counts["quarantined"] += 1


def stored_refs(
    jc: JobContext, *, deduction_id: int | None = None, shipment_id: int | None = None
) -> set[str]:
    with jc.db() as s:
        return documents_repo.source_refs(s, deduction_id=deduction_id, shipment_id=shipment_id)


def _refuse_document(jc: JobContext, source_ref: str, raw: dict[str, Any], reason: str) -> None:
    """A document refused whole (too large, an archive refused): one quarantine
    row with the reason, counted, so the run is ``partial``, never silent."""
    quarantine(
        jc,
        RecordInvalid(
            reason, raw=raw, external_id=source_ref, kind="document", portal=jc.job.portal
        ),
    )
    log.warning("documents.refused", run_id=jc.run_id, portal=jc.job.portal, reason=reason[:200])


def _put(
    jc: JobContext, data: bytes, filename: str, media_type: str, source_ref: str
) -> StoredDocument | None:
    try:
        return jc.vault.put(data, filename, media_type)
    except DocumentTooLarge as exc:
        jc.counts["documents.too_large"] += 1
        raw = {"filename": filename[:300], "size_bytes": len(data), "media_type": media_type[:100]}
        _refuse_document(jc, source_ref, raw, f"document {filename[:120]!r} refused: {exc}")
        return None


def _unpack(jc: JobContext, doc: FetchedDocument, source_ref: str) -> list[ArchiveMember]:
    """The members of a fetched ZIP within this archive's and this job's budget
    of expanded bytes; a refused archive is quarantined and yields none."""
    spent = jc.counts["documents.expanded_bytes"]
    left = max(0, JOB_MAX_EXPANDED_BYTES - spent)
    try:
        members = safe_unzip(doc.data, max_total_bytes=min(DEFAULT_MAX_TOTAL_BYTES, left))
    except ArchiveError as exc:
        jc.counts["documents.bad_archive"] += 1
        why = str(exc)
        if isinstance(exc, ArchiveTooLarge) and left < DEFAULT_MAX_TOTAL_BYTES:
            why = f"this job has expanded {spent} bytes of its {JOB_MAX_EXPANDED_BYTES}: {why}"
        raw = {
            "filename": doc.filename[:300],
            "size_bytes": len(doc.data),
            "sha256": hashlib.sha256(doc.data).hexdigest(),
            "refused_as": type(exc).__name__,
        }
        _refuse_document(
            jc,
            source_ref,
            raw,
            f"archive {doc.filename[:120]!r} refused ({type(exc).__name__}): {why}",
        )
        return []
    jc.counts["documents.expanded_bytes"] += sum(len(m.data) for m in members)
    return members


def store_fetched(
    jc: JobContext,
    doc: FetchedDocument,
    *,
    source_ref: str,
    deduction_ids: Sequence[int] = (),
    shipment_id: int | None = None,
) -> int:
    """Store one fetched document (a ZIP: each member) and link it. Returns
    how many documents were linked."""
    parts: list[tuple[str, bytes, str]]
    if doc.data.startswith(b"PK\x03\x04"):
        members = _unpack(jc, doc, source_ref)
        # the archive itself is kept too: nothing the portal sent is lost
        parts = [(doc.filename, doc.data, "application/zip")]
        parts += [(m.original_name, m.data, "application/octet-stream") for m in members]
    else:
        parts = [(doc.filename, doc.data, doc.media_type)]
    linked = 0
    for index, (name, data, media_type) in enumerate(parts):
        ref = source_ref if index == 0 else f"{source_ref}#{index}"
        stored = _put(jc, data, name, media_type, ref)
        if stored is None:
            continue
        role = "backup" if (index == 0 and len(parts) > 1) else doc.role
        record = DocumentRecord(
            sha256=stored.sha256,
            size_bytes=stored.size,
            media_type=stored.media_type,
            original_filename=name[:1000],
            vault_path=str(Path(stored.path).relative_to(jc.vault.root)),
        )
        with transaction(jc.db) as s:
            reg = documents_repo.register(s, record)
            for d_id in deduction_ids:
                documents_repo.link(s, reg.id, role, deduction_id=d_id)
                documents_repo.record_fetch(s, reg.id, ref, deduction_id=d_id)
            if shipment_id is not None:
                documents_repo.link(s, reg.id, role, shipment_id=shipment_id)
                documents_repo.record_fetch(s, reg.id, ref, shipment_id=shipment_id)
        jc.counts["documents.new" if reg.created else "documents.known"] += 1
        linked += 1
    return linked
