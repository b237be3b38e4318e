"""Bot health as ops needs to see it, from the store's own records.

Per portal and account: the last success, the success rate over 24 hours and
7 days, failures by error class, documents retrieved, whether the account is
disabled; the needs-human queue; and the disputes refused (rejected by the
portal, or their window closed). Reads only what the runtime writes as it
works: bot_runs, accounts, retrieval_requests, disputes and health events.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from bots.anomalies import recent_anomalies
from records.schemas import DisputeStatus, RetrievalStatus, RunStatus
from store.models import (
    Account,
    BotRun,
    Deduction,
    Dispute,
    HealthEvent,
    RetrievalRequest,
    utcnow,
)

_OK = (RunStatus.succeeded, RunStatus.partial)


def health_report(session: Session, *, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    week_ago = now - timedelta(days=7)
    day_ago = now - timedelta(days=1)
    runs = session.execute(
        select(
            BotRun.portal,
            BotRun.account,
            BotRun.task,
            BotRun.status,
            BotRun.started_at,
            BotRun.finished_at,
            BotRun.error_class,
            BotRun.counts,
        )
        .where(BotRun.started_at >= week_ago)
        .order_by(BotRun.started_at)
    ).all()
    accounts = {(a.portal, a.username): a for a in session.scalars(select(Account))}
    rows: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {
            "runs_24h": 0,
            "ok_24h": 0,
            "runs_7d": 0,
            "ok_7d": 0,
            "last_success": None,
            "last_run": None,
            "last_status": None,
            "failures": Counter(),
            "documents": 0,
            "deductions": 0,
            "retries": 0,
        }
    )
    for r in runs:
        row = rows[(r.portal, r.account or "")]
        ok = r.status in _OK
        row["runs_7d"] += 1
        row["ok_7d"] += ok
        if r.started_at >= day_ago:
            row["runs_24h"] += 1
            row["ok_24h"] += ok
        if ok:
            row["last_success"] = r.finished_at or r.started_at
        elif r.status is not RunStatus.running:
            row["failures"][r.error_class or "unknown"] += 1
        row["last_run"], row["last_status"] = r.started_at, r.status.value
        counts = r.counts or {}
        row["documents"] += int(counts.get("documents.new", 0))
        row["deductions"] += sum(
            int(v) for k, v in counts.items() if k in ("deductions.created", "deductions.changed")
        )
        row["retries"] += sum(int(v) for k, v in counts.items() if k.startswith("retry."))
    for key in accounts:
        rows.setdefault(key, rows[key])
    out = []
    for (portal, account), row in sorted(rows.items()):
        acct = accounts.get((portal, account))
        out.append(
            {
                "portal": portal,
                "account": account,
                "enabled": acct.enabled if acct else True,
                "disabled_reason": acct.disabled_reason if acct else None,
                "last_success": _iso(row["last_success"]),
                "last_run": _iso(row["last_run"]),
                "last_status": row["last_status"],
                "success_rate_24h": _rate(row["ok_24h"], row["runs_24h"]),
                "success_rate_7d": _rate(row["ok_7d"], row["runs_7d"]),
                "runs_7d": row["runs_7d"],
                "failures_by_class": dict(row["failures"]),
                "documents_7d": row["documents"],
                "deductions_changed_7d": row["deductions"],
                "retries_7d": row["retries"],
            }
        )
    human = session.execute(
        select(
            RetrievalRequest.id,
            RetrievalRequest.portal,
            RetrievalRequest.target_kind,
            RetrievalRequest.target_value,
            RetrievalRequest.error_class,
            RetrievalRequest.finished_at,
        )
        .where(RetrievalRequest.status == RetrievalStatus.needs_human)
        .order_by(RetrievalRequest.finished_at.desc())
        .limit(500)
    ).all()
    return {
        "generated_at": now.isoformat(),
        "accounts": out,
        "disputes_refused": refused_disputes(session),
        "dispute_deadlines": _latest_deadlines(session),
        "anomalies": recent_anomalies(session, now),
        "needs_human": [
            {
                "id": h.id,
                "portal": h.portal,
                "kind": h.target_kind,
                "ref": h.target_value,
                "error_class": h.error_class,
                "since": _iso(h.finished_at),
            }
            for h in human
        ],
    }


def _latest_deadlines(session: Session) -> dict[str, Any] | None:
    """The last ``dispute_deadlines`` alert (dispute_filing.deadlines): what closed
    soon, by amount at risk, on the business day it was taken."""
    event = session.scalars(
        select(HealthEvent)
        .where(HealthEvent.kind == "dispute_deadlines")
        .order_by(HealthEvent.id.desc())
        .limit(1)
    ).first()
    return dict(event.detail or {}) if event is not None else None


def refused_disputes(session: Session, limit: int = 500) -> list[dict[str, Any]]:
    """Disputes the portal rejected, whose window closed before filing, or whose
    packet the robot could not file as approved (held for a person), each with
    the reason last recorded for it: money that will not come back unless a
    person acts."""
    rows = session.execute(
        select(
            Dispute.status,
            Dispute.hold_reason,
            Dispute.amount,
            Dispute.updated_at,
            Deduction.portal,
            Deduction.account,
            Deduction.external_id,
        )
        .join(Deduction, Deduction.id == Dispute.deduction_id)
        .where(
            or_(
                Dispute.status.in_(
                    (DisputeStatus.rejected.value, DisputeStatus.window_closed.value)
                ),
                and_(
                    Dispute.status == DisputeStatus.awaiting_person.value,
                    Dispute.hold_reason.is_not(None),
                ),
            )
        )
        .order_by(Dispute.updated_at.desc())
        .limit(limit)
    ).all()
    if not rows:
        return []
    why: dict[tuple[str, str], str] = {}
    for e in session.scalars(
        select(HealthEvent)
        .where(HealthEvent.kind.in_(("dispute_rejected", "dispute_window_closed")))
        .order_by(HealthEvent.id)
    ):
        detail = e.detail or {}
        key = (e.portal or "", str(detail.get("deduction", "")))
        why[key] = str(detail.get("portal_says") or detail.get("reason") or e.error_class or "")
    return [
        {
            "portal": r.portal,
            "account": r.account,
            "deduction": r.external_id,
            "status": r.status,
            "amount": str(r.amount),
            "why": r.hold_reason or why.get((r.portal, r.external_id), ""),
            "since": _iso(r.updated_at),
        }
        for r in rows
    ]


def _rate(ok: int, total: int) -> float | None:
    return round(ok / total, 3) if total else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
