"""Decisions on deductions and their approval chain.

* **propose**: accept (credit memo or write-off), dispute (hand to dispute
  filing), or split (accept part, dispute the rest). The chain of roles comes
  from the rules file by category and amount (``MatchingConfig.chain_for``).
* **approve / reject**: one step at a time, lowest level first. The actor's role
  must reach the step's role (director > manager > analyst), directly or as an
  active delegate of someone whose role does.
* **segregation of duties**: the proposer never approves their own proposal,
  not even through a delegation, and nobody approves two steps of one decision.
* **reminders**: steps waiting longer than ``reminder_after_hours``;
  ``send_reminders`` sends each of them (a structlog ``approval.reminder``
  event and an audit entry) at most once per ``reminder_after_hours``. The
  active scheduler calls it periodically; ``fleet approvals remind`` does the
  same from cron.
* **users**: ``add_user`` / ``deactivate_user`` keep the roles the chain checks;
  ``set_access`` what a person may do in the web app (:data:`ACCESS_ROLES`) and
  their **approval limit**: nobody approves a decision on a claim above their
  limit (it waits for the next approver whose limit reaches it); rejecting
  commits no money and is not limited.

Every change of state is appended to the hash-chained audit log. Functions
take a Session and do not commit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from matching.config import CREDIT_KINDS, DECISION_KINDS, ROLE_RANK, MatchingConfig, load_config
from store.models import Decision, DecisionStep, Deduction, Verdict, utcnow
from store.repositories import approvals as repo
from store.repositories import audit

KINDS = DECISION_KINDS
ACCESS_ROLES = ("analyst", "approver", "ops", "admin")
"""What the web app lets a person do (``web/permissions.py`` maps each to its
actions); the approval chain's rank is the separate ``role``."""
USERNAME = r"[A-Za-z0-9_](?:[A-Za-z0-9_.\-]{0,126}[A-Za-z0-9_])?"
MENTION = re.compile(rf"(?<![\w@])@({USERNAME})")
ZERO = Decimal("0.00")
REMINDER_ACTOR = "system:reminders"

log = structlog.get_logger(__name__)


class ApprovalError(ValueError):
    """A request the workflow refuses (the message says why, for the person)."""


def window_refusal(window_closes: date | None, today: date) -> str | None:
    """Why a dispute may not be approved or filed on ``today`` (None: it may).

    One rule for approving (here) and filing (dispute_filing/): after the
    portal's window closes, the portal refuses the dispute or ignores it."""
    if window_closes is not None and today > window_closes:
        return f"the portal's dispute window closed on {window_closes.isoformat()}"
    return None


@dataclass(frozen=True)
class Reminder:
    decision_id: int
    deduction_id: int
    level: int
    role: str
    waiting_since: datetime
    days_left: int | None = None
    """Days until the claim's dispute window closes (None: no window known)."""
    escalated_to: tuple[str, ...] = ()
    """Roles above the step's that hear of it too, as the deadline nears."""


@dataclass(frozen=True)
class PendingApproval:
    """A pending decision and the step it waits for (``fleet approvals``)."""

    decision_id: int
    deduction_id: int
    portal: str
    external_id: str
    currency: str
    claim_amount: Decimal
    kind: str
    accept_amount: Decimal
    dispute_amount: Decimal
    credit_kind: str
    proposed_by: str
    proposed_at: datetime
    level: int
    levels: int
    role: str
    waiting_since: datetime
    can_act: bool | None = None  # for the actor asked about; None: nobody asked
    on_behalf_of: str | None = None  # the delegator the actor would act for
    over_limit: str | None = None  # why the actor may reject but not approve it


@dataclass(frozen=True)
class _Waiting:
    decision: Decision
    deduction: Deduction
    steps: list[DecisionStep]
    step: DecisionStep  # the first pending one
    since: datetime  # when it started waiting: the previous step's decision, else the proposal


def _entity(deduction_id: int) -> str:
    return f"deduction:{deduction_id}"


def _waiting(session: Session) -> list[_Waiting]:
    """Each pending decision with the step it waits for, oldest decision first."""
    rows = session.execute(
        select(Decision, DecisionStep, Deduction)
        .join(DecisionStep, DecisionStep.decision_id == Decision.id)
        .join(Deduction, Deduction.id == Decision.deduction_id)
        .where(Decision.status == "pending")
        .order_by(Decision.id, DecisionStep.level)
        .execution_options(populate_existing=True)
    ).all()
    grouped: dict[int, tuple[Decision, Deduction, list[DecisionStep]]] = {}
    for decision, step, ded in rows:
        grouped.setdefault(decision.id, (decision, ded, []))[2].append(step)
    out: list[_Waiting] = []
    for decision, ded, steps in grouped.values():
        since = decision.created_at
        for step in steps:
            if step.status == "pending":
                out.append(_Waiting(decision, ded, steps, step, since))
                break
            since = step.decided_at or since
    return out


def propose(
    session: Session,
    deduction_id: int,
    kind: str,
    proposed_by: str,
    *,
    accept_amount: Decimal | None = None,
    credit_kind: str | None = None,
    note: str = "",
    config: MatchingConfig | None = None,
) -> Decision:
    """Open a decision with its chain of approval steps.

    The shape of a decision is checked here, for every face alike: an accept
    takes the whole claim, a dispute accepts nothing (so it books no credit
    kind), a split accepts ``0 < accept_amount < claim``; ``credit_kind``
    (default credit memo) says how an accepted part is booked."""
    cfg = config or load_config()
    if kind not in KINDS:
        raise ApprovalError(f"the decision is one of {', '.join(KINDS)}")
    if credit_kind is not None and credit_kind not in CREDIT_KINDS:
        raise ApprovalError(f"the credit kind is one of {', '.join(CREDIT_KINDS)}")
    if kind == "dispute" and credit_kind is not None:
        raise ApprovalError("a credit kind books an accepted amount: a dispute accepts nothing")
    if kind != "split" and accept_amount is not None:
        raise ApprovalError(
            "an accepted amount is for a split (accept takes the whole claim, dispute none)"
        )
    if kind == "split" and accept_amount is None:
        raise ApprovalError("a split needs the amount accepted")
    credit_kind = credit_kind or "credit_memo"
    if proposed_by not in repo.user_roles(session, [proposed_by]):
        raise ApprovalError(f"{proposed_by} is not an active user and may not propose")
    ded = session.get(Deduction, deduction_id)
    if ded is None:
        raise ApprovalError(f"no deduction {deduction_id}")
    amount = ded.amount
    if kind == "accept":
        accept = amount
    elif kind == "dispute":
        accept = ZERO
    else:
        assert accept_amount is not None
        if not ZERO < accept_amount < amount:
            raise ApprovalError(f"a split accepts part of {amount}: give 0 < amount < {amount}")
        accept = accept_amount
    verdict = session.execute(
        select(Verdict.category).where(Verdict.deduction_id == deduction_id)
    ).scalar_one_or_none()
    category = verdict or str(getattr(ded.category, "value", ded.category) or "other")
    try:
        roles = cfg.chain_for(category, amount)
    except ValueError as exc:
        raise ApprovalError(f"{exc}: the approval_chain in the rules file needs a rule") from None
    pending = session.execute(
        select(Decision.id).where(
            Decision.deduction_id == deduction_id, Decision.status == "pending"
        )
    ).scalar_one_or_none()
    if pending is not None:
        raise ApprovalError(f"deduction {deduction_id} already has a pending decision {pending}")
    try:
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
    except IntegrityError:  # the partial unique index: someone proposed at the same time
        raise ApprovalError(f"deduction {deduction_id} already has a pending decision") from None
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
    if actor not in roles:  # unknown or deactivated: not even as someone's delegate
        raise ApprovalError(f"{actor} is not an active user and may not approve")
    if ROLE_RANK.get(roles[actor], 0) >= ROLE_RANK[role]:
        return None
    delegators = repo.delegators_of(session, actor, at)
    theirs = repo.user_roles(session, delegators)
    for who in sorted(delegators):
        if ROLE_RANK.get(theirs.get(who, ""), 0) >= ROLE_RANK[role]:
            return who
    raise ApprovalError(f"{actor} may not approve a {role} step (and stands in for no {role})")


def stands_in_for(session: Session, actor: str, at: datetime | None = None) -> list[str]:
    """The active people ``actor`` stands in for now (delegations in force), in
    name order; empty when none. A delegate approves in their place whatever
    ``actor``'s own role or web access (the step's role is checked when they act)."""
    delegators = repo.delegators_of(session, actor, at or utcnow())
    active = repo.user_roles(session, delegators)
    return sorted(who for who in delegators if who in active)


def _may_act(
    session: Session,
    decision: Decision,
    steps: list[DecisionStep],
    step: DecisionStep,
    actor: str,
    at: datetime,
) -> str | None:
    """The delegator ``actor`` would act for (None: for themself); raises when
    ``actor`` may not decide ``step``."""
    on_behalf = _authority(session, actor, step.role, at)
    if decision.proposed_by in (actor, on_behalf):
        raise ApprovalError("segregation of duties: no one approves their own proposal")
    acted = {s.actor for s in steps if s.status != "pending"} | {
        s.on_behalf_of for s in steps if s.on_behalf_of
    }
    if actor in acted or (on_behalf and on_behalf in acted):
        raise ApprovalError("segregation of duties: one person approves one step of a decision")
    return on_behalf


def limit_refusal(session: Session, decision: Decision, actor: str) -> str | None:
    """Why ``actor`` may not approve ``decision`` for its amount (None: they may).
    The amount is the whole claim the decision settles (accepted plus disputed)."""
    user = repo.get_user(session, actor)
    if user is None or user.approval_limit is None:
        return None
    amount = decision.accept_amount + decision.dispute_amount
    if amount > user.approval_limit:
        return (
            f"{amount} is above {actor}'s approval limit of {user.approval_limit}: "
            "it waits for an approver whose limit reaches it"
        )
    return None


def act(
    session: Session,
    decision_id: int,
    actor: str,
    *,
    approve: bool,
    note: str = "",
    at: datetime | None = None,
    today: date | None = None,
    override_window: bool = False,
) -> Decision:
    """Approve or reject the decision's next pending step.

    Approving a dispute (or split) whose portal window has closed is refused
    with the reason, unless ``override_window`` (with a note saying why): the
    override is recorded on the decision and in the audit log, and filing
    honours it."""
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
    on_behalf = _may_act(session, decision, steps, step, actor, now)
    if approve and (over := limit_refusal(session, decision, actor)):
        raise ApprovalError(over)
    if approve and decision.kind in ("dispute", "split"):
        closes = session.execute(
            select(Verdict.window_closes).where(Verdict.deduction_id == decision.deduction_id)
        ).scalar_one_or_none()
        refusal = window_refusal(closes, today or now.date())
        if refusal and not override_window:
            raise ApprovalError(
                f"{refusal}: approve with an explicit window override (and a note "
                "saying why) to dispute it anyway"
            )
        if refusal and not note.strip():
            raise ApprovalError("overriding a closed dispute window needs a note saying why")
        if refusal:
            decision.window_override_by = actor[:128]
            audit.append(
                session,
                actor,
                "window_override",
                _entity(decision.deduction_id),
                None,
                {"decision": decision_id, "window": refusal, "note": note[:500]},
            )
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
    """``delegate_to`` may approve in ``delegator``'s place from ``starts_at`` to
    ``ends_at``; both must be active users, and the delegation must end in the
    future (checked here, for every face)."""
    if delegator == delegate_to:
        raise ApprovalError("a delegation needs two people")
    if ends_at <= utcnow():
        raise ApprovalError("the delegation ends in the past: it would never apply")
    if ends_at <= starts_at:
        raise ApprovalError("a delegation ends after it starts")
    active = repo.user_roles(session, [delegator, delegate_to])
    for who in (delegator, delegate_to):
        if who not in active:
            raise ApprovalError(f"{who} is not an active user")
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
    return [
        Reminder(w.decision.id, w.decision.deduction_id, w.step.level, w.step.role, w.since)
        for w in _waiting(session)
        if w.since <= limit
    ]


def escalation(
    role: str, days_left: int | None, cfg: MatchingConfig
) -> tuple[timedelta, tuple[str, ...]]:
    """How often a step waiting on ``role`` is reminded, and which roles above
    hear of it too, given the days left in the claim's dispute window: the
    configured interval and nobody else while the deadline is far (or unknown,
    or passed: a late approval is refused anyway); daily and the next role up
    within ``escalate_within_days``; every four hours and every role above
    within ``urgent_within_days``. Money is lost at the deadline, so the
    reminders grow louder as it nears."""
    normal = timedelta(hours=cfg.reminder_after_hours)
    if days_left is None or days_left < 0 or days_left > cfg.escalate_within_days:
        return normal, ()
    rank = ROLE_RANK.get(role, 0)
    above = sorted((r for r in ROLE_RANK if ROLE_RANK[r] > rank), key=lambda r: ROLE_RANK[r])
    if days_left <= cfg.urgent_within_days:
        return min(normal, timedelta(hours=4)), tuple(above)
    return min(normal, timedelta(hours=24)), tuple(above[:1])


def _days_left(session: Session, waiting: list[_Waiting], today: date) -> dict[int, int]:
    ids = [w.decision.deduction_id for w in waiting]
    rows = session.execute(
        select(Verdict.deduction_id, Verdict.window_closes).where(
            Verdict.deduction_id.in_(ids), Verdict.window_closes.is_not(None)
        )
    )
    return {d: (closes - today).days for d, closes in rows if closes is not None}


def send_reminders(
    session: Session, now: datetime | None = None, config: MatchingConfig | None = None
) -> list[Reminder]:
    """Send the due reminders: each step waiting longer than its interval
    (``reminder_after_hours``, shorter as the claim's dispute window nears: see
    :func:`escalation`) is reminded, then again only once that much time has
    passed since its last reminder. Sending is a structlog ``approval.reminder``
    event (deduction and decision ids, step level, role, hours waited; days left
    and the roles escalated to when escalated: no free text) and an audit
    entry ("remind"); ``reminded_at`` is set by compare-and-set, so two senders
    (the scheduler and a cron ``fleet approvals remind``) do not both send one.
    A second call at the same ``now`` sends nothing."""
    cfg = config or load_config()
    now = now or utcnow()
    waiting = _waiting(session)
    days = _days_left(session, waiting, now.date())
    sent: list[Reminder] = []
    for w in waiting:
        left = days.get(w.decision.deduction_id)
        interval, escalated = escalation(w.step.role, left, cfg)
        limit = now - interval
        if w.since > limit:
            continue
        previous = w.step.reminded_at
        if not repo.mark_reminded(session, w.step.id, now, limit):
            continue  # reminded less than the interval ago, by us or another sender
        hours = int((now - w.since).total_seconds() // 3600)
        louder = {"days_left": left, "escalated_to": list(escalated)} if escalated else {}
        audit.append(
            session,
            REMINDER_ACTOR,
            "remind",
            _entity(w.decision.deduction_id),
            None,
            {
                "decision": w.decision.id,
                "step": w.step.level,
                "role": w.step.role,
                "waiting_since": w.since.isoformat(),
                "waiting_hours": hours,
                "previous_reminder": previous.isoformat() if previous else None,
                **louder,
            },
        )
        log.info(  # "step", not "level": the log chain owns "level" (info, warning...)
            "approval.reminder",
            deduction=w.decision.deduction_id,
            decision=w.decision.id,
            step=w.step.level,
            role=w.step.role,
            waiting_hours=hours,
            **louder,
        )
        sent.append(
            Reminder(
                w.decision.id,
                w.decision.deduction_id,
                w.step.level,
                w.step.role,
                w.since,
                left,
                escalated,
            )
        )
    return sent


def pending(
    session: Session, actor: str | None = None, at: datetime | None = None
) -> list[PendingApproval]:
    """Every pending decision with the step it waits for; with ``actor``, whether
    they may decide that step now (``can_act``) and for whom."""
    now = at or utcnow()
    out: list[PendingApproval] = []
    for w in _waiting(session):
        can_act: bool | None = None
        on_behalf: str | None = None
        over: str | None = None
        if actor is not None:
            try:
                on_behalf = _may_act(session, w.decision, w.steps, w.step, actor, now)
                can_act = True
                over = limit_refusal(session, w.decision, actor)
            except ApprovalError:
                can_act = False
        d = w.decision
        out.append(
            PendingApproval(
                decision_id=d.id,
                deduction_id=d.deduction_id,
                portal=w.deduction.portal,
                external_id=w.deduction.external_id,
                currency=w.deduction.currency,
                claim_amount=w.deduction.amount,
                kind=d.kind,
                accept_amount=d.accept_amount,
                dispute_amount=d.dispute_amount,
                credit_kind=d.credit_kind,
                proposed_by=d.proposed_by,
                proposed_at=d.created_at,
                level=w.step.level,
                levels=len(w.steps),
                role=w.step.role,
                waiting_since=w.since,
                can_act=can_act,
                on_behalf_of=on_behalf,
                over_limit=over,
            )
        )
    return out


def add_user(
    session: Session, username: str, role: str, actor: str, display_name: str = ""
) -> bool:
    """Create a user or change their role (and name); active afterwards. True
    when the user is new. Audited: a role is what the approval chain trusts."""
    if not re.fullmatch(USERNAME, username):
        raise ApprovalError(
            "a username is letters, digits, '_', '.', '-' (up to 128, so @mentions find it)"
        )
    if role not in ROLE_RANK:
        raise ApprovalError(f"role must be one of {', '.join(ROLE_RANK)}")
    display_name = display_name.strip()[:200]
    before = repo.get_user(session, username)
    old = (
        None
        if before is None
        else {"role": before.role, "display_name": before.display_name, "active": before.active}
    )
    repo.ensure_user(session, username, role, display_name)
    after = repo.get_user(session, username)
    assert after is not None
    new = {"role": after.role, "display_name": after.display_name, "active": after.active}
    if old != new:
        audit.append(session, actor, "user", f"user:{username}", old, new)
    return before is None


def set_access(
    session: Session,
    username: str,
    actor: str,
    *,
    access: str | None = None,
    approval_limit: Decimal | None = None,
    clear_limit: bool = False,
) -> None:
    """Change what ``username`` may do in the web app and/or their approval
    limit (``clear_limit``: no limit). Audited."""
    user = repo.get_user(session, username)
    if user is None:
        raise ApprovalError(f"no user {username}")
    if access is not None and access not in ACCESS_ROLES:
        raise ApprovalError(f"access must be one of {', '.join(ACCESS_ROLES)}")
    if approval_limit is not None and (not approval_limit.is_finite() or approval_limit < 0):
        raise ApprovalError("an approval limit is an amount of zero or more")
    before = {"access": user.access, "approval_limit": _str(user.approval_limit)}
    if access is not None:
        user.access = access
    if clear_limit:
        user.approval_limit = None
    elif approval_limit is not None:
        user.approval_limit = approval_limit.quantize(Decimal("0.01"))
    after = {"access": user.access, "approval_limit": _str(user.approval_limit)}
    session.flush()
    if before != after:
        audit.append(session, actor, "user_access", f"user:{username}", before, after)


def _str(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def deactivate_user(session: Session, username: str, actor: str) -> None:
    """The user can no longer approve (their history stays). Audited."""
    user = repo.get_user(session, username)
    if user is None:
        raise ApprovalError(f"no user {username}")
    if not user.active:
        return
    repo.set_user_active(session, username, False)
    audit.append(
        session,
        actor,
        "user",
        f"user:{username}",
        {"role": user.role, "active": True},
        {"role": user.role, "active": False},
    )


__all__ = [
    "ACCESS_ROLES",
    "CREDIT_KINDS",
    "KINDS",
    "REMINDER_ACTOR",
    "ApprovalError",
    "PendingApproval",
    "Reminder",
    "act",
    "add_user",
    "comment",
    "deactivate_user",
    "delegate",
    "escalation",
    "limit_refusal",
    "pending",
    "propose",
    "reminders",
    "send_reminders",
    "set_access",
    "stands_in_for",
    "window_refusal",
]
