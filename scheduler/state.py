"""The scheduler's own state in the fleet database: paused accounts.

A pause is a row (``store.models.PausedAccount``), read by each scheduled run
when it fires, so ``fleet scheduler pause`` (or the web app) takes effect on
the next run without a restart and survives one. ``account = "*"`` pauses
every account of a portal. Pauses stop scheduled runs only: an analyst's
on-demand request still runs. The table belongs to the store's schema
(migration 0004); callers pass an engine on a migrated database.
"""

from __future__ import annotations

from sqlalchemy import Engine, delete, or_, select
from sqlalchemy.orm import Session, sessionmaker

from store.db import rows_changed, transaction
from store.models import PausedAccount, utcnow

ALL_ACCOUNTS = "*"
P = PausedAccount


def pause(engine: Engine, portal: str, account: str = ALL_ACCOUNTS, *, by: str = "") -> bool:
    """Pause scheduled runs of an account (or a portal). True if it was not paused."""
    with transaction(sessionmaker(engine)) as s:
        if s.get(P, (portal, account)) is not None:
            return False
        s.add(P(portal=portal, account=account, paused_by=by[:128], paused_at=utcnow()))
        return True


def resume(engine: Engine, portal: str, account: str = ALL_ACCOUNTS) -> bool:
    """Resume; True if it was paused."""
    with transaction(sessionmaker(engine)) as s:
        res = s.execute(delete(P).where(P.portal == portal, P.account == account))
        return bool(rows_changed(res))


def is_paused(engine: Engine, portal: str, account: str) -> bool:
    with Session(engine) as s:
        hit = s.execute(
            select(P.portal)
            .where(P.portal == portal, or_(P.account == account, P.account == ALL_ACCOUNTS))
            .limit(1)
        ).first()
        return hit is not None


def paused(engine: Engine) -> set[tuple[str, str]]:
    with Session(engine) as s:
        return {(r.portal, r.account) for r in s.execute(select(P.portal, P.account))}
