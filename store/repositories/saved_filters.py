"""Each person's named worklist filters (the query string of a worklist URL).
None commits."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from store.db import rows_changed
from store.models import SavedFilter, table_of
from store.repositories._common import insert_for

MAX_PER_USER = 50


def save(session: Session, username: str, name: str, query: str) -> None:
    """Saves ``query`` under ``name`` (replacing one of that name)."""
    session.execute(
        insert_for(session, table_of(SavedFilter))
        .values(username=username, name=name, query=query)
        .on_conflict_do_update(index_elements=["username", "name"], set_={"query": query})
    )


def count(session: Session, username: str) -> int:
    return len(list_for(session, username))


def list_for(session: Session, username: str) -> list[SavedFilter]:
    return list(
        session.execute(
            select(SavedFilter).where(SavedFilter.username == username).order_by(SavedFilter.name)
        ).scalars()
    )


def remove(session: Session, username: str, filter_id: int) -> bool:
    """False when ``username`` has no such filter (another person's is not theirs)."""
    res = session.execute(
        delete(SavedFilter).where(SavedFilter.id == filter_id, SavedFilter.username == username)
    )
    return bool(rows_changed(res))


__all__ = ["MAX_PER_USER", "count", "list_for", "remove", "save"]
