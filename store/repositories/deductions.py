"""Deductions: idempotent upserts keyed by (portal, external_id), with history.

Promises, for every function here:

* **idempotent**: the same record twice leaves one row and reports "unchanged";
* **safe to retry** after a crash or a rolled-back transaction;
* **safe under concurrency**: two writers upserting the same record at once end
  with one row (``INSERT ... ON CONFLICT`` decides, not a prior SELECT);
* **nothing silently overwritten**: every tracked field that changes (amount,
  status, lines, raw payload ...) gets a ``deduction_history`` row with the old
  and new value, the time and the run id.

Writes go through Core statements; ORM objects loaded *earlier in the same
session* are not refreshed (``session.get`` after the upsert, or expire them).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from records.schemas import DeductionLineRecord, DeductionRecord
from store.db import json_dumps
from store.models import Deduction, DeductionHistory, DeductionLine, table_of, utcnow
from store.repositories._common import (
    FieldChange,
    UpsertResult,
    content_hash,
    diff,
    ensure_account,
    ensure_portal,
    insert_for,
)
from store.repositories.quarantines import quarantine

D = table_of(Deduction)
L = table_of(DeductionLine)
H = table_of(DeductionHistory)

FIELDS: tuple[str, ...] = (
    "account",
    "invoice_number",
    "po_number",
    "location",
    "amount",
    "currency",
    "reason_code",
    "reason_text",
    "category",
    "deduction_date",
    "invoice_date",
    "posted_date",
    "status",
    "promo_id",
    "carrier",
    "pro_number",
    "bol_number",
    "memo",
)
"""Columns copied from the record; each is history-tracked, as are "lines" and "raw"."""

BATCH = 500
"""Rows per statement in :func:`upsert_many` (well under SQLite's variable limit)."""

# Statements built once per dialect and executed with parameters: building
# ``.values(**row)`` per call costs more than the database round trip.
_STATEMENTS: dict[str, dict[str, Any]] = {}


def _stmts(session: Session) -> dict[str, Any]:
    dialect = session.get_bind().dialect.name
    cached = _STATEMENTS.get(dialect)
    if cached is None:
        cached = {
            "insert": insert_for(session, D)
            .on_conflict_do_nothing(index_elements=["portal", "external_id"])
            .returning(D.c.id),
            "existing": select(D.c.id, D.c.content_hash)
            .where(D.c.portal == bindparam("k_portal"), D.c.external_id == bindparam("k_ext"))
            .with_for_update(),
            "touch": update(D)
            .where(D.c.id == bindparam("k_id"))
            .values(last_seen_at=bindparam("k_now"), last_run_id=bindparam("k_run")),
        }
        _STATEMENTS[dialect] = cached
    return cached


def _line(sku: str, description: str, quantity: int, unit_cost: Any, amount: Any) -> dict:
    return {
        "sku": sku,
        "description": description,
        "quantity": quantity,
        "unit_cost": None if unit_cost is None else str(unit_cost),
        "amount": str(amount),
    }


def _record_lines(lines: Sequence[DeductionLineRecord]) -> list[dict]:
    return [_line(x.sku, x.description, x.quantity, x.unit_cost, x.amount) for x in lines]


def _tracked(record: DeductionRecord) -> dict[str, Any]:
    values: dict[str, Any] = {f: getattr(record, f) for f in FIELDS}
    values["lines"] = _record_lines(record.lines)
    # The raw payload as it will read back from the JSON column.
    values["raw"] = json.loads(json_dumps(record.raw))
    return values


def _row_values(record: DeductionRecord, tracked: dict[str, Any], now: datetime) -> dict[str, Any]:
    row = {f: tracked[f] for f in FIELDS}
    row.update(
        portal=record.portal,
        external_id=record.external_id,
        raw=tracked["raw"],
        content_hash=content_hash(tracked),
        last_seen_at=now,
        updated_at=now,
    )
    return row


def _line_rows(deduction_id: int, lines: Sequence[DeductionLineRecord]) -> list[dict]:
    return [
        {
            "deduction_id": deduction_id,
            "line_no": i,
            "sku": x.sku,
            "description": x.description,
            "quantity": x.quantity,
            "unit_cost": x.unit_cost,
            "amount": x.amount,
        }
        for i, x in enumerate(lines, start=1)
    ]


def _ensure_refs(session: Session, record: DeductionRecord) -> None:
    if record.account:
        ensure_account(session, record.portal, record.account)
    else:
        ensure_portal(session, record.portal)


def _stored(session: Session, deduction_id: int) -> dict[str, Any]:
    row = session.execute(select(D).where(D.c.id == deduction_id)).mappings().one()
    values: dict[str, Any] = {f: row[f] for f in FIELDS}
    values["raw"] = row["raw"]
    values["lines"] = [
        _line(x.sku, x.description, x.quantity, x.unit_cost, x.amount)
        for x in session.execute(
            select(L).where(L.c.deduction_id == deduction_id).order_by(L.c.line_no)
        )
    ]
    return values


def _apply(
    session: Session,
    deduction_id: int,
    record: DeductionRecord,
    tracked: dict[str, Any],
    row: dict[str, Any],
    run_id: str | None,
    now: datetime,
) -> UpsertResult:
    """Compare the stored row with the new observation; write history and update.
    The caller holds the row lock (PostgreSQL) or the write lock (SQLite)."""
    changes = diff(_stored(session, deduction_id), tracked)
    update_values = {k: v for k, v in row.items() if k not in ("portal", "external_id")}
    update_values["last_run_id"] = run_id
    if not changes:
        # Same content under an older hash recipe: refresh the hash, nothing else.
        session.execute(update(D).where(D.c.id == deduction_id).values(**update_values))
        return UpsertResult("unchanged", deduction_id)
    session.execute(
        H.insert(),
        [
            {
                "deduction_id": deduction_id,
                "field": c.field,
                "old_value": c.old,
                "new_value": c.new,
                "observed_at": now,
                "run_id": run_id,
            }
            for c in changes
        ],
    )
    session.execute(update(D).where(D.c.id == deduction_id).values(**update_values))
    if any(c.field == "lines" for c in changes):
        session.execute(delete(L).where(L.c.deduction_id == deduction_id))
        if record.lines:
            session.execute(L.insert(), _line_rows(deduction_id, record.lines))
    return UpsertResult("changed", deduction_id, tuple(changes))


def _touch(session: Session, ids: Sequence[int], run_id: str | None, now: datetime) -> None:
    for i in range(0, len(ids), BATCH):
        chunk = ids[i : i + BATCH]
        session.execute(
            update(D).where(D.c.id.in_(chunk)).values(last_seen_at=now, last_run_id=run_id)
        )


def upsert(session: Session, record: DeductionRecord, run_id: str | None = None) -> UpsertResult:
    """Store one observation of a deduction.

    Returns ``created`` (new row), ``unchanged`` (only ``last_seen_at`` moves) or
    ``changed`` (history rows written, row updated; ``changes`` lists them).
    Idempotent and safe to retry; does not commit.
    """
    now = utcnow()
    _ensure_refs(session, record)
    tracked = _tracked(record)
    row = _row_values(record, tracked, now)
    stmts = _stmts(session)
    inserted = session.execute(
        stmts["insert"], {**row, "first_seen_at": now, "last_run_id": run_id}
    ).scalar_one_or_none()
    if inserted is not None:
        if record.lines:
            session.execute(L.insert(), _line_rows(inserted, record.lines))
        return UpsertResult("created", inserted)

    existing = session.execute(
        stmts["existing"], {"k_portal": record.portal, "k_ext": record.external_id}
    ).one()
    if existing.content_hash == row["content_hash"]:
        session.execute(stmts["touch"], {"k_id": existing.id, "k_now": now, "k_run": run_id})
        return UpsertResult("unchanged", existing.id)
    return _apply(session, existing.id, record, tracked, row, run_id, now)


def upsert_many(
    session: Session, records: Iterable[DeductionRecord], run_id: str | None = None
) -> list[UpsertResult]:
    """Store many observations with few statements; same promises as :func:`upsert`.

    Results come back in input order. New rows are inserted in batches, unchanged
    ones touched in batches; changed rows (rare in steady state) and rows another
    writer inserted meanwhile go through :func:`upsert`. A key repeated in the
    input is applied in order, like successive calls. Does not commit.
    """
    records = list(records)
    results: list[UpsertResult | None] = [None] * len(records)
    now = utcnow()

    first: dict[tuple[str, str], int] = {}
    repeats: list[int] = []
    for i, r in enumerate(records):
        key = (r.portal, r.external_id)
        if key in first:
            repeats.append(i)
        else:
            first[key] = i
    # A stable key order keeps row locks in one order across concurrent writers.
    order = sorted(first.items())

    for portal, account in {(records[i].portal, records[i].account) for _, i in order}:
        if account:
            ensure_account(session, portal, account)
        else:
            ensure_portal(session, portal)

    prepared: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}
    for _, i in order:
        tracked = _tracked(records[i])
        prepared[i] = (tracked, _row_values(records[i], tracked, now))

    stored: dict[tuple[str, str], tuple[int, str]] = {}
    by_portal: dict[str, list[str]] = {}
    for portal, external_id in first:
        by_portal.setdefault(portal, []).append(external_id)
    for portal, external_ids in by_portal.items():
        for j in range(0, len(external_ids), BATCH):
            rows = session.execute(
                select(D.c.id, D.c.external_id, D.c.content_hash)
                .where(D.c.portal == portal, D.c.external_id.in_(external_ids[j : j + BATCH]))
                .order_by(D.c.id)
                .with_for_update()
            )
            for row in rows:
                stored[(portal, row.external_id)] = (row.id, row.content_hash)

    new = [(k, i) for k, i in order if k not in stored]
    for j in range(0, len(new), BATCH):
        chunk = new[j : j + BATCH]
        returned = session.execute(
            insert_for(session, D)
            .on_conflict_do_nothing(index_elements=["portal", "external_id"])
            .returning(D.c.id, D.c.portal, D.c.external_id),
            [{**prepared[i][1], "first_seen_at": now, "last_run_id": run_id} for _, i in chunk],
        )
        ids = {(r.portal, r.external_id): r.id for r in returned}
        line_rows = []
        for key, i in chunk:
            if key in ids:
                results[i] = UpsertResult("created", ids[key])
                line_rows.extend(_line_rows(ids[key], records[i].lines))
            else:  # another writer inserted it since our SELECT
                results[i] = upsert(session, records[i], run_id)
        if line_rows:
            session.execute(L.insert(), line_rows)

    unchanged = []
    for key, i in order:
        if key not in stored:
            continue
        row_id, stored_hash = stored[key]
        tracked, values = prepared[i]
        if stored_hash == values["content_hash"]:
            unchanged.append(row_id)
            results[i] = UpsertResult("unchanged", row_id)
        else:
            results[i] = _apply(session, row_id, records[i], tracked, values, run_id, now)
    _touch(session, unchanged, run_id, now)

    for i in repeats:
        results[i] = upsert(session, records[i], run_id)
    return [r for r in results if r is not None]


def get(session: Session, portal: str, external_id: str) -> Deduction | None:
    """The stored deduction (with lines), or None."""
    return session.execute(
        select(Deduction).where(Deduction.portal == portal, Deduction.external_id == external_id)
    ).scalar_one_or_none()


def history(session: Session, deduction_id: int) -> list[DeductionHistory]:
    """Every recorded change of one deduction, oldest first."""
    return list(
        session.execute(
            select(DeductionHistory)
            .where(DeductionHistory.deduction_id == deduction_id)
            .order_by(DeductionHistory.id)
        ).scalars()
    )


__all__ = [
    "FIELDS",
    "FieldChange",
    "UpsertResult",
    "get",
    "history",
    "quarantine",
    "upsert",
    "upsert_many",
]
