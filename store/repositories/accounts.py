"""Portals and accounts (logins). No secret ever passes through here: the
keyring entry is found from (portal, username) by credentials/.

Which accounts exist is declared in fleet.toml's ``[[accounts]]`` tables; the
store follows the file through :func:`reconcile_accounts`. An account's state
is its ``enabled`` flag and ``disabled_reason``; two reasons belong to the file
and reconcile rewrites them, every other reason (a person's, the runtime's
after ``BadCredentials``) is kept until a person enables the account again:

* ``removed``: :data:`REMOVED_REASON`, optionally followed by the reason it was
  disabled for before it left the file (so re-adding it does not re-enable it);
* ``enabled = false`` in the file: :data:`FILE_DISABLED_REASON`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from records.schemas import PortalKind
from store.db import rows_changed
from store.models import Account, BotRun, Portal, table_of, utcnow
from store.repositories import audit, runs
from store.repositories._common import ensure_account, ensure_portal, insert_for

A = table_of(Account)


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


def all_accounts(session: Session, portal: str | None = None) -> list[Account]:
    """Every account the store knows, removed ones included, by portal and username."""
    stmt = select(Account).order_by(Account.portal, Account.username)
    if portal:
        stmt = stmt.where(Account.portal == portal)
    return list(session.execute(stmt).scalars())


# --------------------------------------------------------------------------- state

REMOVED_REASON = "not in fleet.toml"
"""The disabled reason of an account that left fleet.toml (its rows and history stay)."""
FILE_DISABLED_REASON = "enabled = false in fleet.toml"
"""The disabled reason of an account the file declares with ``enabled = false``."""
_WAS = "; was disabled: "
MAX_REASON = 500

AccountState = Literal["enabled", "disabled", "removed"]


def state_of(account: Account) -> AccountState:
    """enabled, disabled (by a person, the portal or the file) or removed from the file."""
    if account.enabled:
        return "enabled"
    if is_removed_reason(account.disabled_reason):
        return "removed"
    return "disabled"


def is_removed_reason(reason: str | None) -> bool:
    return reason is not None and (
        reason == REMOVED_REASON or reason.startswith(REMOVED_REASON + _WAS)
    )


def is_reserved_reason(reason: str) -> bool:
    """A reason only reconcile may write (a person's reason must not look like one)."""
    return is_removed_reason(reason) or reason == FILE_DISABLED_REASON


def prior_reason(reason: str | None) -> str | None:
    """What a removed account was disabled for before it left the file (None: nothing)."""
    if reason is None or not reason.startswith(REMOVED_REASON + _WAS):
        return None
    return reason[len(REMOVED_REASON + _WAS) :] or None


# --------------------------------------------------------------------------- reconcile


class DeclaredAccount(Protocol):
    """An account as fleet.toml declares it (``scheduler.config.AccountConfig`` is one)."""

    @property
    def portal(self) -> str: ...

    @property
    def username(self) -> str: ...

    @property
    def enabled(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Declared:
    """A plain :class:`DeclaredAccount`, for callers without a parsed fleet.toml."""

    portal: str
    username: str
    enabled: bool = True


Key = tuple[str, str]


@dataclass
class Reconciled:
    """What :func:`reconcile_accounts` changed, by (portal, username)."""

    added: list[Key] = field(default_factory=list)
    revived: list[Key] = field(default_factory=list)
    removed: list[Key] = field(default_factory=list)
    enabled: list[Key] = field(default_factory=list)
    """Enabled because the file no longer says ``enabled = false``."""
    disabled: list[Key] = field(default_factory=list)
    """Disabled because the file says ``enabled = false``."""
    kept_disabled: dict[Key, str] = field(default_factory=dict)
    """Declared, but disabled by a person or the portal: stays so, with this reason."""

    @property
    def changed(self) -> bool:
        return bool(self.added or self.revived or self.removed or self.enabled or self.disabled)

    def counts(self) -> dict[str, int]:
        return {
            "added": len(self.added),
            "revived": len(self.revived),
            "removed": len(self.removed),
            "enabled": len(self.enabled),
            "disabled": len(self.disabled),
            "kept_disabled": len(self.kept_disabled),
        }


def reconcile_accounts(
    session: Session,
    declared: Iterable[DeclaredAccount],
    *,
    portal_kinds: Mapping[str, PortalKind | str] | None = None,
    actor: str = "fleet.toml",
) -> Reconciled:
    """Make the store's accounts follow the declaration (fleet.toml's ``[[accounts]]``).

    * a declared account the store lacks is created (enabled unless the file says
      ``enabled = false``);
    * an account the declaration lacks is marked removed: disabled with
      :data:`REMOVED_REASON`; its deductions, runs and history stay;
    * a removed account declared again is revived, to the state it had before
      it left: enabled, or still disabled with a person's or the portal's reason;
    * an account disabled by a person or by ``BadCredentials`` stays disabled:
      reconcile never re-enables it (``fleet accounts enable`` does);
    * ``portal_kinds`` (retailer/carrier, from the adapters) is written to the
      portals it names.

    Idempotent, and safe to run from several processes at once: every change
    is a compare-and-set on the state it was computed from, and only the process
    whose write took effect appends the audit entry (actor ``actor``).
    """
    out = Reconciled()
    wanted: dict[Key, bool] = {}
    for d in declared:
        wanted[(d.portal, d.username)] = bool(d.enabled)
    for name, kind in (portal_kinds or {}).items():
        ensure_portal(session, name)
        session.execute(
            update(Portal)
            .where(Portal.name == name, Portal.kind.is_distinct_from(PortalKind(kind)))
            .values(kind=PortalKind(kind))
        )
    stored = {(a.portal, a.username): a for a in all_accounts(session)}
    for key, enabled in wanted.items():
        acct = stored.get(key)
        if acct is None:
            if _insert(session, key, enabled, actor):
                out.added.append(key)
            continue
        removed = is_removed_reason(acct.disabled_reason)
        owned = prior_reason(acct.disabled_reason) if removed else acct.disabled_reason
        if acct.enabled:
            owned = None
        if owned is None or owned == FILE_DISABLED_REASON:  # the file decides
            target = (enabled, None if enabled else FILE_DISABLED_REASON)
        else:  # a person or the portal disabled it: only a person enables it again
            target = (False, owned)
            out.kept_disabled[key] = owned
        if target == (acct.enabled, acct.disabled_reason):
            continue
        action = "revived" if removed else ("enabled" if target[0] else "disabled")
        if _compare_and_set(session, acct, target, actor, f"account.{action}"):
            getattr(out, action).append(key)
    for key, acct in stored.items():
        if key in wanted or is_removed_reason(acct.disabled_reason):
            continue
        if _compare_and_set(session, acct, _removed_state(acct), actor, "account.removed"):
            out.removed.append(key)
    return out


def mark_removed(session: Session, portal: str, username: str, *, actor: str) -> bool:
    """Mark one account removed (as reconcile would once it left the file). True if
    it changed; False if it was already removed or is unknown. Idempotent."""
    acct = get(session, portal, username)
    if acct is None or is_removed_reason(acct.disabled_reason):
        return False
    return _compare_and_set(session, acct, _removed_state(acct), actor, "account.removed")


def change_state(
    session: Session, portal: str, username: str, enabled: bool, reason: str | None, *, actor: str
) -> bool:
    """A person enables or disables an account: audited, with a health event.

    Returns False when the account already was in that state (nothing written).
    ``reason`` (disabling) is shown to analysts and must not hold a secret.
    """
    acct = get(session, portal, username)
    if acct is None:
        raise LookupError(f"no account {username!r} on {portal!r}")
    target = (enabled, None if enabled else (reason or "disabled")[:MAX_REASON])
    if target == (acct.enabled, acct.disabled_reason):
        return False
    action = "account.enabled" if enabled else "account.disabled"
    if not _compare_and_set(session, acct, target, actor, action):
        raise RuntimeError("the account changed at the same time; run the command again")
    runs.health_event(
        session,
        "account_enabled" if enabled else "account_disabled",
        portal=portal,
        account=username,
        severity="info" if enabled else "warning",
        detail={"by": actor, **({"reason": target[1]} if target[1] else {})},
    )
    return True


def _removed_state(acct: Account) -> tuple[bool, str]:
    kept = None if acct.enabled else acct.disabled_reason
    if kept is None or kept == FILE_DISABLED_REASON:
        return (False, REMOVED_REASON)
    return (False, (REMOVED_REASON + _WAS + kept)[:MAX_REASON])


def _insert(session: Session, key: Key, enabled: bool, actor: str) -> bool:
    portal, username = key
    ensure_portal(session, portal)
    reason = None if enabled else FILE_DISABLED_REASON
    new_id = session.execute(
        insert_for(session, A)
        .values(
            portal=portal,
            username=username,
            display_name=username,
            enabled=enabled,
            disabled_reason=reason,
        )
        .on_conflict_do_nothing(index_elements=["portal", "username"])
        .returning(A.c.id)
    ).scalar_one_or_none()
    if new_id is None:  # another process added it first
        return False
    audit.append(
        session,
        actor,
        "account.added",
        f"account:{new_id}",
        None,
        {"portal": portal, "username": username, "enabled": enabled, "reason": reason},
    )
    return True


def _compare_and_set(
    session: Session, acct: Account, target: tuple[bool, str | None], actor: str, action: str
) -> bool:
    """Write ``target`` only if the row still has the state ``acct`` was read with."""
    enabled, reason = target
    result = session.execute(
        update(A)
        .where(
            A.c.id == acct.id,
            A.c.enabled == acct.enabled,
            A.c.disabled_reason.is_not_distinct_from(acct.disabled_reason),
        )
        .values(enabled=enabled, disabled_reason=reason, updated_at=utcnow())
    )
    if rows_changed(result) != 1:
        return False
    audit.append(
        session,
        actor,
        action,
        f"account:{acct.id}",
        {"enabled": acct.enabled, "reason": acct.disabled_reason},
        {"portal": acct.portal, "username": acct.username, "enabled": enabled, "reason": reason},
    )
    session.expire(acct)
    return True


# --------------------------------------------------------------------------- runs


@dataclass(frozen=True, slots=True)
class LastRun:
    """An account's most recent bot run, as ``fleet accounts list`` shows it."""

    task: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    error_class: str | None


def last_runs(session: Session) -> dict[Key, LastRun]:
    """Each account's most recent bot run (any task), from ``bot_runs``."""
    latest = (
        select(BotRun.portal, BotRun.account, func.max(BotRun.id).label("id"))
        .where(BotRun.account.is_not(None))
        .group_by(BotRun.portal, BotRun.account)
        .subquery()
    )
    rows = session.execute(
        select(
            BotRun.portal,
            BotRun.account,
            BotRun.task,
            BotRun.status,
            BotRun.started_at,
            BotRun.finished_at,
            BotRun.error_class,
        ).join(latest, BotRun.id == latest.c.id)
    ).all()
    return {
        (r.portal, r.account): LastRun(
            r.task, str(r.status.value), r.started_at, r.finished_at, r.error_class
        )
        for r in rows
    }


__all__ = [
    "FILE_DISABLED_REASON",
    "REMOVED_REASON",
    "AccountState",
    "Declared",
    "DeclaredAccount",
    "LastRun",
    "Reconciled",
    "all_accounts",
    "change_state",
    "enabled_accounts",
    "get",
    "is_removed_reason",
    "is_reserved_reason",
    "last_runs",
    "mark_removed",
    "prior_reason",
    "reconcile_accounts",
    "set_enabled",
    "state_of",
    "upsert_account",
    "upsert_portal",
]
