"""The store's parametrised ``db`` fixture (SQLite and PostgreSQL) and the
``fleet`` CLI on it, reused from the store and matching tests (one copy each)."""

from __future__ import annotations

from tests.integration.matching.conftest import Fleet, fleet  # noqa: F401
from tests.integration.store.conftest import (  # noqa: F401
    Db,
    backend,
    db,
    empty_url,
    migrated_url,
    pg_admin,
    pg_template,
)
