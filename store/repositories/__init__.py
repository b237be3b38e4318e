"""Repositories: the only code that writes the store's tables.

Every function takes a Session and never commits (the caller's
``store.db.transaction`` does). Upserts return :class:`UpsertResult`
(``created`` / ``changed`` / ``unchanged``) and are idempotent and safe to
retry; see each module for what it promises under concurrency.
"""

from __future__ import annotations

from store.repositories import (
    accounts,
    audit,
    deductions,
    disputes,
    documents,
    erp,
    quarantines,
    retrieval,
    runs,
    shipments,
    watermarks,
)
from store.repositories._common import FieldChange, Outcome, UpsertResult
from store.repositories.quarantines import quarantine

__all__ = [
    "FieldChange",
    "Outcome",
    "UpsertResult",
    "accounts",
    "audit",
    "deductions",
    "disputes",
    "documents",
    "erp",
    "quarantine",
    "quarantines",
    "retrieval",
    "runs",
    "shipments",
    "watermarks",
]
