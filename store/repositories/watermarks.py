"""Watermarks: how far a task has read on a portal account.

``put`` is an atomic upsert (``ON CONFLICT DO UPDATE``): idempotent and safe to
retry. Write it in the same transaction as the records it covers, so a crash
never leaves a watermark ahead of the data.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import Watermark, table_of, utcnow
from store.repositories._common import insert_for

W = table_of(Watermark)


def get(session: Session, portal: str, task: str, account: str = "") -> str | None:
    return session.execute(
        select(W.c.value).where(W.c.portal == portal, W.c.task == task, W.c.account == account)
    ).scalar_one_or_none()


def put(session: Session, portal: str, task: str, value: str, account: str = "") -> None:
    now = utcnow()
    stmt = insert_for(session, W).values(
        portal=portal, account=account, task=task, value=value, updated_at=now
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["portal", "account", "task"],
            set_={"value": value, "updated_at": now},
        )
    )


__all__ = ["get", "put"]
