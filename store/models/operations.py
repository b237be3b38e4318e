"""What the robots did: runs, health events, on-demand requests, quarantined
records, watermarks, the checks they handed to a person, and how far each
notification channel has told people."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from records.schemas import (
    RetrievalStatus,
    RunStatus,
)
from store.models.base import (
    Base,
    BigId,
    Json,
    UTCDateTime,
    created_column,
    enum_type,
    id_column,
    portal_fk,
)


class BotRun(Base):
    """One bot job: who ran what, when, and how it ended (error class, never text
    that could hold a secret). A running job beats ``heartbeat_at`` so that a run
    whose process died can be told from a slow one (scheduler/housekeeping.py)."""

    __tablename__ = "bot_runs"
    __table_args__ = (
        Index("ix_bot_runs_portal_started", "portal", "started_at"),
        Index(
            "ix_bot_runs_running",
            "heartbeat_at",
            sqlite_where=text("status = 'running'"),
            postgresql_where=text("status = 'running'"),
        ),
    )

    id: Mapped[int] = id_column()
    run_id: Mapped[str] = mapped_column(String(64), unique=True)
    portal: Mapped[str] = portal_fk()
    account: Mapped[str | None] = mapped_column(String(320))
    task: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = created_column()
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[RunStatus] = mapped_column(
        enum_type(RunStatus, "run_status"), default=RunStatus.running
    )
    counts: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    error_class: Mapped[str | None] = mapped_column(String(128))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class HealthEvent(Base):
    __tablename__ = "health_events"
    __table_args__ = (
        Index("ix_health_events_portal_at", "portal", "at"),
        Index("ix_health_events_kind_at", "kind", "at"),  # migration 0014
    )

    id: Mapped[int] = id_column()
    at: Mapped[datetime] = created_column()
    portal: Mapped[str | None] = mapped_column(String(64))
    account: Mapped[str | None] = mapped_column(String(320))
    run_id: Mapped[str | None] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16), default="info")
    error_class: Mapped[str | None] = mapped_column(String(128))
    detail: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)


class RetrievalRequest(Base):
    """An analyst's (or a rule's) request to fetch something now: at most one
    active (queued or running) request per target. The portal is part of the
    target: the same claim or PRO number on two portals is two targets
    (``""`` when no portal is known; such a request cannot run)."""

    __tablename__ = "retrieval_requests"
    __table_args__ = (
        Index(
            "uq_retrieval_requests_active",
            "target_kind",
            "target_value",
            "portal",
            unique=True,
            sqlite_where=text("status IN ('queued', 'running')"),
            postgresql_where=text("status IN ('queued', 'running')"),
        ),
        Index("ix_retrieval_requests_queue", "status", "priority", "created_at"),
    )

    id: Mapped[int] = id_column()
    requester: Mapped[str] = mapped_column(String(128))
    target_kind: Mapped[str] = mapped_column(String(32))  # deduction, pod, bol, document
    target_value: Mapped[str] = mapped_column(String(500))
    portal: Mapped[str] = mapped_column(String(64), default="", server_default="")
    priority: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[RetrievalStatus] = mapped_column(
        enum_type(RetrievalStatus, "retrieval_status"), default=RetrievalStatus.queued
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error_class: Mapped[str | None] = mapped_column(String(128))
    run_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_column()
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = created_column()


class Quarantine(Base):
    """A record that failed validation, kept with its raw payload for a human."""

    __tablename__ = "quarantine"
    __table_args__ = (Index("ix_quarantine_portal_at", "portal", "at"),)

    id: Mapped[int] = id_column()
    portal: Mapped[str] = mapped_column(String(64))
    record_kind: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str | None] = mapped_column(String(500))
    raw_payload: Mapped[Any] = mapped_column(Json)
    reason: Mapped[str] = mapped_column(Text)
    run_id: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = created_column()


class Watermark(Base):
    """How far a task has read on a portal account (a date or an opaque cursor)."""

    __tablename__ = "watermarks"
    __table_args__ = (UniqueConstraint("portal", "account", "task"),)

    id: Mapped[int] = id_column()
    portal: Mapped[str] = mapped_column(String(64))
    account: Mapped[str] = mapped_column(String(320), default="")  # "" = portal-wide
    task: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(String(500))
    updated_at: Mapped[datetime] = created_column()


class HumanChallenge(Base):
    """A check a robot cannot pass by itself (a CAPTCHA), handed to a person
    while the job waits: the challenge as the portal showed it (an image,
    bounded), what to do, until when the robot waits, and the person's
    answer. At most one open challenge per portal and ref. The answer is
    erased once the robot took it or the wait ended: a CAPTCHA's code is
    worthless after that, and nothing is kept that need not be."""

    __tablename__ = "human_challenges"
    __table_args__ = (
        Index(
            "uq_human_challenges_open",
            "portal",
            "ref",
            unique=True,
            sqlite_where=text("status IN ('open', 'answered')"),
            postgresql_where=text("status IN ('open', 'answered')"),
        ),
        Index("ix_human_challenges_status", "status", "expires_at"),
    )

    id: Mapped[int] = id_column()
    portal: Mapped[str] = mapped_column(String(64))
    account: Mapped[str] = mapped_column(String(320))
    kind: Mapped[str] = mapped_column(String(32))  # captcha
    ref: Mapped[str] = mapped_column(String(500))  # what the robot was after (a PRO number)
    prompt: Mapped[str] = mapped_column(String(500))
    image: Mapped[bytes | None] = mapped_column(LargeBinary)
    """The challenge as shown (PNG, at most MAX_IMAGE_BYTES), or None."""
    status: Mapped[str] = mapped_column(String(16), default="open")
    """open -> answered -> passed | failed; open -> expired; or cleared by a person."""
    answer: Mapped[str | None] = mapped_column(String(64))
    answered_by: Mapped[str | None] = mapped_column(String(128))
    run_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_column()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class NotificationCursor(Base):
    """How far one notification channel (``webhook``, ``email``) has delivered the
    health events, and who is delivering now (scheduler/notify.py).

    ``last_event_id`` only moves forward, and only by the holder of the lease
    (``lease_token`` until ``lease_until``): two schedulers never send the same
    events, and a holder that died lets go when its lease ends. ``last_error``
    is an error class or an HTTP/SMTP status, never a URL or a reply's text
    (either could carry a token)."""

    __tablename__ = "notification_cursors"

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(BigId, default=0)
    lease_token: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(128))
    updated_at: Mapped[datetime] = created_column()
