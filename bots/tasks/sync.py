"""``sync``: new deductions since the watermark, every claim still open
re-read, then every document not yet in the vault.

Portals list claims newest first and let one filter by date, and a claim's
later reversal, partial reversal or status change shows on the claim itself,
not as a new one. So the listing starts at the older of the watermark (less
a week: portals post late and back-date) and the oldest claim the store
still holds open (the portal's closed words are data:
``records/data/portals/<portal>.json`` ``closed_statuses``); every change it
meets lands through the upsert, with history.

Each record and each document is committed as it arrives; the watermark only
when the whole job completes, so a killed run repeats the same pass (upserts
are idempotent, fetched refs are skipped) and never re-downloads a document. Documents
are checked for deductions that have none yet and for those created or
changed in this run; a full sync (no watermark) checks every deduction.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from functools import partial

from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session

from bots.anomalies import FULL, check_listed_rows, listed
from bots.context import JobContext
from bots.tasks.documents import quarantine, store_fetched, stored_refs
from portal_adapters.base import AdapterSession, RetailerAdapter
from portal_adapters.errors import NotYetAvailable, RecordInvalid
from portal_adapters.web import side_by_side
from records.normalize import portal_rules
from records.schemas import DeductionRecord
from store.db import transaction
from store.models import Deduction, DocumentLink
from store.repositories import deductions as deductions_repo
from store.repositories import watermarks

WATERMARK_OVERLAP = timedelta(days=7)
"""Portals post late and back-date: re-read a week before the watermark."""


async def sync(jc: JobContext) -> None:
    adapter = jc.adapter
    assert isinstance(adapter, RetailerAdapter)
    mark, oldest_open = await asyncio.to_thread(_start_points, jc)
    since = date.fromisoformat(mark) - WATERMARK_OVERLAP if mark else None
    if since is not None and oldest_open is not None and oldest_open < since:
        since = oldest_open
        jc.counts["sync.reread_open_days"] = (date.fromisoformat(str(mark)) - since).days
    touched: set[str] = set()
    newest: date | None = None
    if since is None:
        jc.counts[FULL] = 1  # the whole history: compared with full syncs only

    async def listing() -> None:
        nonlocal newest
        async for item in adapter.list_deductions(jc.session, since):
            await jc.renew_worn_pages(*jc.session.lanes())  # no page is held at a yield
            if isinstance(item, RecordInvalid):
                await asyncio.to_thread(quarantine, jc, item)
                continue
            outcome = await asyncio.to_thread(_upsert, jc, item)
            jc.session.listed.add(item.external_id)
            jc.counts[f"deductions.{outcome}"] += 1
            if outcome != "unchanged":
                touched.add(item.external_id)
            seen = item.posted_date or item.deduction_date
            if seen is not None and (newest is None or seen > newest):
                newest = seen

    await jc.call(listing, what="list_deductions")
    await asyncio.to_thread(_check_rows, jc)
    await fetch_documents(jc, only_missing=since is not None, also=touched)
    # Only now: a run killed during the documents must restart as the same full
    # pass (the fetched refs keep it from downloading anything twice), not as an
    # incremental one that skips claims already holding some of their documents.
    if newest is not None:
        await asyncio.to_thread(_watermark, jc, newest)


def _check_rows(jc: JobContext) -> None:
    """A login that lists far fewer claims than usual is an anomaly, not a success
    to be silent about (bots/anomalies.py)."""
    with transaction(jc.db) as s:
        found = check_listed_rows(
            s,
            jc.job.portal,
            jc.job.account,
            listed(jc.counts),
            run_id=jc.run_id,
            full=bool(jc.counts.get(FULL)),
        )
    if found:
        jc.counts["anomalies"] += 1


def _upsert(jc: JobContext, item: DeductionRecord) -> str:
    with transaction(jc.db) as s:
        return deductions_repo.upsert(s, item, run_id=jc.run_id).outcome


def _watermark(jc: JobContext, newest: date) -> None:
    with transaction(jc.db) as s:
        watermarks.put(s, jc.job.portal, "sync", newest.isoformat(), jc.job.account)


def _start_points(jc: JobContext) -> tuple[str | None, date | None]:
    """The watermark, and the oldest open claim's date."""
    with jc.db() as s:
        return (
            watermarks.get(s, jc.job.portal, "sync", jc.job.account),
            _oldest_open(s, jc.job.portal, jc.job.account),
        )


def _oldest_open(s: Session, portal: str, account: str) -> date | None:
    """The earliest posted (else deduction) date among the account's open claims."""
    rules = portal_rules(portal)
    rows = s.execute(
        select(
            Deduction.status,
            func.min(func.coalesce(Deduction.posted_date, Deduction.deduction_date)),
        )
        .where(Deduction.portal == portal, Deduction.account == account)
        .group_by(Deduction.status)
    ).all()
    dates = [d for status, d in rows if d is not None and rules.is_open(status or "")]
    return min(dates) if dates else None


def _checked(jc: JobContext, deduction_id: int) -> None:
    with transaction(jc.db) as s:
        s.execute(
            update(Deduction)
            .where(Deduction.id == deduction_id)
            .values(documents_checked_on=jc.services.today())
        )


async def fetch_documents(
    jc: JobContext,
    *,
    only_missing: bool,
    also: frozenset[str] | set[str] = frozenset(),
    external_ids: list[str] | None = None,
) -> None:
    """List and download every document not stored yet, deduction by deduction.

    With ``only_missing``, a claim is looked at when it has no document yet,
    changed in this run (``also``), or is still open and was last looked at
    on an earlier business day: backup, deal sheets and remittance detail
    arrive on the portals days after the claim (a third of claims have no
    backup on the first sync).

    The claims are spread over the pages of the one login session
    (``AdapterSession.lanes``, the portal's ``pages_per_session``): a large
    account's backfill is otherwise one page's pace while the portal and the
    machine could take more. The portal's request budget paces every page
    together, a SessionExpired signs in once for all of them, and the store
    is written by one page at a time. The first is the job's own page: it
    serves the analysts' retrieves that joined (bots/handover.py) between
    its claims."""
    assert isinstance(jc.adapter, RetailerAdapter)
    rows = await asyncio.to_thread(_claims_to_check, jc, only_missing, also, external_ids)
    writes = asyncio.Lock()  # one page in the store at a time: counts and budgets stay exact

    async def one_claim(lane: AdapterSession, row: tuple[int, str]) -> None:
        await jc.renew_worn_pages(lane)  # this lane's own page: the others are at work
        if lane is jc.session and jc.serve_waiting is not None:  # an analyst's retrieve first
            await jc.serve_waiting()
        await _claim_documents(jc, lane, writes, *row)

    await side_by_side(jc.session, rows, one_claim)  # a bad claim is quarantined in there
    if jc.serve_waiting is not None:  # one joined during the last claim
        await jc.serve_waiting()


def _claims_to_check(
    jc: JobContext,
    only_missing: bool,
    also: frozenset[str] | set[str],
    external_ids: list[str] | None,
) -> list[tuple[int, str]]:
    """The account's claims whose documents are to be looked at, oldest row first."""
    has_docs = exists().where(DocumentLink.deduction_id == Deduction.id)
    rules = portal_rules(jc.job.portal)
    today = jc.services.today()
    with jc.db() as s:
        q = (
            select(
                Deduction.id,
                Deduction.external_id,
                has_docs.label("has_docs"),
                Deduction.status,
                Deduction.documents_checked_on,
            )
            .where(Deduction.portal == jc.job.portal, Deduction.account == jc.job.account)
            .order_by(Deduction.id)
        )
        if external_ids is not None:
            q = q.where(Deduction.external_id.in_(external_ids))
        rows = s.execute(q).all()
    todo: list[tuple[int, str]] = []
    for deduction_id, external_id, already, status, checked_on in rows:
        recheck = rules.is_open(status or "") and (checked_on is None or checked_on < today)
        if only_missing and already and external_id not in also and not recheck:
            continue
        todo.append((deduction_id, external_id))
    return todo


async def _claim_documents(
    jc: JobContext,
    session: AdapterSession,
    writes: asyncio.Lock,
    deduction_id: int,
    external_id: str,
) -> None:
    """One claim's documents on one lane: list them, download the ones not
    stored yet. A claim or a document that cannot be read is quarantined and
    the pass goes on."""
    adapter = jc.adapter
    assert isinstance(adapter, RetailerAdapter)
    try:
        refs = await jc.call(
            partial(adapter.list_documents, session, external_id),
            what="list_documents",
            session=session,
        )
    except RecordInvalid as exc:  # this claim's page alone: the others go on
        async with writes:
            await asyncio.to_thread(quarantine, jc, exc)
        return
    async with writes:
        jc.counts["documents.listed"] += len(refs)
        await asyncio.to_thread(_checked, jc, deduction_id)
        have = await asyncio.to_thread(stored_refs, jc, deduction_id=deduction_id)
    for ref in refs:
        if ref.ref in have:
            jc.counts["documents.skipped"] += 1
            continue
        try:
            fetched = await jc.call(
                partial(adapter.download_document, session, external_id, ref),
                what="download_document",
                session=session,
            )
        except NotYetAvailable:
            jc.counts["documents.not_yet_available"] += 1
            continue
        except RecordInvalid as exc:  # this document alone
            async with writes:
                await asyncio.to_thread(quarantine, jc, exc)
            continue
        async with writes:
            for doc in fetched:
                await asyncio.to_thread(
                    store_fetched, jc, doc, source_ref=ref.ref, deduction_ids=[deduction_id]
                )
