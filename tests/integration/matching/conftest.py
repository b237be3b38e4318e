"""The store's parametrised ``db`` fixture (SQLite and PostgreSQL), reused here,
and ``fleet``: the CLI on that database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from fleet.cli import app
from tests.integration.store.conftest import (  # noqa: F401
    Db,
    backend,
    db,
    empty_url,
    migrated_url,
    pg_admin,
    pg_template,
)

Fleet = Callable[..., Result]


@pytest.fixture
def fleet(db: Db, tmp_path: Path) -> Fleet:  # noqa: F811  (db is the imported fixture)
    """``fleet(*args, user=...)``: run the CLI on the test database as ``user``
    (through FLEET_USER, as a shell would)."""
    runner = CliRunner()
    base = {
        "FLEET_DATABASE_URL": db.url,
        "FLEET_DATA_DIR": str(tmp_path / "data"),
        "FLEET_CONFIG": str(tmp_path / "absent.toml"),
        "COLUMNS": "200",
    }

    def run(*args: str, user: str | None = None, **env: str) -> Result:
        return runner.invoke(app, list(args), env={**base, "FLEET_USER": user, **env})

    return run
