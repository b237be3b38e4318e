"""Portals and accounts (logins). No secret ever passes through here: the
keyring entry is found from (portal, username) by credentials/."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from records.schemas import PortalKind
from store.models import Account, Portal, utcnow
from store.repositories._common import ensure_account, ensure_portal, insert_for

A = Account.__table__


def upsert_portal(
    session: Session, name: str, kind: PortalKind | str, display_name: str = ""
) -> None:
    """Create or update a portal's kind and display name. Idempotent."""
    ensure_portal(session, name)
    session.execute(
        update(Portal)
        .where(Portal.name == name)
        .values(kind=PortalKind(kind), display_name=display_name or name)
    )


def upsert_account(session: Session, portal: str, username: str, display_name: str = "") -> int:
    """Create the account if new, else update its display name (never its
    enabled flag). Returns its id. Idempotent."""
    ensure_portal(session, portal)
    stmt = insert_for(session, A).values(
        portal=portal, username=username, display_name=display_name or username
    )
    if display_name:
        stmt = stmt.on_conflict_do_update(
            index_elements=["portal", "username"],
            set_={"display_name": display_name, "updated_at": utcnow()},
        )
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=["portal", "username"])
    session.execute(stmt)
    return session.execute(
        select(A.c.id).where(A.c.portal == portal, A.c.username == username)
    ).scalar_one()


def set_enabled(
    session: Session, portal: str, username: str, enabled: bool, reason: str | None = None
) -> None:
    """Enable or disable an account (e.g. after ``BadCredentials``, to stop a
    lockout). ``reason`` must not contain secrets; it is shown to analysts."""
    ensure_account(session, portal, username)
    session.execute(
        update(A)
        .where(A.c.portal == portal, A.c.username == username)
        .values(
            enabled=enabled,
            disabled_reason=None if enabled else (reason or "disabled")[:500],
            updated_at=utcnow(),
        )
    )


def get(session: Session, portal: str, username: str) -> Account | None:
    return session.execute(
        select(Account).where(Account.portal == portal, Account.username == username)
    ).scalar_one_or_none()


def enabled_accounts(session: Session, portal: str | None = None) -> list[Account]:
    stmt = select(Account).where(Account.enabled.is_(True)).order_by(Account.portal, Account.id)
    if portal:
        stmt = stmt.where(Account.portal == portal)
    return list(session.execute(stmt).scalars())


__all__ = ["enabled_accounts", "get", "set_enabled", "upsert_account", "upsert_portal"]
