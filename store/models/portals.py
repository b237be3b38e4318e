"""Portals, the accounts the fleet logs in as, and pauses."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from records.schemas import (
    PortalKind,
)
from store.models.base import (
    Base,
    created_column,
    enum_type,
    id_column,
    portal_fk,
)


class Portal(Base):
    """A retailer or carrier site. Keyed by its slug ("megamart")."""

    __tablename__ = "portals"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[PortalKind | None] = mapped_column(enum_type(PortalKind, "portal_kind"))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = created_column()


class Account(Base):
    """A login on a portal. The password and TOTP secret live in the keyring only."""

    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("portal", "username"),)

    id: Mapped[int] = id_column()
    portal: Mapped[str] = portal_fk()
    username: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = created_column()


class PausedAccount(Base):
    """A scheduler pause (``fleet scheduler pause``): read by each scheduled run
    when it fires, so it takes effect without a restart. ``account = "*"``
    pauses a whole portal. On-demand requests still run."""

    __tablename__ = "scheduler_paused_accounts"

    portal: Mapped[str] = mapped_column(String(64), primary_key=True)
    account: Mapped[str] = mapped_column(String(320), primary_key=True)
    paused_by: Mapped[str] = mapped_column(String(128), default="")
    paused_at: Mapped[datetime] = created_column()
