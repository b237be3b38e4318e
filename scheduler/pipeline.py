"""The pipeline: which job follows which, so one sync carries an account's
work from the portal to a filed dispute.

    sync (retailer) ------> read_documents ------> pods (each carrier with work)
       |                        |                      |
       +-> dispute_status       +-> match <------------+-- read_documents
           (if disputes open)         |
                                      +-> queue_disputes -> file_dispute (accounts
                                                            with disputes queued)

Every arrow is a job of its own (bots/jobs.py), so the scheduler can also run
any step alone (``fleet run --task``) and a failed step stops only its own
branch: the next sync starts the chain again, and every step is idempotent.

``follow_ups`` reads the store only (no browser): it is called by the one job
function both dispatchers share (scheduler/dispatch.py ``execute``), so the
chain is the same in process, in ``fleet run`` and across Celery workers.

Loops cannot form: ``read_documents`` after a carrier's ``pods`` (target
``"carrier"``) leads to ``match`` only, never back to ``pods``; POD look-ups
the carrier could not answer yet wait for the next business day before they
count as work again.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session, sessionmaker

from bots.jobs import CORE, EVERY_ACCOUNT, Job, JobResult, Task
from bots.tasks.disputes import mail_only
from bots.tasks.pods import pod_targets
from portal_adapters.registry import adapter_class
from records.schemas import FINAL_DISPUTE_STATUSES, DisputeStatus
from scheduler.balance import largest_first
from store.models import Decision, Deduction, Dispute, utcnow
from store.repositories import accounts as accounts_repo

AFTER_RETAILER = "retailer"
AFTER_CARRIER = "carrier"


def core_job(task: Task, target: str | None = None) -> Job:
    return Job(CORE, EVERY_ACCOUNT, task, target)


def portal_kind(portal: str) -> str:
    """``retailer`` or ``carrier`` (from the adapter); ``core`` for core jobs."""
    if portal == CORE:
        return CORE
    try:
        return str(adapter_class(portal).kind)
    except Exception:
        return "retailer"


def start_jobs(accounts: Iterable[tuple[str, str]]) -> list[Job]:
    """Where the pipeline starts for these accounts: a sync on each retailer.

    Carriers are reached through the chain (their work is named by what the
    retailers' documents say), unless only carriers were chosen."""
    accounts = list(accounts)
    retailers = [(p, a) for p, a in accounts if portal_kind(p) != "carrier"]
    if retailers:
        return [Job(p, a, "sync") for p, a in retailers]
    return [Job(p, a, "pods") for p, a in accounts]


def follow_ups(db: sessionmaker[Session], result: JobResult, today: date) -> list[Job]:
    """The jobs that follow a finished one (none after a failure); ``today`` is
    the fleet's business day."""
    if not result.ok:
        return []
    job = result.job
    task = job.task
    if task in ("sync", "retrieve"):
        after = AFTER_CARRIER if portal_kind(job.portal) == "carrier" else AFTER_RETAILER
        jobs = [core_job("read_documents", after)]
        if task == "sync" and _has_open_disputes(db, job.portal, job.account):
            jobs.append(Job(job.portal, job.account, "dispute_status"))
        return jobs
    if task == "pods":
        return [core_job("read_documents", AFTER_CARRIER)]
    if task == "read_documents":
        jobs = carrier_jobs(db, today) if job.target != AFTER_CARRIER else []
        return [*largest_first(db, jobs), core_job("match")]
    if task == "match":
        return [core_job("queue_disputes")] if _has_unqueued_approvals(db) else []
    if task == "queue_disputes":
        return largest_first(
            db, [Job(p, a, "file_dispute") for p, a in accounts_with_disputes_to_file(db)]
        )
    return []


def carrier_jobs(db: sessionmaker[Session], today: date) -> list[Job]:
    """A ``pods`` job for each enabled carrier account whose carrier has work."""
    with db() as s:
        accounts = [(a.portal, a.username) for a in accounts_repo.enabled_accounts(s, None)]
    jobs: list[Job] = []
    for portal in sorted({p for p, _ in accounts if portal_kind(p) == "carrier"}):
        if pod_targets(db, portal, today):
            jobs += [Job(p, a, "pods") for p, a in accounts if p == portal]
    return jobs


def accounts_with_disputes_to_file(
    db: sessionmaker[Session], *, untouched_for: timedelta | None = None
) -> list[tuple[str, str]]:
    """Enabled retailer accounts holding disputes the policy lets the robot file,
    and ``(retailer, "*")`` for a retailer with no portal (its disputes go by
    e-mail: no login, so no account to enable; its claims came from EDI 812s).

    ``untouched_for``: only disputes never attempted, or last touched that long
    ago (a filing that failed is tried again then, not on every pass)."""
    with db() as s:
        q = (
            select(Deduction.portal, Deduction.account)
            .join(Dispute, Dispute.deduction_id == Deduction.id)
            .where(Dispute.status.in_((DisputeStatus.queued.value, DisputeStatus.filing.value)))
            .distinct()
        )
        if untouched_for is not None:
            q = q.where(or_(Dispute.attempts == 0, Dispute.updated_at < utcnow() - untouched_for))
        rows = s.execute(q).all()
        enabled = {(a.portal, a.username) for a in accounts_repo.enabled_accounts(s, None)}
    by_mail = {(p, EVERY_ACCOUNT) for p, _ in rows if mail_only(p)}
    on_portals = {(p, a) for p, a in rows if a is not None and (p, a) in enabled}
    return sorted(on_portals | by_mail)


FILING_RETRY = timedelta(minutes=30)
"""A dispute whose filing failed is tried again by housekeeping after this long."""


def pending_work(db: sessionmaker[Session]) -> list[Job]:
    """Work that waits without a sync to start it: decisions approved since the
    last match (a person approved them) and disputes released by a person (or
    whose filing failed a while ago). The scheduler's housekeeping asks this
    every pass."""
    if _has_unqueued_approvals(db):
        return [core_job("queue_disputes")]
    return largest_first(
        db,
        [
            Job(p, a, "file_dispute")
            for p, a in accounts_with_disputes_to_file(db, untouched_for=FILING_RETRY)
        ],
    )


def _has_unqueued_approvals(db: sessionmaker[Session]) -> bool:
    with db() as s:
        handed = exists().where(Dispute.deduction_id == Decision.deduction_id)
        row = s.execute(
            select(Decision.id)
            .where(
                Decision.status == "approved",
                Decision.kind.in_(("dispute", "split")),
                Decision.dispute_amount > 0,
                ~handed,
            )
            .limit(1)
        ).first()
    return row is not None


def _has_open_disputes(db: sessionmaker[Session], portal: str, account: str) -> bool:
    with db() as s:
        row = s.execute(
            select(Dispute.id)
            .join(Deduction, Deduction.id == Dispute.deduction_id)
            .where(
                Dispute.portal == portal,
                Deduction.account == account,
                Dispute.dispute_number.is_not(None),
                Dispute.status.not_in(sorted(FINAL_DISPUTE_STATUSES)),
            )
            .limit(1)
        ).first()
    return row is not None


__all__ = [
    "AFTER_CARRIER",
    "AFTER_RETAILER",
    "FILING_RETRY",
    "accounts_with_disputes_to_file",
    "carrier_jobs",
    "core_job",
    "follow_ups",
    "pending_work",
    "portal_kind",
    "start_jobs",
]
