"""The store's parametrised ``db`` fixture (SQLite and PostgreSQL), reused here."""

from __future__ import annotations

from tests.integration.store.conftest import (  # noqa: F401
    backend,
    db,
    empty_url,
    pg_admin,
)
