"""People, their decisions on deductions, the approval chain, delegations,
comments and credit exports."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import (
    Base,
    BigId,
    Json,
    Money,
    UTCDateTime,
    created_column,
    id_column,
)


class User(Base):
    """A person: ``role`` is the approval chain's rank (analyst, manager,
    director); ``access`` what the web app lets them do (analyst, approver,
    ops, admin); ``approval_limit`` the largest claim they may approve (None:
    no limit). ``password_hash`` is an argon2 hash (None: no web login);
    ``failed_logins`` and ``locked_until`` are the login lock-out."""

    __tablename__ = "users"

    id: Mapped[int] = id_column()
    username: Mapped[str] = mapped_column(String(128), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(32), default="analyst")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = created_column()
    access: Mapped[str] = mapped_column(String(16), default="analyst", server_default="analyst")
    approval_limit: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    password_hash: Mapped[str | None] = mapped_column(String(256), nullable=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class WebSession(Base):
    """A signed-in browser. ``token_hash`` is the SHA-256 of the cookie's
    random token (the token itself is never stored); idle expiry counts from
    ``last_seen_at``."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = id_column()
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    username: Mapped[str] = mapped_column(String(128), index=True)
    created_at: Mapped[datetime] = created_column()
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SavedFilter(Base):
    """A worklist filter a person named: ``query`` is the worklist URL's query
    string (the same parameters the page and the API take)."""

    __tablename__ = "saved_filters"
    __table_args__ = (UniqueConstraint("username", "name"),)

    id: Mapped[int] = id_column()
    username: Mapped[str] = mapped_column(String(128), index=True)
    name: Mapped[str] = mapped_column(String(100))
    query: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime] = created_column()


class ApiToken(Base):
    """A bearer token for scripts using /api/v1; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = id_column()
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    username: Mapped[str] = mapped_column(String(128), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = created_column()
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class Decision(Base):
    """A proposal on a deduction (accept, dispute, split) and where its approval
    chain stands. At most one pending proposal per deduction."""

    __tablename__ = "decisions"
    __table_args__ = (
        Index(
            "uq_decisions_pending",
            "deduction_id",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = id_column()
    deduction_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("deductions.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # accept | dispute | split
    accept_amount: Mapped[Decimal] = mapped_column(Money)
    dispute_amount: Mapped[Decimal] = mapped_column(Money)
    credit_kind: Mapped[str] = mapped_column(String(16), default="")  # credit_memo | write_off
    status: Mapped[str] = mapped_column(String(16), default="pending")
    proposed_by: Mapped[str] = mapped_column(String(128))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = created_column()
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    export_batch_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("export_batches.id", ondelete="RESTRICT"), index=True
    )
    window_override_by: Mapped[str | None] = mapped_column(String(128))
    """Who approved disputing although the portal's window had closed (audited)."""


class DecisionStep(Base):
    """One level of a decision's approval chain (the role it needs, who acted)."""

    __tablename__ = "decision_steps"
    __table_args__ = (UniqueConstraint("decision_id", "level"),)

    id: Mapped[int] = id_column()
    decision_id: Mapped[int] = mapped_column(BigId, ForeignKey("decisions.id", ondelete="CASCADE"))
    level: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    actor: Mapped[str | None] = mapped_column(String(128))
    on_behalf_of: Mapped[str | None] = mapped_column(String(128))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = created_column()
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Delegation(Base):
    """While ``delegator`` is away, ``delegate`` may approve in their place."""

    __tablename__ = "delegations"

    id: Mapped[int] = id_column()
    delegator: Mapped[str] = mapped_column(String(128), index=True)
    delegate: Mapped[str] = mapped_column(String(128))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = created_column()


class DeductionComment(Base):
    """An internal comment on a deduction; ``mentions`` are the @usernames in it."""

    __tablename__ = "deduction_comments"

    id: Mapped[int] = id_column()
    deduction_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("deductions.id", ondelete="CASCADE"), index=True
    )
    author: Mapped[str] = mapped_column(String(128))
    body: Mapped[str] = mapped_column(Text)
    mentions: Mapped[list[Any]] = mapped_column(Json, default=list)
    created_at: Mapped[datetime] = created_column()


class ExportBatch(Base):
    """One ``fleet export credits`` run: which decisions it carried, once."""

    __tablename__ = "export_batches"

    id: Mapped[int] = id_column()
    kind: Mapped[str] = mapped_column(String(32))
    since: Mapped[date | None] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = created_column()
    count: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[Decimal] = mapped_column(Money)
