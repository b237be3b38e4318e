"""Silence that is not health: a portal that logs the robot in and then lists
far fewer claims than it usually does (a changed page the adapter no longer
reads, a filter the portal switched on, an account emptied by mistake) looks
like a successful run. Each such run becomes a ``anomaly`` health event, which
``fleet health`` and the web app's banner show, instead of nothing. Three
kinds, told apart by the event's ``detail["what"]`` and each with a
``message`` a person can read without knowing the rule:

``rows`` (:func:`check_listed_rows`, called by the sync itself): a sync that
listed fewer than :data:`SHARE` of the median of the account's last
:data:`RECENT` successful syncs of the same kind, when that median is at
least :data:`MIN_USUAL` claims. An incremental sync lists every open claim
and a week of new ones (bots/tasks/sync.py), so its count is steady from run
to run; a full sync (the first, or after the watermark was reset) lists the
whole history and is compared only with full syncs, so the first incremental
sync after a backfill is not an alarm. A first sync of a kind has no usual
count to fall from and raises nothing.

``documents`` (:func:`check_documents`): a document role that stops
arriving. A portal that moves its deal sheets behind a new tab still hands
over the backup, so the run succeeds and fetches documents; only the kind it
no longer sees is missing. The rule, per account and task (``sync``,
``retrieve``, ``pods``: a one-claim retrieval is no yardstick for a sync):
look at the account's latest successful run *that had document work*, and at
the :data:`RECENT` such runs before it. Work is what the portal showed that
the store did not hold yet: document refs listed and not skipped, plus
shipments a carrier showed (see :func:`document_work`); a run with none could
not have fetched anything and says nothing. A role that arrived in at least
:data:`ROLE_SEEN` of those previous runs and in none of the latest raises,
provided the latest had at least as much work as the least busy of the
previous runs that did bring the role (so a run with one claim to look at is
not blamed for a deal sheet that claim never had). Which roles a run brought
is read from the store (``store.queries.operations.roles_fetched``).

``failure_rate`` (:func:`check_failure_rate`): a portal whose runs start
failing. Its runs of the last :data:`FAILURE_WINDOW` are compared with the
week before them (not with a week that includes them: the jump would raise
its own yardstick): at least :data:`MIN_RUNS` runs in each, and the recent
failure rate at least :data:`FAILURE_RATE` and at least :data:`FAILURE_JUMP`
times the earlier one. A portal that has always failed is broken, not
newly so, and the failed-runs table already says it; runs refused because
the account is disabled are the ``account_disabled`` alert's, not the
portal's, and are left out of both sides. Portal-wide: the event has no
account.

Each condition is raised once per UTC day (:func:`_raised_today`): the
banner already shows it, and a sync every hour must not write twenty-four.
:func:`after_run` is what the runtime calls when a job ends.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from statistics import median
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from records.schemas import RunStatus
from store.models import BotRun, HealthEvent, utcnow
from store.queries.operations import finished_runs, roles_fetched
from store.repositories import runs as runs_repo

KIND = "anomaly"
RECENT = 5
SHARE = 0.3
MIN_USUAL = 5
LISTED = ("deductions.created", "deductions.updated", "deductions.unchanged")
"""What a sync run's counts say it listed."""
FULL = "sync.full"
"""The count a full sync (no watermark) carries."""
OK = (RunStatus.succeeded, RunStatus.partial)
"""A run that did its work (partial: some records quarantined, the rest done)."""

DOCUMENT_TASKS = ("sync", "retrieve", "pods")
"""The tasks that fetch documents; each is compared only with its own kind."""
ROLE_SEEN = 3
"""In how many of the previous :data:`RECENT` document runs a role must have
arrived to be usual."""
LOOK_BACK = 50
"""Successful runs read to find :data:`RECENT` with document work."""

FAILURE_WINDOW = timedelta(hours=24)
BASELINE_WINDOW = timedelta(days=7)
"""The earlier side ends where :data:`FAILURE_WINDOW` begins."""
MIN_RUNS = 4
FAILURE_RATE = 0.5
FAILURE_JUMP = 3.0
NOT_THE_PORTALS = ("AccountDisabled",)
"""Failures that say nothing about the portal (the account was switched off)."""


def listed(counts: dict[str, Any]) -> int:
    """How many claims a sync run listed, from its counts."""
    return sum(int(counts.get(k, 0)) for k in LISTED)


def document_work(counts: dict[str, Any]) -> int:
    """What a run was shown that the store did not hold yet: document refs
    listed and not skipped (a retailer), shipments found (a carrier). Zero
    means the run could not have fetched a document, whatever the portal."""
    c = counts or {}
    refs = int(c.get("documents.listed", 0)) - int(c.get("documents.skipped", 0))
    shipments = int(c.get("pods.fetched", 0)) + int(c.get("pods.not_yet_available", 0))
    return max(0, refs) + shipments


def _raised_today(
    session: Session,
    now: datetime,
    *,
    what: str,
    portal: str | None,
    account: str | None,
    role: str | None = None,
) -> bool:
    """Whether this anomaly (kind, portal, account and, for documents, role)
    was already raised on ``now``'s UTC day: each is raised once a day."""
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    events = session.scalars(
        select(HealthEvent).where(
            HealthEvent.kind == KIND,
            HealthEvent.portal == portal,
            HealthEvent.at >= day,
        )
    )
    return any(
        e.account == account
        and (e.detail or {}).get("what", "rows") == what
        and (e.detail or {}).get("role") == role
        for e in events
    )


def _raise(
    session: Session,
    detail: dict[str, Any],
    *,
    portal: str | None,
    account: str | None,
    run_id: str | None,
) -> dict[str, Any]:
    runs_repo.health_event(
        session,
        KIND,
        portal=portal,
        account=account,
        run_id=run_id,
        severity="warning",
        detail=detail,
    )
    return detail


def check_listed_rows(
    session: Session,
    portal: str,
    account: str,
    count: int,
    run_id: str | None = None,
    *,
    full: bool = False,
    now: datetime | None = None,
) -> dict[str, Any] | None:
    """Record an ``anomaly`` event when ``count`` (this sync's listed claims) is
    far below the account's usual for syncs of its kind (``full`` or
    incremental); returns its detail, or None when normal or already raised
    today."""
    previous: list[dict[str, Any] | None] = list(
        session.execute(
            select(BotRun.counts)
            .where(
                BotRun.portal == portal,
                BotRun.account == account,
                BotRun.task == "sync",
                BotRun.status.in_(OK),
                BotRun.run_id != (run_id or ""),
            )
            .order_by(BotRun.started_at.desc())
            .limit(RECENT)
        ).scalars()
    )
    history = [
        n for c in previous if bool((c or {}).get(FULL)) == full and (n := listed(c or {})) > 0
    ]
    if not history:
        return None
    usual = median(history[:RECENT])
    if usual < MIN_USUAL or count >= usual * SHARE:
        return None
    if _raised_today(session, now or utcnow(), what="rows", portal=portal, account=account):
        return None
    detail = {
        "what": "rows",
        "listed": count,
        "usual": usual,
        "message": f"{portal} {account}: the sync listed {count} claims, usually {usual:g}",
    }
    return _raise(session, detail, portal=portal, account=account, run_id=run_id)


def check_documents(
    session: Session, run_id: str, *, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Record an ``anomaly`` event for each document role that usually arrives
    on this account and that this run (just finished) brought none of, by the
    rule in the module's docstring; returns their details (empty when the run
    is not a successful document run with work, or nothing is missing)."""
    run = runs_repo.get(session, run_id)
    if (
        run is None
        or run.account is None
        or run.task not in DOCUMENT_TASKS
        or RunStatus(run.status) not in OK
        or run.finished_at is None
    ):
        return []
    work = document_work(run.counts)
    if work == 0:
        return []
    earlier = session.scalars(
        select(BotRun)
        .where(
            BotRun.portal == run.portal,
            BotRun.account == run.account,
            BotRun.task == run.task,
            BotRun.status.in_(OK),
            BotRun.started_at < run.started_at,
            BotRun.finished_at.is_not(None),
        )
        .order_by(BotRun.started_at.desc())
        .limit(LOOK_BACK)
    )
    previous = [r for r in earlier if document_work(r.counts) > 0][:RECENT]
    if len(previous) < ROLE_SEEN:
        return []
    fetched = roles_fetched(
        session, run.portal, run.account, previous[-1].started_at, run.finished_at
    )

    def roles_in(r: BotRun) -> set[str]:
        end = r.finished_at or r.started_at
        return {role for at, role in fetched if r.started_at <= at <= end}

    now_roles = roles_in(run)
    seen: Counter[str] = Counter()
    least_work: dict[str, int] = {}
    for r in previous:
        busy = document_work(r.counts)
        for role in roles_in(r):
            seen[role] += 1
            least_work[role] = min(least_work.get(role, busy), busy)
    found = []
    for role in sorted(seen):
        if seen[role] < ROLE_SEEN or role in now_roles or work < least_work[role]:
            continue
        if _raised_today(
            session,
            now or utcnow(),
            what="documents",
            portal=run.portal,
            account=run.account,
            role=role,
        ):
            continue
        detail = {
            "what": "documents",
            "role": role,
            "task": run.task,
            "seen": seen[role],
            "runs": len(previous),
            "message": (
                f"{run.portal} {run.account}: no {role.replace('_', ' ')} documents arrived in"
                f" the last {run.task}; they came in {seen[role]} of the {len(previous)} before"
            ),
        }
        found.append(_raise(session, detail, portal=run.portal, account=run.account, run_id=run_id))
    return found


def check_failure_rate(
    session: Session, portal: str, *, now: datetime | None = None, run_id: str | None = None
) -> dict[str, Any] | None:
    """Record a portal-wide ``anomaly`` event when the portal's failure rate of
    the last day jumped above the week before it, by the rule in the module's
    docstring; returns its detail, or None."""
    now = now or utcnow()
    split = now - FAILURE_WINDOW
    runs = finished_runs(session, portal, split - BASELINE_WINDOW, leave_out=NOT_THE_PORTALS)
    recent = [r for r in runs if r.started_at >= split]
    before = [r for r in runs if r.started_at < split]
    if len(recent) < MIN_RUNS or len(before) < MIN_RUNS:
        return None
    failed = [r for r in recent if r.failed]
    rate = len(failed) / len(recent)
    usual = sum(r.failed for r in before) / len(before)
    if rate < FAILURE_RATE or rate < FAILURE_JUMP * usual:
        return None
    if _raised_today(session, now, what="failure_rate", portal=portal, account=None):
        return None
    classes = Counter(r.error_class or "unknown" for r in failed)
    top = ", ".join(f"{cls} {n}" for cls, n in classes.most_common(3))
    detail = {
        "what": "failure_rate",
        "runs": len(recent),
        "failed": len(failed),
        "rate": round(rate, 3),
        "usual_rate": round(usual, 3),
        "classes": dict(classes),
        "message": (
            f"{portal}: {len(failed)} of {len(recent)} runs failed in the last 24 h"
            f" ({rate:.0%}; {usual:.0%} the week before): {top}"
        ),
    }
    return _raise(session, detail, portal=portal, account=None, run_id=run_id)


def after_run(
    session: Session, run_id: str, *, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The checks a job's end calls for, made by the runtime once the run's end
    is recorded: the document roles (only a successful document run can show
    one missing) and its portal's failure rate (after any run: a success can
    bring the last day up to :data:`MIN_RUNS` as well as a failure can).
    Returns the anomalies raised."""
    run = runs_repo.get(session, run_id)
    if run is None:
        return []
    found = check_documents(session, run_id, now=now)
    jump = check_failure_rate(session, run.portal, now=now, run_id=run_id)
    return found + ([jump] if jump else [])


def recent_anomalies(session: Session, now: datetime, hours: int = 24) -> list[dict[str, Any]]:
    """Anomalies of the last ``hours``, newest first, one per condition (the
    newest of each portal, account, kind and role), for a banner and
    ``fleet health``."""
    rows = session.execute(
        select(HealthEvent)
        .where(HealthEvent.kind == KIND, HealthEvent.at >= now - timedelta(hours=hours))
        .order_by(HealthEvent.at.desc())
        .limit(200)
    ).scalars()
    seen: set[tuple[str | None, str | None, str, str | None]] = set()
    out = []
    for e in rows:
        detail = e.detail or {}
        key = (e.portal, e.account, str(detail.get("what", "rows")), detail.get("role"))
        if key in seen:
            continue
        seen.add(key)
        out.append({"portal": e.portal, "account": e.account, "at": e.at.isoformat(), **detail})
    return out


__all__ = [
    "FULL",
    "KIND",
    "after_run",
    "check_documents",
    "check_failure_rate",
    "check_listed_rows",
    "document_work",
    "listed",
    "recent_anomalies",
]
