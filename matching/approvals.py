"""Decisions on deductions and their approval chain.

* **propose**: accept (credit memo or write-off), dispute (hand to dispute
  filing), or split (accept part, dispute the rest). The chain of roles comes
  from the rules file by category and amount (``MatchingConfig.chain_for``).
* **approve / reject**: one step at a time, lowest level first. The actor's role
  must reach the step's role (director > manager > analyst), directly or as an
  active delegate of someone whose role does.
* **segregation of duties**: the proposer never approves their own proposal,
  not even through a delegation, and nobody approves two steps of one decision.
* **reminders**: steps waiting longer than ``reminder_after_hours``.

Every change of state is appended to the hash-chained audit log. Functions
take a Session and do not commit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from matching.config import ROLE_RANK, MatchingConfig, load_config
from store.models import Decision, DecisionStep, Deduction, Verdict, utcnow
from store.repositories import approvals as repo
from store.repositories import audit

KINDS = ("accept", "dispute", "split")
CREDIT_KINDS = ("credit_memo", "write_off")
MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_](?:[A-Za-z0-9_.\-]{0,126}[A-Za-z0-9_])?)")
ZERO = Decimal("0.00")


class ApprovalError(ValueError):
    """A request the workflow refuses (the message says why, for the person)."""


@dataclass(frozen=True)
class Reminder:
    decision_id: int
    deduction_id: int
    level: int
    role: str
    waiting_since: datetime


def _entity(deduction_id: int) -> str:
    return f"deduction:{deduction_id}"


def propose(
    session: Session,
    deduction_id: int,
    kind: str,
    proposed_by: str,
    *,
    accept_amount: Decimal | None = None,
    credit_kind: str = "credit_memo",
    note: str = "",
    config: MatchingConfig | None = None,
) -> Decision:
    """Open a decision with its chain of approval steps."""
    cfg = config or load_config()
    if kind not in KINDS:
        raise ApprovalError(f"kind must be one of {', '.join(KINDS)}")
    if credit_kind not in CREDIT_KINDS:
        raise ApprovalError(f"credit kind must be one of {', '.join(CREDIT_KINDS)}")
    ded = session.get(Deduction, deduction_id)
    if ded is None:
        raise ApprovalError(f"no deduction {deduction_id}")
    amount = ded.amount
    if kind == "accept":
        accept = amount
    elif kind == "dispute":
        accept = ZERO
    else:
        if accept_amount is None or not ZERO < accept_amount < amount:
            raise ApprovalError(f"a split accepts part of {amount}: give 0 < amount < {amount}")
        accept = accept_amount
    verdict = session.execute(
        select(Verdict.category).where(Verdict.deduction_id == deduction_id)
    ).scalar_one_or_none()
    category = verdict or str(getattr(ded.category, "value", ded.category) or "other")
    roles = cfg.chain_for(category, amount)
    pending = session.execute(
        select(Decision.id).where(
            Decision.deduction_id == deduction_id, Decision.status == "pending"
        )
    ).scalar_one_or_none()
    if pending is not None:
        raise ApprovalError(f"deduction {deduction_id} already has a pending decision {pending}")
    decision = repo.create_decision(
        session,
        deduction_id,
        kind,
        accept,
        amount - accept,
        credit_kind if accept > 0 else "",
        proposed_by,
        note,
        roles,
    )
    audit.append(
        session,
        proposed_by,
        "propose",
        _entity(deduction_id),
        None,
        {
            "decision": decision.id,
            "kind": kind,
            "accept": str(accept),
            "dispute": str(amount - accept),
            "credit_kind": decision.credit_kind,
            "chain": list(roles),
        },
    )
    return decision


def _authority(session: Session, actor: str, role: str, at: datetime) -> str | None:
    """None when ``actor`` may take a ``role`` step itself; else the delegator it
    acts for. Raises when neither."""
    roles = repo.user_roles(session, [actor])
    if ROLE_RANK.get(roles.get(actor, ""), 0) >= ROLE_RANK[role]:
        return None
    delegators = repo.delegators_of(session, actor, at)
    theirs = repo.user_roles(session, delegators)
    for who in sorted(delegators):
        if ROLE_RANK.get(theirs.get(who, ""), 0) >= ROLE_RANK[role]:
            return who
    raise ApprovalError(f"{actor} may not approve a {role} step (and stands in for no {role})")


def act(
    session: Session,
    decision_id: int,
    actor: str,
    *,
    approve: bool,
    note: str = "",
    at: datetime | None = None,
) -> Decision:
    """Approve or reject the decision's next pending step."""
    now = at or utcnow()
    decision = session.get(Decision, decision_id, populate_existing=True)
    if decision is None:
        raise ApprovalError(f"no decision {decision_id}")
    if decision.status != "pending":
        raise ApprovalError(f"decision {decision_id} is already {decision.status}")
    steps = repo.steps(session, decision_id)
    step = next((s for s in steps if s.status == "pending"), None)
    if step is None:  # pragma: no cover - a pending decision always has a pending step
        raise ApprovalError(f"decision {decision_id} has no pending step")
    on_behalf = _authority(session, actor, step.role, now)
    if decision.proposed_by in (actor, on_behalf):
        raise ApprovalError("segregation of duties: no one approves their own proposal")
    acted = {s.actor for s in steps if s.status != "pending"} | {
        s.on_behalf_of for s in steps if s.on_behalf_of
    }
    if actor in acted or (on_behalf and on_behalf in acted):
        raise ApprovalError("segregation of duties: one person approves one step of a decision")
    status = "approved" if approve else "rejected"
    if not repo.decide_step(session, step.id, status, actor, on_behalf, note):
        raise ApprovalError(f"step {step.level} of decision {decision_id} was decided meanwhile")
    last = step.level == max(s.level for s in steps)
    if not approve:
        repo.close_decision(session, decision_id, "rejected")
    elif last:
        repo.close_decision(session, decision_id, "approved")
    audit.append(
        session,
        actor,
        "approve" if approve else "reject",
        _entity(decision.deduction_id),
        {"decision": decision_id, "step": step.level, "status": "pending"},
        {
            "decision": decision_id,
            "step": step.level,
            "role": step.role,
            "status": status,
            "on_behalf_of": on_behalf,
            "decision_status": "rejected" if not approve else ("approved" if last else "pending"),
        },
    )
    session.refresh(decision)
    return decision


def delegate(
    session: Session,
    delegator: str,
    delegate_to: str,
    starts_at: datetime,
    ends_at: datetime,
    created_by: str,
) -> None:
    if delegator == delegate_to:
        raise ApprovalError("a delegation needs two people")
    if ends_at <= starts_at:
        raise ApprovalError("a delegation ends after it starts")
    row = repo.add_delegation(session, delegator, delegate_to, starts_at, ends_at, created_by)
    audit.append(
        session,
        created_by,
        "delegate",
        f"user:{delegator}",
        None,
        {
            "delegation": row.id,
            "to": delegate_to,
            "from": starts_at.isoformat(),
            "until": ends_at.isoformat(),
        },
    )


def comment(session: Session, deduction_id: int, author: str, body: str) -> list[str]:
    """An internal comment; returns the @mentions found in it."""
    body = body.strip()
    if not body:
        raise ApprovalError("an empty comment says nothing")
    mentions = sorted(set(MENTION.findall(body)))
    row = repo.add_comment(session, deduction_id, author, body[:20_000], mentions)
    audit.append(
        session,
        author,
        "comment",
        _entity(deduction_id),
        None,
        {"comment": row.id, "mentions": mentions},
    )
    return mentions


def reminders(
    session: Session, now: datetime | None = None, config: MatchingConfig | None = None
) -> list[Reminder]:
    """Pending steps that have waited longer than the configured time."""
    cfg = config or load_config()
    now = now or utcnow()
    limit = now - timedelta(hours=cfg.reminder_after_hours)
    rows = session.execute(
        select(Decision, DecisionStep)
        .join(DecisionStep, DecisionStep.decision_id == Decision.id)
        .where(Decision.status == "pending")
        .order_by(Decision.id, DecisionStep.level)
    ).all()
    out: list[Reminder] = []
    since: dict[int, datetime] = {}
    for decision, step in rows:
        start = since.get(decision.id, decision.created_at)
        if step.status != "pending":
            since[decision.id] = step.decided_at or start
            continue
        if decision.id in {r.decision_id for r in out}:
            continue
        if start <= limit:
            out.append(Reminder(decision.id, decision.deduction_id, step.level, step.role, start))
        since[decision.id] = now  # later steps wait on this one
    return out


__all__ = [
    "CREDIT_KINDS",
    "KINDS",
    "ApprovalError",
    "Reminder",
    "act",
    "comment",
    "delegate",
    "propose",
    "reminders",
]
