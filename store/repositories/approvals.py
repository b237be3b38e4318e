"""Rows of the approval workflow: users, decisions and their steps, delegations,
comments, export batches. The rules (who may approve what) live in
``matching.approvals``; these functions only write what they are told. None
commits. ``create_decision`` relies on a partial unique index: at most one
pending decision per deduction, even under concurrency.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session

from store.db import rows_changed
from store.models import (
    ApiToken,
    Decision,
    DecisionStep,
    DeductionComment,
    Delegation,
    ExportBatch,
    User,
    WebSession,
    table_of,
    utcnow,
)
from store.repositories._common import insert_for


def ensure_user(session: Session, username: str, role: str, display_name: str = "") -> int:
    """The user's id; creates the user, or updates the role (and the display name
    when one is given) and makes the user active again. Idempotent."""
    changes: dict[str, object] = {"role": role, "active": True}
    if display_name:
        changes["display_name"] = display_name
    row: int = session.execute(
        insert_for(session, table_of(User))
        .values(
            username=username,
            role=role,
            display_name=display_name or username,
            active=True,
            created_at=utcnow(),
        )
        .on_conflict_do_update(index_elements=["username"], set_=changes)
        .returning(table_of(User).c.id)
    ).scalar_one()
    return int(row)


def get_user(session: Session, username: str) -> User | None:
    """The user (active or not), read fresh from the database."""
    return session.execute(
        select(User).where(User.username == username).execution_options(populate_existing=True)
    ).scalar_one_or_none()


def list_users(session: Session, *, include_inactive: bool = False) -> list[User]:
    query = select(User).order_by(User.username).execution_options(populate_existing=True)
    if not include_inactive:
        query = query.where(User.active.is_(True))
    return list(session.execute(query).scalars())


def set_password_hash(session: Session, username: str, password_hash: str) -> None:
    """A new web password; clears the lock-out."""
    session.execute(
        update(User)
        .where(User.username == username)
        .values(password_hash=password_hash, failed_logins=0, locked_until=None)
    )


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(session: Session, username: str, name: str) -> str:
    """A new bearer token for ``username`` (returned once; its hash is stored)."""
    token = "fleet_" + secrets.token_urlsafe(32)
    session.add(ApiToken(token_hash=token_digest(token), username=username, name=name))
    session.flush()
    return token


def end_sessions(session: Session, username: str) -> None:
    """Sign ``username`` out everywhere: web sessions deleted, API tokens revoked."""
    session.execute(delete(WebSession).where(WebSession.username == username))
    session.execute(update(ApiToken).where(ApiToken.username == username).values(revoked=True))


def set_user_active(session: Session, username: str, active: bool) -> bool:
    """False when there is no such user."""
    res = session.execute(update(User).where(User.username == username).values(active=active))
    return bool(rows_changed(res))


def user_roles(session: Session, usernames: Sequence[str]) -> dict[str, str]:
    return dict(
        session.execute(
            select(User.username, User.role).where(
                User.username.in_(list(usernames)), User.active.is_(True)
            )
        ).all()
    )


def create_decision(
    session: Session,
    deduction_id: int,
    kind: str,
    accept_amount: Decimal,
    dispute_amount: Decimal,
    credit_kind: str,
    proposed_by: str,
    note: str,
    roles: Sequence[str],
) -> Decision:
    decision = Decision(
        deduction_id=deduction_id,
        kind=kind,
        accept_amount=accept_amount,
        dispute_amount=dispute_amount,
        credit_kind=credit_kind,
        status="pending",
        proposed_by=proposed_by,
        note=note,
    )
    with session.begin_nested():
        session.add(decision)
        session.flush()
    for level, role in enumerate(roles, start=1):
        session.add(DecisionStep(decision_id=decision.id, level=level, role=role, note=""))
    session.flush()
    return decision


def steps(session: Session, decision_id: int) -> list[DecisionStep]:
    return list(
        session.execute(
            select(DecisionStep)
            .where(DecisionStep.decision_id == decision_id)
            .order_by(DecisionStep.level)
        ).scalars()
    )


def decide_step(
    session: Session,
    step_id: int,
    status: str,
    actor: str,
    on_behalf_of: str | None,
    note: str,
) -> bool:
    """Compare-and-set a pending step; False when someone decided it first."""
    res = session.execute(
        update(DecisionStep)
        .where(DecisionStep.id == step_id, DecisionStep.status == "pending")
        .values(
            status=status, actor=actor, on_behalf_of=on_behalf_of, note=note, decided_at=utcnow()
        )
    )
    return bool(rows_changed(res))


def close_decision(session: Session, decision_id: int, status: str) -> None:
    session.execute(
        update(Decision)
        .where(Decision.id == decision_id, Decision.status == "pending")
        .values(status=status, decided_at=utcnow())
    )


def add_delegation(
    session: Session,
    delegator: str,
    delegate: str,
    starts_at: datetime,
    ends_at: datetime,
    created_by: str,
) -> Delegation:
    row = Delegation(
        delegator=delegator,
        delegate=delegate,
        starts_at=starts_at,
        ends_at=ends_at,
        created_by=created_by,
    )
    session.add(row)
    session.flush()
    return row


def delegators_of(session: Session, delegate: str, at: datetime) -> list[str]:
    """Whom ``delegate`` stands in for at ``at``."""
    return list(
        session.execute(
            select(Delegation.delegator).where(
                Delegation.delegate == delegate,
                Delegation.starts_at <= at,
                Delegation.ends_at > at,
            )
        ).scalars()
    )


def delegations_current(session: Session, at: datetime) -> list[Delegation]:
    """Delegations in force at ``at`` or starting later, soonest end first."""
    return list(
        session.execute(
            select(Delegation)
            .where(Delegation.ends_at > at)
            .order_by(Delegation.starts_at, Delegation.delegator, Delegation.id)
        ).scalars()
    )


def mark_reminded(session: Session, step_id: int, at: datetime, resend_before: datetime) -> bool:
    """Compare-and-set ``reminded_at`` to ``at`` on a pending step never reminded,
    or last reminded at or before ``resend_before`` (and before ``at``); False
    when it is not due, e.g. because another sender marked it first."""
    res = session.execute(
        update(DecisionStep)
        .where(
            DecisionStep.id == step_id,
            DecisionStep.status == "pending",
            or_(
                DecisionStep.reminded_at.is_(None),
                and_(DecisionStep.reminded_at <= resend_before, DecisionStep.reminded_at < at),
            ),
        )
        .values(reminded_at=at)
    )
    return bool(rows_changed(res))


def add_comment(
    session: Session, deduction_id: int, author: str, body: str, mentions: list[str]
) -> DeductionComment:
    row = DeductionComment(deduction_id=deduction_id, author=author, body=body, mentions=mentions)
    session.add(row)
    session.flush()
    return row


def claim_for_export(
    session: Session, decision_ids: Sequence[int], kind: str, since: date | None, actor: str
) -> tuple[ExportBatch, list[int]]:
    """A new batch holding those decisions not exported yet (compare-and-set on
    ``export_batch_id``): a decision lands in exactly one batch."""
    batch = ExportBatch(kind=kind, since=since, created_by=actor, count=0, total=Decimal("0.00"))
    session.add(batch)
    session.flush()
    claimed: list[int] = []
    for i in range(0, len(decision_ids), 500):
        chunk = list(decision_ids[i : i + 500])
        session.execute(
            update(Decision)
            .where(Decision.id.in_(chunk), Decision.export_batch_id.is_(None))
            .values(export_batch_id=batch.id)
        )
    claimed = list(
        session.execute(select(Decision.id).where(Decision.export_batch_id == batch.id)).scalars()
    )
    return batch, claimed


__all__ = [
    "add_comment",
    "add_delegation",
    "claim_for_export",
    "close_decision",
    "create_decision",
    "decide_step",
    "delegations_current",
    "delegators_of",
    "ensure_user",
    "get_user",
    "list_users",
    "mark_reminded",
    "set_user_active",
    "steps",
    "user_roles",
]
