"""Helpers shared by the repositories: dialect-specific INSERT, hashing, refs."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Literal

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from store.db import json_dumps
from store.models import Account, Portal, table_of

Outcome = Literal["created", "changed", "unchanged"]


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field that differs between the stored row and the new observation."""

    field: str
    old: str | None
    new: str | None


@dataclass(frozen=True, slots=True)
class UpsertResult:
    """What an upsert did. ``changes`` is empty unless ``outcome == "changed"``."""

    outcome: Outcome
    id: int
    changes: tuple[FieldChange, ...] = field(default_factory=tuple)

    @property
    def created(self) -> bool:
        return self.outcome == "created"

    @property
    def changed(self) -> bool:
        return self.outcome == "changed"


def insert_for(session: Session, table: Table) -> Any:
    """``INSERT`` with ``on_conflict_do_*`` for the session's dialect."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"upserts need sqlite or postgresql, not {name}")


def as_text(value: Any) -> str | None:
    """A stored value as history text: exact for Decimal and dates, JSON for
    structures, None stays None."""
    if value is None:
        return None
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int):
        return str(value)
    return json_dumps(value)


def content_hash(values: Mapping[str, Any]) -> str:
    """A stable digest of the tracked values: equal hash, nothing to write."""
    return hashlib.sha256(json_dumps(values).encode("utf-8")).hexdigest()


def diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[FieldChange]:
    """Fields whose canonical text differs (so Decimal("1.0") == "1.00" cents-wise
    is decided by the schema's quantisation, not by float noise)."""
    changes = []
    for key, value in new.items():
        before, after = as_text(old.get(key)), as_text(value)
        if before != after:
            changes.append(FieldChange(key, before, after))
    return changes


_REFS_KEY = "fleet_known_refs"


def _known(session: Session) -> set[tuple[str, ...]]:
    """Refs this session already ensured in the *current* (sub)transaction: a
    rollback, even of a savepoint, may undo the insert, so the cache follows the
    innermost transaction object (held strongly, so its identity is not reused)."""
    txn = session.get_nested_transaction() or session.get_transaction()
    holder = session.info.get(_REFS_KEY)
    if holder is None or holder[0] is not txn:
        holder = (txn, set())
        session.info[_REFS_KEY] = holder
    known: set[tuple[str, ...]] = holder[1]
    return known


def ensure_portal(session: Session, name: str, kind: str | None = None) -> None:
    """Make sure the portal row exists. Idempotent, safe under concurrency."""
    known = _known(session)
    if ("portal", name) in known:
        return
    stmt = insert_for(session, table_of(Portal)).values(name=name, kind=kind, display_name=name)
    session.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))
    known.add(("portal", name))


def ensure_account(session: Session, portal: str, username: str) -> None:
    """Make sure the (portal, username) account row exists; never re-enables a
    disabled account. Idempotent, safe under concurrency."""
    ensure_portal(session, portal)
    known = _known(session)
    if ("account", portal, username) in known:
        return
    stmt = insert_for(session, table_of(Account)).values(
        portal=portal, username=username, display_name=username
    )
    session.execute(stmt.on_conflict_do_nothing(index_elements=["portal", "username"]))
    known.add(("account", portal, username))
