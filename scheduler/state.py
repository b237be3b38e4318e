"""The scheduler's own state in the fleet database: paused accounts.

A pause is a row, read by each scheduled run when it fires, so ``fleet
scheduler pause`` (or the web app) takes effect on the next run without a
restart and survives one. ``account = "*"`` pauses every account of a portal.
Pauses stop scheduled runs only: an analyst's on-demand request still runs.

The table is created on first use (like APScheduler's own ``apscheduler_jobs``),
so it needs no migration of the store's schema.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    delete,
    or_,
    select,
)

ALL_ACCOUNTS = "*"

metadata = MetaData()
paused_accounts = Table(
    "scheduler_paused_accounts",
    metadata,
    Column("portal", String(64), nullable=False),
    Column("account", String(320), nullable=False),
    Column("paused_by", String(128), nullable=False, default=""),
    Column("paused_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("portal", "account"),
)


def ensure_tables(engine: Engine) -> None:
    metadata.create_all(engine, checkfirst=True)


def pause(engine: Engine, portal: str, account: str = ALL_ACCOUNTS, *, by: str = "") -> bool:
    """Pause scheduled runs of an account (or a portal). True if it was not paused."""
    ensure_tables(engine)
    with engine.begin() as conn:
        exists = conn.execute(
            select(paused_accounts.c.portal).where(
                paused_accounts.c.portal == portal, paused_accounts.c.account == account
            )
        ).first()
        if exists:
            return False
        conn.execute(
            paused_accounts.insert().values(
                portal=portal, account=account, paused_by=by[:128], paused_at=datetime.now(UTC)
            )
        )
        return True


def resume(engine: Engine, portal: str, account: str = ALL_ACCOUNTS) -> bool:
    """Resume; True if it was paused."""
    ensure_tables(engine)
    with engine.begin() as conn:
        res = conn.execute(
            delete(paused_accounts).where(
                paused_accounts.c.portal == portal, paused_accounts.c.account == account
            )
        )
        return bool(res.rowcount)


def is_paused(engine: Engine, portal: str, account: str) -> bool:
    with engine.connect() as conn:
        return (
            conn.execute(
                select(paused_accounts.c.portal).where(
                    paused_accounts.c.portal == portal,
                    or_(
                        paused_accounts.c.account == account,
                        paused_accounts.c.account == ALL_ACCOUNTS,
                    ),
                )
            ).first()
            is not None
        )


def paused(engine: Engine) -> set[tuple[str, str]]:
    ensure_tables(engine)
    with engine.connect() as conn:
        return {(r.portal, r.account) for r in conn.execute(select(paused_accounts))}
