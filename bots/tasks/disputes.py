"""``file_dispute`` and ``dispute_status``: the portal side of dispute filing.

Filing is exactly once across retries and crashes: the dispute row is marked
``filing`` (and its attempt counted) before the portal is touched, and the
adapter looks on the portal before it files, so an attempt whose answer was
lost finds its own dispute instead of filing a second one.

A dispute whose window closed since it was queued is refused before the
portal is touched (unless its approver overrode the window), and a dispute
the portal rejects is recorded as ``rejected``: both are health events and
leave the job ``partial``, so ``fleet run`` and ``fleet health`` show them.
"""

from __future__ import annotations

import asyncio
from functools import partial

from sqlalchemy import select

from bots.context import JobContext
from bots.tasks.documents import quarantine
from dispute_filing.packets import build_packet
from matching.approvals import window_refusal
from portal_adapters.base import DisputePacket, RetailerAdapter
from portal_adapters.errors import DisputeRejected, RecordInvalid
from records.schemas import FINAL_DISPUTE_STATUSES, DisputeRecord, DisputeStatus
from store.db import transaction
from store.models import Decision, Deduction, Dispute, Verdict, utcnow
from store.repositories import disputes as disputes_repo
from store.repositories import runs as runs_repo


def _disputes(jc: JobContext, statuses: tuple[str, ...] | None, *, filed: bool) -> list:
    with jc.db() as s:
        q = (
            select(Dispute, Deduction.external_id)
            .join(Deduction, Deduction.id == Dispute.deduction_id)
            .where(Dispute.portal == jc.job.portal, Deduction.account == jc.job.account)
            .order_by(Dispute.id)
        )
        if statuses is not None:
            q = q.where(Dispute.status.in_(statuses))
        if filed:
            q = q.where(
                Dispute.dispute_number.is_not(None),
                Dispute.status.not_in(sorted(FINAL_DISPUTE_STATUSES)),
            )
        if jc.job.target:
            q = q.where(Deduction.external_id == jc.job.target)
        return list(s.execute(q).all())


def _window_closed(jc: JobContext, dispute: Dispute) -> str | None:
    """Why this dispute may no longer be filed (None: it may)."""
    with jc.db() as s:
        closes = s.execute(
            select(Verdict.window_closes).where(Verdict.deduction_id == dispute.deduction_id)
        ).scalar_one_or_none()
        overridden = s.execute(
            select(Decision.id).where(
                Decision.deduction_id == dispute.deduction_id,
                Decision.status == "approved",
                Decision.window_override_by.is_not(None),
            )
        ).first()
    return None if overridden else window_refusal(closes, jc.services.today())


def _refuse(jc: JobContext, dispute: Dispute, external_id: str, status: str, **detail: str) -> None:
    kind = "dispute_rejected" if status == DisputeStatus.rejected else "dispute_window_closed"
    jc.counts[f"disputes.{status}"] += 1
    with transaction(jc.db) as s:
        record = disputes_repo.as_record(dispute, external_id).model_copy(update={"status": status})
        disputes_repo.upsert(s, record, run_id=jc.run_id)
        runs_repo.health_event(
            s,
            kind,
            portal=jc.job.portal,
            account=jc.job.account,
            run_id=jc.run_id,
            severity="warning",
            error_class="DisputeRejected" if kind == "dispute_rejected" else "WindowClosed",
            detail={"deduction": external_id, **detail},
        )


async def file_dispute(jc: JobContext) -> None:
    """File every queued dispute of the account (or the one ``target`` names)."""
    adapter = jc.adapter
    assert isinstance(adapter, RetailerAdapter)
    todo = await asyncio.to_thread(_disputes, jc, ("queued", "filing"), filed=False)
    for dispute, external_id in todo:
        refusal = await asyncio.to_thread(_window_closed, jc, dispute)
        if refusal and dispute.status == DisputeStatus.queued:
            await asyncio.to_thread(
                _refuse, jc, dispute, external_id, DisputeStatus.window_closed, reason=refusal
            )
            continue
        stored, packet = await asyncio.to_thread(_start_attempt, jc, dispute, external_id)
        try:
            receipt = await jc.call(
                partial(adapter.file_dispute, jc.session, packet), what="file_dispute"
            )
        except DisputeRejected as exc:
            dispute.attempts += 1
            await asyncio.to_thread(
                _refuse,
                jc,
                dispute,
                external_id,
                DisputeStatus.rejected,
                portal_says=str(exc)[:300],
            )
            continue
        jc.counts["disputes.already_filed" if receipt.already_filed else "disputes.filed"] += 1
        record = stored.model_copy(
            update={
                "status": receipt.status,
                "dispute_number": receipt.dispute_number,
                "filed_at": dispute.filed_at or utcnow(),
                "filed_on": dispute.filed_on or jc.services.today(),
                "attempts": dispute.attempts + 1,
            }
        )
        await asyncio.to_thread(_save, jc, record)


def _start_attempt(
    jc: JobContext, dispute: Dispute, external_id: str
) -> tuple[DisputeRecord, DisputePacket]:
    """Mark the attempt before the portal is touched; build the packet."""
    with transaction(jc.db) as s:
        stored = disputes_repo.as_record(dispute, external_id)
        disputes_repo.upsert(
            s,
            stored.model_copy(update={"status": "filing", "attempts": dispute.attempts + 1}),
            run_id=jc.run_id,
        )
        return stored, build_packet(s, jc.vault, dispute)


def _save(jc: JobContext, record: DisputeRecord) -> None:
    with transaction(jc.db) as s:
        disputes_repo.upsert(s, record, run_id=jc.run_id)


async def dispute_status(jc: JobContext) -> None:
    """Read the portal's status of every filed, undecided dispute of the account."""
    adapter = jc.adapter
    assert isinstance(adapter, RetailerAdapter)
    for dispute, external_id in await asyncio.to_thread(_disputes, jc, None, filed=True):
        try:
            report = await jc.call(
                partial(adapter.dispute_status, jc.session, external_id),
                what="dispute_status",
            )
        except RecordInvalid as exc:  # this claim's page alone
            await asyncio.to_thread(quarantine, jc, exc)
            continue
        jc.counts["disputes.checked"] += 1
        if report is None or report.status == dispute.status:
            continue
        jc.counts["disputes.status_changed"] += 1
        record = disputes_repo.as_record(dispute, external_id)
        await asyncio.to_thread(_save, jc, record.model_copy(update={"status": report.status}))
