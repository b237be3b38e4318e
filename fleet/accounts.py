"""The store follows fleet.toml's ``[[accounts]]``: the one place every face
(``fleet run``, ``fleet scheduler``, ``fleet worker``, ``fleet accounts``, the
demo) asks for it. The rules are ``store.repositories.accounts.reconcile_accounts``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from scheduler.config import FleetConfig
    from store.repositories.accounts import Reconciled


def follow_fleet_toml(database_url: str, path: Path | None = None) -> Reconciled | None:
    """Make the store's accounts follow fleet.toml (see reconcile_accounts).

    Returns what changed, or None when there is no fleet.toml (nothing is
    declared, the store is left alone). The file must be valid: the commands
    that call this have loaded it already. Idempotent and safe to run from
    several processes at once.
    """
    import structlog

    from scheduler.config import config_path, load_config
    from store.db import init_db

    file = config_path(path)
    if not file.is_file():
        return None
    config = load_config(file)
    engine = init_db(database_url)
    try:
        result = reconcile_config(engine, config)
    finally:
        engine.dispose()
    if result.changed:
        structlog.get_logger(__name__).info("accounts.reconciled", **result.counts())
    return result


def reconcile_config(engine: Engine, config: FleetConfig) -> Reconciled:
    from portal_adapters.registry import UnknownPortal, adapter_class
    from store.db import session_factory, transaction
    from store.repositories.accounts import reconcile_accounts

    kinds = {}
    for name in config.portals:
        try:
            kinds[name] = adapter_class(name).kind
        except UnknownPortal:
            continue  # fleet run names it; the store needs no kind for it
    with transaction(session_factory(engine)) as s:
        return reconcile_accounts(s, config.accounts, portal_kinds=kinds)


__all__ = ["follow_fleet_toml", "reconcile_config"]
