"""Silence that is not health: a portal that logs the robot in and then lists
far fewer claims than it usually does (a changed page the adapter no longer
reads, a filter the portal switched on, an account emptied by mistake) looks
like a successful run. Each such run becomes a ``anomaly`` health event, which
``fleet health`` and the web app's banner show, instead of nothing.

The rule: a sync that listed fewer than :data:`SHARE` of the median of the
account's last :data:`RECENT` successful syncs of the same kind, when that
median is at least :data:`MIN_USUAL` claims. An incremental sync lists every
open claim and a week of new ones (bots/tasks/sync.py), so its count is steady
from run to run; a full sync (the first, or after the watermark was reset)
lists the whole history and is compared only with full syncs, so the first
incremental sync after a backfill is not an alarm. A first sync of a kind has
no usual count to fall from and raises nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from statistics import median
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from records.schemas import RunStatus
from store.models import BotRun, HealthEvent
from store.repositories import runs as runs_repo

KIND = "anomaly"
RECENT = 5
SHARE = 0.3
MIN_USUAL = 5
LISTED = ("deductions.created", "deductions.updated", "deductions.unchanged")
"""What a sync run's counts say it listed."""
FULL = "sync.full"
"""The count a full sync (no watermark) carries."""


def listed(counts: dict[str, Any]) -> int:
    """How many claims a sync run listed, from its counts."""
    return sum(int(counts.get(k, 0)) for k in LISTED)


def check_listed_rows(
    session: Session,
    portal: str,
    account: str,
    count: int,
    run_id: str | None = None,
    *,
    full: bool = False,
) -> dict[str, Any] | None:
    """Record an ``anomaly`` event when ``count`` (this sync's listed claims) is
    far below the account's usual for syncs of its kind (``full`` or
    incremental); returns its detail, or None when normal."""
    previous: list[dict[str, Any] | None] = list(
        session.execute(
            select(BotRun.counts)
            .where(
                BotRun.portal == portal,
                BotRun.account == account,
                BotRun.task == "sync",
                BotRun.status.in_((RunStatus.succeeded, RunStatus.partial)),
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
    detail = {
        "what": "rows",
        "listed": count,
        "usual": usual,
        "message": f"{portal} {account}: the sync listed {count} claims, usually {usual:g}",
    }
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


def recent_anomalies(session: Session, now: datetime, hours: int = 24) -> list[dict[str, Any]]:
    """Anomalies of the last ``hours``, newest first, one per portal and account
    (the newest), for a banner and ``fleet health``."""
    rows = session.execute(
        select(HealthEvent)
        .where(HealthEvent.kind == KIND, HealthEvent.at >= now - timedelta(hours=hours))
        .order_by(HealthEvent.at.desc())
        .limit(200)
    ).scalars()
    seen: set[tuple[str | None, str | None]] = set()
    out = []
    for e in rows:
        if (e.portal, e.account) in seen:
            continue
        seen.add((e.portal, e.account))
        out.append({"portal": e.portal, "account": e.account, "at": e.at.isoformat(), **e.detail})
    return out


__all__ = ["FULL", "KIND", "check_listed_rows", "listed", "recent_anomalies"]
