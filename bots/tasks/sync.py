"""``sync``: new and changed deductions since the watermark, then every
document not yet in the vault.

Each record and each document is committed as it arrives; the watermark only
when the whole job completes, so a killed run repeats the same pass (upserts
are idempotent, fetched refs are skipped) and never re-downloads a document. Documents
are checked for deductions that have none yet and for those created or
changed in this run; a full sync (no watermark) checks every deduction.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import exists, select

from bots.runtime import JobContext
from bots.tasks.documents import store_fetched, stored_refs
from portal_adapters.base import RetailerAdapter
from portal_adapters.errors import NotYetAvailable, RecordInvalid
from store.db import transaction
from store.models import Deduction, DocumentLink
from store.repositories import deductions as deductions_repo
from store.repositories import quarantines as quarantine_repo
from store.repositories import watermarks

WATERMARK_OVERLAP = timedelta(days=7)
"""Portals post late and back-date: re-read a week before the watermark."""


async def sync(jc: JobContext) -> None:
    adapter = jc.adapter
    assert isinstance(adapter, RetailerAdapter)
    portal, account = jc.job.portal, jc.job.account
    with jc.db() as s:
        mark = watermarks.get(s, portal, "sync", account)
    since = date.fromisoformat(mark) - WATERMARK_OVERLAP if mark else None
    touched: set[str] = set()
    newest: date | None = None

    async def listing() -> None:
        nonlocal newest
        async for item in adapter.list_deductions(jc.session, since):
            with transaction(jc.db) as s:
                if isinstance(item, RecordInvalid):
                    quarantine_repo.quarantine(
                        s,
                        portal,
                        item.kind,
                        item.raw,
                        str(item)[:500],
                        external_id=item.external_id,
                    )
                    jc.counts["quarantined"] += 1
                    continue
                result = deductions_repo.upsert(s, item, run_id=jc.run_id)
            jc.session.listed.add(item.external_id)
            jc.counts[f"deductions.{result.outcome}"] += 1
            if result.outcome != "unchanged":
                touched.add(item.external_id)
            seen = item.posted_date or item.deduction_date
            if seen is not None and (newest is None or seen > newest):
                newest = seen

    await jc.call(listing, what="list_deductions")
    await fetch_documents(jc, only_missing=since is not None, also=touched)
    # Only now: a run killed during the documents must restart as the same full
    # pass (the fetched refs keep it from downloading anything twice), not as an
    # incremental one that skips claims already holding some of their documents.
    if newest is not None:
        with transaction(jc.db) as s:
            watermarks.put(s, portal, "sync", newest.isoformat(), account)


async def fetch_documents(
    jc: JobContext,
    *,
    only_missing: bool,
    also: set[str] = frozenset(),
    external_ids: list[str] | None = None,
) -> None:
    """List and download every document not stored yet, deduction by deduction."""
    adapter = jc.adapter
    assert isinstance(adapter, RetailerAdapter)
    has_docs = exists().where(DocumentLink.deduction_id == Deduction.id)
    with jc.db() as s:
        q = (
            select(Deduction.id, Deduction.external_id, has_docs.label("has_docs"))
            .where(Deduction.portal == jc.job.portal, Deduction.account == jc.job.account)
            .order_by(Deduction.id)
        )
        if external_ids is not None:
            q = q.where(Deduction.external_id.in_(external_ids))
        rows = s.execute(q).all()
    for deduction_id, external_id, already in rows:
        if only_missing and already and external_id not in also:
            continue
        refs = await jc.call(
            lambda eid=external_id: adapter.list_documents(jc.session, eid), what="list_documents"
        )
        jc.counts["documents.listed"] += len(refs)
        have = stored_refs(jc, deduction_id=deduction_id)
        for ref in refs:
            if ref.ref in have:
                jc.counts["documents.skipped"] += 1
                continue
            try:
                fetched = await jc.call(
                    lambda eid=external_id, r=ref: adapter.download_document(jc.session, eid, r),
                    what="download_document",
                )
            except NotYetAvailable:
                jc.counts["documents.not_yet_available"] += 1
                continue
            for doc in fetched:
                store_fetched(jc, doc, source_ref=ref.ref, deduction_ids=[deduction_id])
