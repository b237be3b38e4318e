"""Putting fetched bytes into the vault and linking them, crash-safely.

The order is: bytes to the vault (atomic, content-addressed), then one
transaction registering the document and its links, including the portal's
ref. A run killed between the two re-downloads that one document at most; a
run killed after sees the ref and skips it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import structlog

from bots.context import JobContext
from portal_adapters.base import FetchedDocument
from portal_adapters.errors import RecordInvalid
from records.schemas import DocumentRecord
from store.archives import ArchiveError, safe_unzip
from store.db import transaction
from store.repositories import documents as documents_repo
from store.repositories import quarantines as quarantine_repo
from store.vault import DocumentTooLarge, StoredDocument

log = structlog.get_logger(__name__)


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


def _put(jc: JobContext, data: bytes, filename: str, media_type: str) -> StoredDocument | None:
    try:
        return jc.vault.put(data, filename, media_type)
    except DocumentTooLarge:
        jc.counts["documents.too_large"] += 1
        log.warning("documents.too_large", run_id=jc.run_id, portal=jc.job.portal)
        return None


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
        try:
            members = safe_unzip(doc.data)
        except ArchiveError as exc:
            jc.counts["documents.bad_archive"] += 1
            log.warning("documents.bad_archive", run_id=jc.run_id, reason=str(exc)[:200])
            members = []
        # the archive itself is kept too: nothing the portal sent is lost
        parts = [(doc.filename, doc.data, "application/zip")]
        parts += [(m.original_name, m.data, "application/octet-stream") for m in members]
    else:
        parts = [(doc.filename, doc.data, doc.media_type)]
    linked = 0
    for index, (name, data, media_type) in enumerate(parts):
        stored = _put(jc, data, name, media_type)
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
        ref = source_ref if index == 0 else f"{source_ref}#{index}"
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
