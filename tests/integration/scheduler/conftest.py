"""Real servers for the scheduler's integration tests: PostgreSQL, Redis, RabbitMQ.

Each skips with a loud reason only when its server is unreachable
(``make services`` starts them). The store's parametrised ``db`` fixture
(SQLite and PostgreSQL) is reused here too."""

from __future__ import annotations

import os
import socket

import pytest

from tests.integration.store.conftest import (  # noqa: F401  (fixtures, reused)
    backend,
    db,
    empty_url,
    migrated_url,
    pg_admin,
    pg_template,
)
from tests.requirements import missing

PG_URL = os.environ.get("FLEET_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("FLEET_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
AMQP_URL = os.environ.get("FLEET_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def need(name: str, port: int) -> None:
    if not _reachable("127.0.0.1", port):
        missing(f"{name} is not reachable on 127.0.0.1:{port} (start it with `make services`)")


@pytest.fixture
def pg_url() -> str:
    need("PostgreSQL", 5432)
    return PG_URL


@pytest.fixture
def redis_url() -> str:
    need("Redis", 6379)
    return REDIS_URL


@pytest.fixture
def amqp_url() -> str:
    need("RabbitMQ", 5672)
    return AMQP_URL
