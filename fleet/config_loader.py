"""Settings for commands that run the fleet: fleet.toml validated (with the
file and line of any mistake), then FLEET_* variables on top.

One way to read the configuration, so ``fleet run``, ``fleet health`` and the
scheduler see the same portals, URLs and database.
"""

from __future__ import annotations

import os
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from fleet.settings import Settings, get_settings
from scheduler.config import FleetConfig

_SETTINGS_KEYS = (
    "data_dir",
    "database_url",
    "broker_url",
    "browser_path",
    "max_contexts",
    "headless",
    "log_level",
    "log_json_console",
    "business_day",
)


def settings_for(config: FleetConfig, **overrides: Any) -> Settings:
    """Settings with the file's values, where no ``FLEET_*`` variable says otherwise.

    Portal URLs come from ``[portals.*].base_url`` unless FLEET_PORTAL_URLS is set;
    each portal's ``max_sessions``, ``requests_per_minute`` and
    ``pages_per_session`` become the runtime's per-portal limits
    (bots/politeness.py) unless FLEET_PORTAL_CONCURRENCY,
    FLEET_PORTAL_REQUESTS_PER_MINUTE or FLEET_PORTAL_PAGES is set.
    """
    values: dict[str, Any] = {}
    for key in _SETTINGS_KEYS:
        value = getattr(config, key)
        if value is not None and f"FLEET_{key.upper()}" not in os.environ:
            values[key] = value
    if config.portals and "FLEET_PORTAL_URLS" not in os.environ:
        values["portal_urls"] = config.portal_urls()
    if config.portals and "FLEET_PORTAL_CONCURRENCY" not in os.environ:
        values["portal_concurrency"] = {p: c.max_sessions for p, c in config.portals.items()}
    if config.portals and "FLEET_PORTAL_REQUESTS_PER_MINUTE" not in os.environ:
        values["portal_requests_per_minute"] = {
            p: float(c.requests_per_minute) for p, c in config.portals.items()
        }
    if config.portals and "FLEET_PORTAL_PAGES" not in os.environ:
        values["portal_pages"] = {p: c.pages_per_session for p, c in config.portals.items()}
    values.update(overrides)
    return get_settings(**values)


def load_settings() -> Settings:
    """The validated configuration as Settings; exits 2 with the problems listed."""
    return load_fleet()[1]


def load_fleet() -> tuple[FleetConfig, Settings]:
    """fleet.toml validated, and the Settings it makes; exits 2 with the problems listed."""
    from scheduler.config import ConfigError, load_config

    try:
        config = load_config()
        return config, settings_for(config)
    except ConfigError as exc:
        Console(stderr=True).print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
