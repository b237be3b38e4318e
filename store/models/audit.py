"""The append-only, hash-chained audit log, and the anchor of its head."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import (
    Base,
    BigId,
    Json,
    created_column,
)


class AuditLog(Base):
    """Append-only, hash-chained record of who did what. UPDATE and DELETE are
    refused by database triggers; ``hash`` covers the row and ``prev_hash``."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = created_column()
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(200), index=True)  # "deduction:42"
    before: Mapped[dict[str, Any] | None] = mapped_column(Json)
    after: Mapped[dict[str, Any] | None] = mapped_column(Json)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """The anchor of the audit log's newest end: how many entries it holds and
    the hash of the last, in one row apart from the log. ``audit.append`` moves
    it with each entry in the same transaction; database triggers refuse a
    DELETE and any UPDATE that does not move it forward, so entries deleted
    from the log's end leave the anchor ahead of the chain and
    ``fleet audit verify`` fails. (The chain alone cannot show a cut tail.)"""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1
    count: Mapped[int] = mapped_column(BigInteger)
    head_seq: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[str] = mapped_column(String(64))
