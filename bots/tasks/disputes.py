"""``file_dispute`` and ``dispute_status``: the portal side of dispute filing.

Filing is exactly once across retries and crashes: the dispute row is marked
``filing`` (and its attempt counted) before the portal is touched, and the
adapter looks on the portal before it files, so an attempt whose answer was
lost finds its own dispute instead of filing a second one.

A dispute whose window closed since it was queued is refused before the
portal is touched (unless its approver overrode the window), and a dispute
the portal rejects is recorded as ``rejected``: both are health events and
leave the job ``partial``, so ``fleet run`` and ``fleet health`` show them.

A packet that cannot be filed as approved (a partial amount on a portal whose
form takes none, a file over the portal's size cap, a text over its length) is
held before the portal is touched: the dispute waits for a person
(``awaiting_person``) with the reason in ``hold_reason`` and a
``dispute_needs_person`` health event; nothing is filed. What is sent is kept:
every attachment in the vault, and the packet's summary (reason, text digest,
attachments with size and sha256) on the dispute.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

from sqlalchemy import select

from bots.context import CoreContext, JobContext
from bots.jobs import EVERY_ACCOUNT
from bots.tasks.documents import quarantine
from dispute_filing import correspondence
from dispute_filing.appeals import appealed_dispute
from dispute_filing.habits import habits
from dispute_filing.outcomes import recovered
from dispute_filing.packets import Prepared, prepare
from matching.approvals import window_refusal
from portal_adapters.base import RetailerAdapter
from portal_adapters.errors import DisputeRejected, RecordInvalid
from records.schemas import FINAL_DISPUTE_STATUSES, DisputeRecord, DisputeStatus
from store.db import transaction
from store.models import Decision, Deduction, Dispute, Verdict, utcnow
from store.repositories import disputes as disputes_repo
from store.repositories import runs as runs_repo

Filing = JobContext | CoreContext
"""What the filing helpers need: the store, the vault, the job and its counts
(a browser job's context, or a mail job's, which has no browser)."""


def mail_only(portal: str) -> bool:
    """A retailer with no portal (``disputes.email_only`` in its data file):
    its ``file_dispute`` job sends e-mail and opens no browser."""
    try:
        return habits(portal).email_only
    except ValueError:
        return False


def _disputes(jc: Filing, statuses: tuple[str, ...] | None, *, filed: bool) -> list:
    with jc.db() as s:
        q = (
            select(Dispute, Deduction.external_id)
            .join(Deduction, Deduction.id == Dispute.deduction_id)
            .where(Dispute.portal == jc.job.portal)
            .order_by(Dispute.id)
        )
        if jc.job.account != EVERY_ACCOUNT:  # "*": a retailer's claims seen by no login
            q = q.where(Deduction.account == jc.job.account)
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


def _window_closed(jc: Filing, dispute: Dispute) -> str | None:
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


_REFUSALS = {
    DisputeStatus.rejected: ("dispute_rejected", "DisputeRejected"),
    DisputeStatus.window_closed: ("dispute_window_closed", "WindowClosed"),
    DisputeStatus.awaiting_person: ("dispute_needs_person", "PacketDoesNotFit"),
}


def _refuse(
    jc: Filing,
    dispute: Dispute,
    external_id: str,
    status: str,
    update: dict[str, Any] | None = None,
    **detail: str,
) -> None:
    kind, error_class = _REFUSALS[DisputeStatus(status)]
    jc.counts[f"disputes.{'held' if kind == 'dispute_needs_person' else status}"] += 1
    with transaction(jc.db) as s:
        record = disputes_repo.as_record(dispute, external_id).model_copy(
            update={"status": status, **(update or {})}
        )
        disputes_repo.upsert(s, record, run_id=jc.run_id)
        runs_repo.health_event(
            s,
            kind,
            portal=jc.job.portal,
            account=jc.job.account,
            run_id=jc.run_id,
            severity="warning",
            error_class=error_class,
            detail={"deduction": external_id, **detail},
        )


async def file_dispute(jc: JobContext) -> None:
    """File every queued dispute of the account (or the one ``target`` names)."""
    adapter = jc.adapter
    assert isinstance(adapter, RetailerAdapter)
    todo = await asyncio.to_thread(_disputes, jc, ("queued", "filing"), filed=False)
    for dispute, external_id in todo:
        ready = await asyncio.to_thread(_ready, jc, dispute, external_id)
        if ready is None:
            continue
        stored, prepared = ready
        if prepared.email_to:
            await asyncio.to_thread(_email, jc, dispute, external_id, stored, prepared)
            continue
        packet = prepared.packet
        try:
            appealed = await asyncio.to_thread(_appealed_number, jc, dispute)
            if appealed is not None:  # an appeal, filed on the denied dispute's page
                receipt = await jc.call(
                    partial(adapter.file_appeal, jc.session, packet, appealed),
                    what="file_appeal",
                )
            else:
                receipt = await jc.call(
                    partial(adapter.file_dispute, jc.session, packet), what="file_dispute"
                )
        except RecordInvalid as exc:  # this appeal alone
            await asyncio.to_thread(quarantine, jc, exc)
            continue
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


async def email_disputes(cc: CoreContext) -> None:
    """``file_dispute`` for a retailer with no portal (``northway/*``): every
    queued dispute of the retailer (whatever login, or none, saw its claim)
    goes out as e-mail, exactly once, with the same window check, packet,
    refusals and record as a portal filing. No browser, no login."""
    todo = await asyncio.to_thread(_disputes, cc, ("queued", "filing"), filed=False)
    for dispute, external_id in todo:
        ready = await asyncio.to_thread(_ready, cc, dispute, external_id)
        if ready is None:
            continue
        stored, prepared = ready
        if prepared.email_to is None:  # an appeal: no portal to file it on
            await asyncio.to_thread(
                _refuse,
                cc,
                dispute,
                external_id,
                DisputeStatus.awaiting_person,
                {"hold_reason": f"{cc.job.portal} has no portal and names no address for it"},
                reason="no e-mail address",
            )
            continue
        await asyncio.to_thread(_email, cc, dispute, external_id, stored, prepared)


def _ready(jc: Filing, dispute: Dispute, external_id: str) -> tuple[DisputeRecord, Prepared] | None:
    """The packet to send, its attempt marked; None when it was refused here
    (window closed, or a packet that does not fit: held for a person)."""
    refusal = _window_closed(jc, dispute)
    if refusal and dispute.status == DisputeStatus.queued:
        _refuse(jc, dispute, external_id, DisputeStatus.window_closed, reason=refusal)
        return None
    stored, prepared = _start_attempt(jc, dispute, external_id)
    if prepared.refusal:
        _refuse(
            jc,
            dispute,
            external_id,
            DisputeStatus.awaiting_person,
            {"hold_reason": prepared.refusal[:500], "packet": prepared.summary()},
            reason=prepared.refusal[:300],
        )
        return None
    return stored, prepared


def _appealed_number(jc: JobContext, dispute: Dispute) -> str | None:
    """For an appeal row: the portal number of the dispute it appeals."""
    if dispute.level == 1:
        return None
    with jc.db() as s:
        first = appealed_dispute(s, dispute)
    if first is None or not first.dispute_number:
        raise RecordInvalid(
            "an appeal whose dispute has no portal number",
            raw={"idempotency_key": dispute.idempotency_key, "level": dispute.level},
            kind="dispute",
            field="dispute_number",
            portal=jc.job.portal,
            external_id=dispute.idempotency_key,
            step="file_appeal",
        )
    return first.dispute_number


def _start_attempt(
    jc: Filing, dispute: Dispute, external_id: str
) -> tuple[DisputeRecord, Prepared]:
    """Build the packet; when it fits, keep what is sent (vault and summary) and
    mark the attempt before the portal is touched."""
    with transaction(jc.db) as s:
        prepared = prepare(
            s, jc.vault, dispute, data_dir=jc.services.data_dir, today=jc.services.today()
        )
        stored = disputes_repo.as_record(dispute, external_id).model_copy(
            update={"hold_reason": None, "packet": prepared.summary()}
        )
        if prepared.refusal:
            return stored, prepared
        for a in prepared.attachments:
            jc.vault.put(a.data, a.name, "application/pdf")
        disputes_repo.upsert(
            s,
            stored.model_copy(update={"status": "filing", "attempts": dispute.attempts + 1}),
            run_id=jc.run_id,
        )
        return stored, prepared


def _email(
    jc: Filing,
    dispute: Dispute,
    external_id: str,
    stored: DisputeRecord,
    prepared: Prepared,
) -> None:
    """A retailer that takes this dispute by e-mail: the message to the outbox,
    then through SMTP when one is configured; recorded as filed under its
    Message-ID."""
    assert prepared.email_to is not None
    today = jc.services.today()
    msg = correspondence.compose(prepared, prepared.email_to, jc.services.mail_from, today)
    outbox = (jc.services.data_dir or jc.vault.root.parent) / "outbox"
    path = correspondence.write_outbox(msg, outbox, jc.job.portal, external_id)
    sent = False
    if jc.services.smtp_url:
        # once: a retry after a kill between sending and recording finds the marker
        fresh = correspondence.send_once(msg, jc.services.smtp_url, path)
        jc.counts["disputes.emailed" if fresh else "disputes.already_sent"] += 1
        sent = True
    else:
        jc.counts["disputes.outbox"] += 1
    packet = (stored.packet or {}) | {"outbox": path.name, "sent": sent, "to": prepared.email_to}
    _save(
        jc,
        stored.model_copy(
            update={
                "status": DisputeStatus.research.value,
                "dispute_number": str(msg["Message-ID"]),
                "filed_at": dispute.filed_at or utcnow(),
                "filed_on": dispute.filed_on or today,
                "attempts": dispute.attempts + 1,
                "packet": packet,
            }
        ),
    )


def _save(jc: Filing, record: DisputeRecord) -> None:
    with transaction(jc.db) as s:
        disputes_repo.upsert(s, record, run_id=jc.run_id)


async def dispute_status(jc: JobContext) -> None:
    """Read the portal's status of every filed, undecided dispute of the account."""
    adapter = jc.adapter
    assert isinstance(adapter, RetailerAdapter)
    for dispute, external_id in await asyncio.to_thread(_disputes, jc, None, filed=True):
        try:
            appealed = await asyncio.to_thread(_appealed_number, jc, dispute)
            if appealed is not None:
                report = await jc.call(
                    partial(adapter.appeal_status, jc.session, appealed), what="appeal_status"
                )
            else:
                report = await jc.call(
                    partial(adapter.dispute_status, jc.session, external_id),
                    what="dispute_status",
                )
        except RecordInvalid as exc:  # this claim's page alone
            await asyncio.to_thread(quarantine, jc, exc)
            continue
        jc.counts["disputes.checked"] += 1
        if report is None:
            continue
        back = recovered(report.status, report.approved_amount, dispute.amount)
        decided = dispute.decided_on
        if decided is None and report.status in FINAL_DISPUTE_STATUSES:
            decided = jc.services.today()
        if (
            report.status == dispute.status
            and back == dispute.recovered_amount
            and decided == dispute.decided_on
        ):
            continue
        if report.status != dispute.status:
            jc.counts["disputes.status_changed"] += 1
        if back is not None and back != dispute.recovered_amount:
            jc.counts["disputes.outcomes"] += 1
        record = disputes_repo.as_record(dispute, external_id)
        await asyncio.to_thread(
            _save,
            jc,
            record.model_copy(
                update={"status": report.status, "recovered_amount": back, "decided_on": decided}
            ),
        )
