"""``file_dispute`` and ``dispute_status``: the portal side of dispute filing.

Filing is exactly once across retries and crashes: the dispute row is marked
``filing`` (and its attempt counted) before the portal is touched, and the
adapter looks on the portal before it files, so an attempt whose answer was
lost finds its own dispute instead of filing a second one.
"""

from __future__ import annotations

from sqlalchemy import select

from bots.runtime import JobContext
from dispute_filing.packets import FINAL_STATUSES, build_packet
from portal_adapters.base import RetailerAdapter
from portal_adapters.errors import DisputeRejected
from records.schemas import DisputeRecord
from store.db import transaction
from store.models import Deduction, Dispute, utcnow
from store.repositories import disputes as disputes_repo
from store.repositories import runs as runs_repo


def _record(d: Dispute, external_id: str, **changes: object) -> DisputeRecord:
    values = {
        "portal": d.portal,
        "deduction_external_id": external_id,
        "idempotency_key": d.idempotency_key,
        "dispute_number": d.dispute_number,
        "status": d.status,
        "amount": d.amount,
        "currency": d.currency,
        "filed_at": d.filed_at,
        "attempts": d.attempts,
    }
    return DisputeRecord(**(values | changes))  # type: ignore[arg-type]


def _disputes(jc: JobContext, statuses: tuple[str, ...] | None, *, filed: bool) -> list:  # type: ignore[type-arg]
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
            q = q.where(Dispute.dispute_number.is_not(None), Dispute.status.not_in(FINAL_STATUSES))
        if jc.job.target:
            q = q.where(Deduction.external_id == jc.job.target)
        return list(s.execute(q).all())


async def file_dispute(jc: JobContext) -> None:
    """File every queued dispute of the account (or the one ``target`` names)."""
    adapter = jc.adapter
    assert isinstance(adapter, RetailerAdapter)
    for dispute, external_id in _disputes(jc, ("queued", "filing"), filed=False):
        with transaction(jc.db) as s:
            disputes_repo.upsert(
                s,
                _record(dispute, external_id, status="filing", attempts=dispute.attempts + 1),
                run_id=jc.run_id,
            )
            packet = build_packet(s, jc.runtime.vault, dispute)
        try:
            receipt = await jc.call(
                lambda p=packet: adapter.file_dispute(jc.session, p), what="file_dispute"
            )
        except DisputeRejected as exc:
            jc.counts["disputes.rejected"] += 1
            with transaction(jc.db) as s:
                disputes_repo.upsert(
                    s,
                    _record(dispute, external_id, status="rejected", attempts=dispute.attempts + 1),
                    run_id=jc.run_id,
                )
                runs_repo.health_event(
                    s,
                    "dispute_rejected",
                    portal=jc.job.portal,
                    account=jc.job.account,
                    run_id=jc.run_id,
                    severity="warning",
                    error_class=exc.error_class,
                    detail={"deduction": external_id, "portal_says": str(exc)[:300]},
                )
            continue
        jc.counts["disputes.already_filed" if receipt.already_filed else "disputes.filed"] += 1
        with transaction(jc.db) as s:
            disputes_repo.upsert(
                s,
                _record(
                    dispute,
                    external_id,
                    status=receipt.status,
                    dispute_number=receipt.dispute_number,
                    filed_at=dispute.filed_at or utcnow(),
                    attempts=dispute.attempts + 1,
                ),
                run_id=jc.run_id,
            )


async def dispute_status(jc: JobContext) -> None:
    """Read the portal's status of every filed, undecided dispute of the account."""
    adapter = jc.adapter
    assert isinstance(adapter, RetailerAdapter)
    for dispute, external_id in _disputes(jc, None, filed=True):
        report = await jc.call(
            lambda e=external_id: adapter.dispute_status(jc.session, e), what="dispute_status"
        )
        jc.counts["disputes.checked"] += 1
        if report is None or report.status == dispute.status:
            continue
        jc.counts["disputes.status_changed"] += 1
        with transaction(jc.db) as s:
            disputes_repo.upsert(
                s, _record(dispute, external_id, status=report.status), run_id=jc.run_id
            )
