"""Fleet settings: one pydantic model, read from ``FLEET_*`` variables and an
optional ``fleet.toml``.

Environment wins over the file, the file over defaults, so an operator can
override one value for one run without editing the shared file.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from bots.options import BrowserOptions

DEBIAN_CHROMIUM = Path("/usr/lib/chromium/chromium")
"""The real binary behind Debian's /usr/bin/chromium shell wrapper."""

DEBIAN_HEADLESS_SHELL = Path("/usr/lib/chromium/chromium-headless-shell")
"""Debian's chromium-headless-shell: Chromium's headless mode built as a browser
of its own, without the desktop browser's layers; what Playwright itself
launches for headless runs. Against the full browser in headless mode it took
half the CPU per document and about 500 MB less per browser
(docs/performance.md, "Headless shell"). It cannot show a window, so a headed
run takes the full browser."""

# Chromium phones home at start; on a closed network those calls fail noisily
# and slow start-up. Playwright already passes the usual headless switches.
QUIET_CHROMIUM_ARGS: tuple[str, ...] = (
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def _config_file() -> Path:
    return Path(os.environ.get("FLEET_CONFIG", "fleet.toml"))


class Settings(BaseSettings):
    """Everything the fleet reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix="FLEET_",
        extra="ignore",
        frozen=True,
    )

    data_dir: Path = Field(default=Path("data"), description="Database, vault, artifacts, logs.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default is SQLite in the data dir."
    )
    broker_url: str | None = Field(default=None, description="Celery broker; unset = in-process.")
    browser_path: Path | None = Field(
        default=None, description="Chromium binary; default Debian's, else Playwright's own."
    )
    portal_urls: dict[str, str] = Field(
        default_factory=dict,
        description="Base URL per portal (FLEET_PORTAL_URLS as JSON; [portal_urls] in toml).",
    )
    smtp_url: str | None = Field(
        default=None, description="smtp://host:port for e-mail disputes; unset = outbox only."
    )
    mail_from: str = Field(
        default="deductions@supplier.example", description="From: of e-mail disputes."
    )
    human_wait_seconds: float = Field(
        default=180,
        ge=0,
        le=3600,
        description=(
            "How long a job waits for a person to answer a CAPTCHA in the web app's "
            "ops page (0: it does not wait; the item is left needs-human)."
        ),
    )
    max_contexts: int = Field(default=4, ge=1, le=64, description="Open browser contexts at most.")
    portal_concurrency: dict[str, int] = Field(
        default_factory=dict, description="Jobs at once per portal (default 2)."
    )
    portal_requests_per_minute: dict[str, float] = Field(
        default_factory=dict, description="Requests a minute per portal, all jobs together."
    )
    portal_pages: dict[str, int] = Field(
        default_factory=dict,
        description="Pages of one login session a job works at once, per portal (default 1).",
    )
    headless: bool = True
    business_day: date | None = Field(
        default=None,
        description=(
            "Pin the business day the fleet works on (dispute windows, filing days); "
            "default: today in UTC. For replaying a past day, or the simulated world."
        ),
    )
    log_level: str = "INFO"
    log_json_console: bool = Field(
        default=False, description="JSON lines on the console too (for log shippers)."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _config_file()
        if path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    def today(self) -> date:
        """The business day: ``business_day`` when pinned, else today in UTC."""
        return self.business_day or datetime.now(UTC).date()

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'fleet.db').resolve()}"

    @cached_property
    def resolved_browser_path(self) -> Path | None:
        """The Chromium to launch, or None to let Playwright use its own build:
        the one set, else Debian's headless shell for a headless run, else
        Debian's full browser."""
        if self.browser_path is not None:
            return self.browser_path
        if self.headless and DEBIAN_HEADLESS_SHELL.exists():
            return DEBIAN_HEADLESS_SHELL
        if DEBIAN_CHROMIUM.exists():
            return DEBIAN_CHROMIUM
        return None

    def browser_options(self) -> BrowserOptions:
        """The launch options handed down to bots/ (it never reads settings)."""
        return BrowserOptions(
            executable_path=self.resolved_browser_path,
            args=tuple(self.browser_args()),
            headless=self.headless,
        )

    def browser_args(self) -> list[str]:
        args = list(QUIET_CHROMIUM_ARGS)
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium refuses to run as root with a sandbox
        return args


def get_settings(**overrides: Any) -> Settings:
    """A fresh Settings; overrides are for tests and the CLI's own flags."""
    return Settings(**overrides)
