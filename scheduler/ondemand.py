"""On-demand retrieval: "fetch the backup for D-123 now".

A reference typed by an analyst (a deduction number, an invoice number or a
PRO number) is resolved against the store to the portal, account and target a
``retrieve`` job needs, and queued as a ``retrieval_requests`` row with a
priority above every scheduled sync. The row is the request's record: queued,
running, done, failed (with the error class) or needs_human. Identical active
requests merge (the store's partial unique index decides, so this holds when
two analysts click at once).

Whoever dispatches (the scheduler service's feeder) claims rows with
:func:`claim_job`, which turns a row back into a :class:`bots.jobs.Job`
(resolving the account again: it may have been paused or re-enabled since).

Ops can also ask for a whole task now ("sync acme-ar on megamart now", the
web app's ops page): :func:`submit_task` queues it as a row of kind ``task``
(value ``<task>:<account>``) in the same queue, so it runs next, through the
same feeder and dispatcher as a scheduled run, with its follow-ups.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bots.jobs import Job, JobResult, task_named
from bots.tasks.pods import carrier_of
from records.schemas import ACTIVE_RETRIEVAL_STATUSES, RetrievalStatus
from store.db import rows_changed, transaction
from store.models import Deduction, ErpShipment, RetrievalRequest, Shipment, utcnow
from store.repositories import accounts as accounts_repo
from store.repositories import retrieval as retrieval_repo

log = structlog.get_logger(__name__)

ON_DEMAND_PRIORITY = 100
"""Above any scheduled work (scheduled jobs are not rows; they rank below every row)."""

TargetKind = Literal["deduction", "pod", "task"]
RUNNABLE_KINDS = ("deduction", "pod", "task")
"""Request kinds the feeder turns into jobs."""
ASKABLE_TASKS = ("sync", "pods", "file_dispute", "dispute_status")
"""Tasks ops may run now on one account (``retrieve`` is the analyst's, by reference)."""
NEEDS_HUMAN_CLASSES = frozenset({"CaptchaRequired", "MfaFailed"})
MAX_REF_LENGTH = 128


class UnknownReference(LookupError):
    """The reference matches no deduction, invoice or shipment in the store."""


@dataclass(frozen=True)
class Target:
    """What one on-demand job serves: a deduction's documents, a PRO's POD, or
    a task ops asked for now (value ``<task>:<account>``)."""

    kind: TargetKind
    value: str  # the deduction's external id, or the PRO number
    portal: str
    account: str | None  # None: no enabled account on that portal
    matched_by: str  # "deduction", "invoice" or "pro"


@dataclass(frozen=True)
class Submitted:
    request_id: int
    target: Target
    merged: bool  # True: an identical request was already queued or running


def clean_ref(ref: str) -> str:
    ref = ref.strip()
    if not ref or len(ref) > MAX_REF_LENGTH or any(ord(c) < 32 for c in ref):
        raise ValueError(f"a reference is 1 to {MAX_REF_LENGTH} printable characters")
    return ref


def _first_enabled_account(s: Session, portal: str) -> str | None:
    accounts = accounts_repo.enabled_accounts(s, portal)
    return accounts[0].username if accounts else None


def resolve_ref(s: Session, ref: str) -> list[Target]:
    """Every target ``ref`` names, most specific first (deduction, invoice, PRO).

    A deduction number wins outright; an invoice number may name several
    deductions (one target each); a PRO is looked up on the carrier the
    shipment, the ERP or the deduction names.
    """
    ref = clean_ref(ref)
    by_id = list(s.scalars(select(Deduction).where(Deduction.external_id == ref)))
    if by_id:
        return [_deduction_target(s, d, "deduction") for d in by_id]
    by_invoice = list(
        s.scalars(select(Deduction).where(Deduction.invoice_number == ref).order_by(Deduction.id))
    )
    if by_invoice:
        return [_deduction_target(s, d, "invoice") for d in by_invoice]
    carriers: list[str] = list(
        s.scalars(select(Shipment.carrier).where(Shipment.pro_number == ref))
    )
    for text in (
        *s.scalars(select(Deduction.carrier).where(Deduction.pro_number == ref)),
        *s.scalars(select(ErpShipment.carrier).where(ErpShipment.pro_number == ref)),
    ):
        slug = carrier_of(text)
        if slug:
            carriers.append(slug)
    if carriers:
        portal = carriers[0]
        return [Target("pod", ref, portal, _first_enabled_account(s, portal), "pro")]
    raise UnknownReference(
        "no deduction, invoice or PRO number matches that reference in the store "
        "(run a sync first, or check the number)"
    )


def _deduction_target(s: Session, d: Deduction, matched_by: str) -> Target:
    account = d.account
    if account is not None:
        acct = accounts_repo.get(s, d.portal, account)
        if acct is not None and not acct.enabled:
            account = None
    return Target(
        "deduction",
        d.external_id,
        d.portal,
        account or _first_enabled_account(s, d.portal),
        matched_by,
    )


def submit(
    db: sessionmaker[Session], ref: str, *, requester: str, priority: int = ON_DEMAND_PRIORITY
) -> list[Submitted]:
    """Resolve ``ref`` and queue one request per target. Idempotent while active."""
    out: list[Submitted] = []
    with transaction(db) as s:
        for target in resolve_ref(s, ref):
            res = retrieval_repo.enqueue(
                s,
                requester[:128],
                target.kind,
                target.value,
                portal=target.portal,
                priority=priority,
            )
            out.append(Submitted(res.id, target, merged=res.outcome == "unchanged"))
    return out


def claim_job(
    db: sessionmaker[Session],
    *,
    portals: set[str] | None = None,
    publish: Callable[[Job], None] | None = None,
) -> tuple[int, Job] | None:
    """Claim the most urgent queued request and return it as a ``retrieve`` job.

    A request whose portal has no enabled account fails at once with
    ``NoAccount`` (nothing could run it). ``portals`` limits the claim to
    portals with a free slot.

    ``publish`` (Celery dispatch) hands the job to the broker inside the
    claim's transaction: a scheduler killed, or a broker that refuses, before
    the job is out leaves the request ``queued`` for the next claim, never
    ``running`` with nothing running it. (A kill in the instant after the
    broker took the job and before the commit publishes it twice; jobs are
    idempotent, so that costs one extra run, not a lost request.)
    """
    while True:
        with transaction(db) as s:
            stmt_portals = None if portals is None else sorted(portals)
            req = _claim(s, stmt_portals)
            if req is None:
                return None
            if req.target_kind not in RUNNABLE_KINDS or not req.portal:
                retrieval_repo.finish(s, req.id, RetrievalStatus.failed, "UnsupportedTarget")
                continue
            if req.target_kind == "task":
                task, _, named = req.target_value.partition(":")
                acct = accounts_repo.get(s, req.portal, named)
                if acct is None or not acct.enabled:
                    retrieval_repo.finish(s, req.id, RetrievalStatus.failed, "NoAccount")
                    continue
                job = Job(req.portal, named, task_named(task))
                if publish is not None:
                    publish(job)
                return req.id, job
            account = None
            if req.target_kind == "deduction":
                d = s.scalars(
                    select(Deduction).where(
                        Deduction.portal == req.portal, Deduction.external_id == req.target_value
                    )
                ).first()
                account = _deduction_target(s, d, "deduction").account if d else None
            account = account or _first_enabled_account(s, req.portal)
            if account is None:
                retrieval_repo.finish(s, req.id, RetrievalStatus.failed, "NoAccount")
                continue
            job = Job(req.portal, account, "retrieve", req.target_value)
            if publish is not None:
                publish(job)
            return req.id, job


def _claim(s: Session, portals: list[str] | None) -> RetrievalRequest | None:
    if portals is None:
        return retrieval_repo.claim_next(s)
    for _ in range(len(portals) + 1):
        # claim_next filters one portal at a time; take the most urgent across the set
        best = s.execute(
            select(RetrievalRequest.portal)
            .where(
                RetrievalRequest.status == RetrievalStatus.queued,
                RetrievalRequest.portal.in_(portals),
                RetrievalRequest.target_kind.in_(RUNNABLE_KINDS),
            )
            .order_by(RetrievalRequest.priority.desc(), RetrievalRequest.created_at)
            .limit(1)
        ).scalar_one_or_none()
        if best is None:
            return None
        req = retrieval_repo.claim_next(s, best)
        if req is not None:
            return req
    return None


def submit_task(
    db: sessionmaker[Session], portal: str, account: str, task: str, *, requester: str
) -> Submitted:
    """Queue ``task`` on one account to run now (ops' "run now"). Idempotent
    while it waits or runs. Raises ValueError for a task ops may not ask for
    and LookupError for an unknown or disabled account."""
    if task not in ASKABLE_TASKS:
        raise ValueError(f"not a task to run now: {task[:40]!r} ({', '.join(ASKABLE_TASKS)})")
    with transaction(db) as s:
        acct = accounts_repo.get(s, portal, account)
        if acct is None or not acct.enabled:
            raise LookupError(f"no enabled account {account[:80]} on {portal[:40]}")
        value = f"{task}:{account}"
        res = retrieval_repo.enqueue(
            s, requester[:128], "task", value, portal=portal, priority=ON_DEMAND_PRIORITY
        )
    return Submitted(
        res.id, Target("task", value, portal, account, "task"), merged=res.outcome == "unchanged"
    )


def finish_for_result(db: sessionmaker[Session], result: JobResult) -> None:
    """Close the running request(s) a finished job served (a ``retrieve`` job's
    reference, or a task ops asked for now). Safe to repeat."""
    job = result.job
    kinds: tuple[str, ...]
    if job.task == "retrieve" and job.target:
        kinds, value = ("deduction", "pod"), job.target
    elif job.task != "retrieve" and not job.target:
        kinds, value = ("task",), f"{job.task}:{job.account}"
    else:
        return
    status, error = request_status(result)
    with transaction(db) as s:
        ids = s.scalars(
            select(RetrievalRequest.id).where(
                RetrievalRequest.portal == job.portal,
                RetrievalRequest.target_value == value,
                RetrievalRequest.target_kind.in_(kinds),
                RetrievalRequest.status == RetrievalStatus.running,
            )
        ).all()
        for request_id in ids:
            retrieval_repo.finish(s, request_id, status, error)
            if status == RetrievalStatus.needs_human:  # one item per check
                retrieval_repo.supersede_needs_human(s, job.portal, value, request_id)
        if not ids:
            return
        s.execute(
            update(RetrievalRequest)
            .where(RetrievalRequest.id.in_(ids))
            .values(run_id=result.run_id, updated_at=utcnow())
        )


def request_status(result: JobResult) -> tuple[RetrievalStatus, str | None]:
    if result.status in ("succeeded", "partial"):
        if result.needs_human:
            return RetrievalStatus.needs_human, result.needs_human[0].error_class
        return RetrievalStatus.done, None
    if result.error_class in NEEDS_HUMAN_CLASSES:
        return RetrievalStatus.needs_human, result.error_class
    return RetrievalStatus.failed, result.error_class or "Failed"


CLEARED = "ClearedByPerson"
"""The failure class of a needs-human request a person cleared."""


def clear_needs_human(db: sessionmaker[Session], request_id: int, by: str) -> bool:
    """A person dealt with a needs-human request (solved the CAPTCHA on the
    portal themselves, or decided it is not worth it): it ends ``failed`` with
    :data:`CLEARED`, so it leaves the needs-human list; the next scheduled run
    asks again if the portal still blocks. False when it is not needs-human
    (cleared already, or it ran since)."""
    with transaction(db) as s:
        res = s.execute(
            update(RetrievalRequest)
            .where(
                RetrievalRequest.id == request_id,
                RetrievalRequest.status == RetrievalStatus.needs_human,
            )
            .values(status=RetrievalStatus.failed, error_class=CLEARED, updated_at=utcnow())
        )
        cleared = rows_changed(res) == 1
    if cleared:
        log.info("ondemand.cleared", request=request_id, by=by[:128])
    return cleared


def requeue_orphans(db: sessionmaker[Session]) -> int:
    """Put requests left ``running`` by a dead in-process scheduler back in the
    queue (its jobs died with it). Not for Celery dispatch, where a running
    request's job lives in the broker and a claim only commits once the job
    is published (:func:`claim_job`)."""
    with transaction(db) as s:
        res = s.execute(
            update(RetrievalRequest)
            .where(RetrievalRequest.status == RetrievalStatus.running)
            .values(status=RetrievalStatus.queued, updated_at=utcnow())
        )
        return rows_changed(res)


def wait_for(
    db: sessionmaker[Session],
    request_ids: list[int],
    *,
    timeout: float,
    poll: float = 0.5,
    on_change: Callable[[int, str], None] | None = None,
) -> dict[int, RetrievalRequest]:
    """Block until every request is final or ``timeout`` passes; returns the last rows."""
    deadline = time.monotonic() + timeout
    seen: dict[int, str] = {}
    while True:
        with db() as s:
            rows = {
                r.id: r
                for r in s.scalars(
                    select(RetrievalRequest).where(RetrievalRequest.id.in_(request_ids))
                )
            }
            s.expunge_all()
        for rid, row in rows.items():
            status = str(row.status.value if hasattr(row.status, "value") else row.status)
            if on_change and seen.get(rid) != status:
                on_change(rid, status)
            seen[rid] = status
        active = [r for r in rows.values() if r.status in ACTIVE_RETRIEVAL_STATUSES]
        if not active or time.monotonic() >= deadline:
            return rows
        time.sleep(poll)


def queued_count(db: sessionmaker[Session]) -> int:
    with db() as s:
        return len(
            s.scalars(
                select(RetrievalRequest.id).where(
                    or_(RetrievalRequest.status == RetrievalStatus.queued)
                )
            ).all()
        )


__all__ = [
    "CLEARED",
    "ON_DEMAND_PRIORITY",
    "Submitted",
    "Target",
    "UnknownReference",
    "claim_job",
    "clear_needs_human",
    "finish_for_result",
    "request_status",
    "requeue_orphans",
    "resolve_ref",
    "submit",
    "wait_for",
]
