"""One generic upsert for rows keyed by a natural key, with optional children.

Insert first (``ON CONFLICT DO NOTHING``), so concurrent writers cannot both
create the row; compare a content hash so an unchanged observation costs one
read and (optionally) one small update.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Table, and_, delete, select, update
from sqlalchemy.orm import Session

from store.repositories._common import UpsertResult, content_hash, diff, insert_for

Stored = Callable[[int], dict[str, Any]]
Children = Callable[[int], None]


def keyed_upsert(
    session: Session,
    table: Table,
    key: Mapping[str, Any],
    tracked: dict[str, Any],
    *,
    stored: Stored,
    extra: Mapping[str, Any] | None = None,
    on_create: Mapping[str, Any] | None = None,
    touch: Mapping[str, Any] | None = None,
    children: tuple[str, Table, str, Children] | None = None,
    merge: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]] | None = None,
) -> UpsertResult:
    """Create, leave, or update the row whose ``key`` columns match.

    ``tracked`` holds every value that counts as content (column values, and the
    children under ``children[0]``); ``stored(id)`` rebuilds the same dict from
    the database. ``extra`` is written on create and change, ``on_create`` on
    create only, ``touch`` on every observation. ``children`` is
    ``(field, child_table, fk_column, write(parent_id))``: on create or when that
    field changed, old child rows are deleted and ``write`` inserts the new ones.
    ``merge(old, new)`` may keep stored values a new observation must not lower.
    Idempotent, safe to retry and under concurrency; does not commit.
    """
    extra = dict(extra or {})
    touch = dict(touch or {})
    cols = {k: v for k, v in tracked.items() if k in table.c}
    hashed = "content_hash" in table.c  # without it, every observation is compared
    digest = content_hash(tracked)
    values = {**cols, **extra, **touch}
    if hashed:
        values["content_hash"] = digest
    inserted = session.execute(
        insert_for(session, table)
        .values(**key, **values, **(on_create or {}))
        .on_conflict_do_nothing(index_elements=list(key))
        .returning(table.c.id)
    ).scalar_one_or_none()
    if inserted is not None:
        if children:
            children[3](inserted)
        return UpsertResult("created", inserted)

    where = and_(*(table.c[k] == v for k, v in key.items()))
    existing = session.execute(
        select(table.c.id, table.c.content_hash if hashed else table.c.id.label("content_hash"))
        .where(where)
        .with_for_update()
    ).one()
    if hashed and existing.content_hash == digest:
        if touch:
            session.execute(update(table).where(table.c.id == existing.id).values(**touch))
        return UpsertResult("unchanged", existing.id)

    old = stored(existing.id)
    if merge is not None:
        tracked = merge(old, tracked)
        cols = {k: v for k, v in tracked.items() if k in table.c}
    changes = diff(old, tracked)
    values = {**cols, **touch}
    if hashed:
        values["content_hash"] = content_hash(tracked)
    if changes:
        values.update(extra)
    session.execute(update(table).where(table.c.id == existing.id).values(**values))
    if not changes:
        return UpsertResult("unchanged", existing.id)
    if children and any(c.field == children[0] for c in changes):
        _, child_table, fk, write = children
        session.execute(delete(child_table).where(child_table.c[fk] == existing.id))
        write(existing.id)
    return UpsertResult("changed", existing.id, tuple(changes))


def stored_columns(session: Session, table: Table, row_id: int, names: list[str]) -> dict:
    row = session.execute(select(table).where(table.c.id == row_id)).mappings().one()
    return {n: row[n] for n in names}
