"""``fleet.toml``: portals, accounts, schedules and limits, validated before anything starts.

The file is read once at start-up into :class:`FleetConfig` (pydantic, unknown
keys refused, so a typo is an error rather than a silently ignored setting).
An error names the key, the file and the line: ``tomllib`` has no line
numbers, so :func:`key_lines` finds each key's line in the text itself.

No secrets live here: passwords, TOTP seeds and API keys stay in the keyring
(``fleet credentials set``). The top-level ``data_dir``, ``database_url`` and
``broker_url`` are the same keys :class:`fleet.settings.Settings` reads; a
``FLEET_*`` environment variable still wins over the file (the composition
root applies that: ``fleet.config_loader.settings_for``).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dispute_filing.policy import FilingPolicy

PORTAL_NAME = r"^[a-z][a-z0-9_]{0,31}$"
DEFAULT_CONFIG = Path("fleet.toml")

Loc = tuple[str | int, ...]


class ConfigError(ValueError):
    """fleet.toml is invalid; every problem is listed with its file and line."""

    def __init__(self, path: Path, problems: Sequence[ConfigProblem]) -> None:
        self.path = path
        self.problems = list(problems)
        super().__init__("\n".join(p.render(path) for p in self.problems))


@dataclass(frozen=True)
class ConfigProblem:
    key: str  # dotted, e.g. accounts[2].schedule.cron
    message: str
    line: int | None

    def render(self, path: Path) -> str:
        where = f"{path}:{self.line}" if self.line else str(path)
        return f"{where}: {self.key or '(file)'}: {self.message}"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PortalConfig(_Strict):
    """One portal: where it lives and how hard the fleet may use it."""

    base_url: Annotated[str, Field(pattern=r"^https?://[^\s]+$", max_length=500)]
    max_sessions: Annotated[int, Field(ge=1, le=64)] = 2
    """Accounts of this portal logged in at once, fleet-wide (Celery on a Redis
    broker: leases in Redis, bots/politeness_shared.py; on RabbitMQ: per worker)."""
    requests_per_minute: Annotated[int, Field(ge=1, le=10_000)] = 120
    pages_per_session: Annotated[int, Field(ge=1, le=8)] = 1
    """Pages one account's login works at once (megamart's listing, a sync's
    document pass): an analyst's browser tabs, not more logins. Default 1;
    2-4 shortens a large account's backfill on a portal that allows it."""
    enabled: bool = True


class ScheduleConfig(_Strict):
    """When an account runs by itself: a crontab line in the account's time zone."""

    cron: Annotated[str, Field(min_length=9, max_length=200)]
    timezone: str = "UTC"
    task: Literal["sync", "pods"] | None = None
    """Default: ``sync`` on a retailer, ``pods`` on a carrier."""
    jitter_seconds: Annotated[int, Field(ge=0, le=3600)] | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value

    @model_validator(mode="after")
    def _valid_cron(self) -> ScheduleConfig:
        try:
            trigger_for(self)
        except ValueError as exc:
            raise _LocatedError(("cron",), str(exc)) from None
        return self


class AccountConfig(_Strict):
    """A login the fleet runs as (its secrets are in the keyring, never here)."""

    portal: Annotated[str, Field(pattern=PORTAL_NAME)]
    username: Annotated[str, Field(min_length=1, max_length=320)]
    schedule: ScheduleConfig | None = None
    enabled: bool = True

    @property
    def key(self) -> str:
        return f"{self.portal}/{self.username}"


class SchedulerConfig(_Strict):
    """How the scheduler service runs jobs (see docs/operations.md)."""

    dispatch: Literal["local", "celery"] = "local"
    workers: Annotated[int, Field(ge=1, le=64)] = 4
    """In-process pool: jobs running at once in the scheduler process."""
    reserved_for_on_demand: Annotated[int, Field(ge=0, le=16)] = 1
    """Of ``workers``, slots only on-demand requests may use."""
    misfire_grace_minutes: Annotated[int, Field(ge=1, le=7 * 24 * 60)] = 360
    jitter_seconds: Annotated[int, Field(ge=0, le=3600)] = 300
    shutdown_grace_seconds: Annotated[int, Field(ge=0, le=3600)] = 120
    standby_poll_seconds: Annotated[float, Field(ge=0.1, le=60)] = 2.0
    on_demand_poll_seconds: Annotated[float, Field(ge=0.05, le=60)] = 0.5
    celery_visibility_timeout_seconds: Annotated[int, Field(ge=5, le=86_400)] = 3600
    """Redis broker only: a job unacknowledged this long is delivered again."""
    account_lock: Literal["auto", "file", "postgres", "redis"] = "auto"
    """auto: PostgreSQL advisory locks with a PostgreSQL database, else Redis locks with
    a Redis broker, else flock (one host)."""
    account_lock_ttl_seconds: Annotated[int, Field(ge=2, le=600)] = 30
    """Redis locks: how long a dead worker's lock outlives it."""
    run_stale_minutes: Annotated[int, Field(ge=2, le=24 * 60)] = 10
    """A running job whose heartbeat (every 30 s) stopped this long ago died with its
    process: its run is marked failed (WorkerLost)."""
    housekeeping_seconds: Annotated[float, Field(ge=1, le=3600)] = 60.0
    """How often the active scheduler reaps dead runs, sends approval reminders and
    notifications."""

    @model_validator(mode="after")
    def _reserve_fits(self) -> SchedulerConfig:
        if self.reserved_for_on_demand >= self.workers:
            raise ValueError("reserved_for_on_demand must be smaller than workers")
        return self


NOTIFY_DEFAULT_KINDS = (
    "anomaly",
    "check_waiting",
    "needs_human",
    "dispute_deadlines",
    "dispute_needs_person",
)
"""What people are told of by default: each wants a person's eye soon."""
HEALTH_EVENT_KINDS = (
    *NOTIFY_DEFAULT_KINDS,
    "dispute_rejected",
    "dispute_window_closed",
    "job_failed",
    "run_reaped",
    "account_disabled",
    "account_enabled",
)
"""Every health event kind the fleet writes (``runs.health_event`` callers), so a
misspelt kind in ``[notifications].kinds`` is an error, not silence."""
_SECRET_QUERY = re.compile(r"(?i)(token|key|secret|sig|signature|pass|password|auth)=")
_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")


class NotificationsConfig(_Strict):
    """Where needs-human items, anomalies and deadline alerts are also sent
    (scheduler/notify.py): a webhook (an HTTP POST of JSON), e-mail, or both.

    No secret here either: a webhook whose URL is itself the secret goes in
    ``FLEET_NOTIFY_WEBHOOK_URL``, a bearer token in ``FLEET_NOTIFY_WEBHOOK_TOKEN``,
    an SMTP login in ``FLEET_NOTIFY_SMTP_URL``; a URL here that carries a
    password or a token-like query parameter is refused."""

    webhook_url: Annotated[str, Field(pattern=r"^https?://[^\s/]+", max_length=2000)] | None = None
    email_to: list[str] = Field(default_factory=list, max_length=50)
    smtp_url: Annotated[str, Field(max_length=500)] | None = None
    """smtp://host:port (plain), smtp+starttls://host:587, smtps://host:465; default:
    FLEET_NOTIFY_SMTP_URL, else the fleet's FLEET_SMTP_URL (the dispute e-mails')."""
    mail_from: Annotated[str, Field(max_length=320)] | None = None
    """Default: the fleet's ``mail_from`` (FLEET_MAIL_FROM)."""
    kinds: list[str] = Field(default_factory=lambda: list(NOTIFY_DEFAULT_KINDS), min_length=1)
    timeout_seconds: Annotated[float, Field(ge=1, le=60)] = 10.0
    """How long one delivery may take before it counts as failed (retried next pass)."""
    max_age_hours: Annotated[int, Field(ge=1, le=14 * 24)] = 24
    """Events older than this are history, not news: never sent (a new channel starts
    with the last day's)."""

    @field_validator("webhook_url")
    @classmethod
    def _no_secret_in_webhook(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.password or _SECRET_QUERY.search(parts.query):
            raise ValueError(
                "the URL carries a secret: put the token in FLEET_NOTIFY_WEBHOOK_TOKEN "
                "(sent as Authorization: Bearer), or the whole URL in FLEET_NOTIFY_WEBHOOK_URL"
            )
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        problem = smtp_url_problem(value)
        if problem:
            raise ValueError(problem)
        if urlsplit(value).password:
            raise ValueError("the URL carries a password: put it in FLEET_NOTIFY_SMTP_URL")
        return value

    @field_validator("email_to")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        bad = [a for a in value if not _EMAIL.fullmatch(a)]
        if bad:
            raise ValueError(f"not an e-mail address: {bad[0][:80]!r}")
        return value

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, value: list[str]) -> list[str]:
        unknown = [k for k in value if k not in HEALTH_EVENT_KINDS]
        if unknown:
            raise ValueError(
                f"unknown kind {unknown[0][:40]!r}; known: {', '.join(HEALTH_EVENT_KINDS)}"
            )
        return value


def smtp_url_problem(url: str) -> str | None:
    """Why ``url`` is not an SMTP URL the notifier can use (None: it is)."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps", "smtp+starttls") or not parts.hostname:
        return "must look like smtp://host:port, smtp+starttls://host:587 or smtps://host:465"
    try:
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        return "the port is not a number"
    return None


class FleetConfig(_Strict):
    """The whole of fleet.toml."""

    data_dir: Path | None = None
    database_url: str | None = None
    broker_url: str | None = None
    browser_path: Path | None = None
    max_contexts: Annotated[int, Field(ge=1, le=64)] | None = None
    headless: bool | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] | None = None
    log_json_console: bool | None = None
    business_day: date | None = None
    """Pin the fleet's business day (replaying a past day); default: today in UTC."""
    portals: dict[Annotated[str, Field(pattern=PORTAL_NAME)], PortalConfig] = Field(
        default_factory=dict
    )
    accounts: list[AccountConfig] = Field(default_factory=list)
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig)
    approval: dict[str, Any] = Field(default_factory=dict)
    """Approval policy; read and validated by matching/ (kept here so one file configures all)."""
    disputes: FilingPolicy = Field(default_factory=FilingPolicy)
    """The filing policy (dispute_filing/policy.py): which approved disputes the
    robot files by itself and which wait for a person."""
    notifications: NotificationsConfig | None = None
    """Also send needs-human items, anomalies and deadline alerts by webhook or
    e-mail (scheduler/notify.py); unset: the app and ``fleet health`` only."""

    @model_validator(mode="after")
    def _accounts_reference_portals(self) -> FleetConfig:
        seen: set[str] = set()
        for i, acct in enumerate(self.accounts):
            if acct.portal not in self.portals:
                raise _LocatedError(("accounts", i, "portal"), f"no [portals.{acct.portal}] table")
            if acct.key in seen:
                raise _LocatedError(("accounts", i, "username"), f"{acct.key} is listed twice")
            seen.add(acct.key)
        return self

    def portal_urls(self) -> dict[str, str]:
        return {name: p.base_url for name, p in self.portals.items()}

    def account(self, portal: str, username: str) -> AccountConfig | None:
        return next(
            (a for a in self.accounts if a.portal == portal and a.username == username), None
        )

    def scheduled_accounts(self) -> list[AccountConfig]:
        return [
            a
            for a in self.accounts
            if a.schedule is not None and a.enabled and self.portals[a.portal].enabled
        ]


class _LocatedError(ValueError):
    """A cross-field error that knows which key it is about."""

    def __init__(self, loc: Loc, message: str) -> None:
        self.loc = loc
        super().__init__(message)


def trigger_for(schedule: ScheduleConfig, *, jitter: int | None = None) -> Any:
    """The APScheduler CronTrigger for a schedule.

    The cron line means what crontab(5) says (minute hour day month weekday,
    weekday 0 or 7 = Sunday). APScheduler 3 numbers weekdays from Monday = 0,
    so numeric weekdays are translated to names first: ``1-5`` stays Monday to
    Friday instead of silently becoming Tuesday to Saturday.
    """
    from apscheduler.triggers.cron import CronTrigger

    fields = schedule.cron.split()
    if len(fields) != 5:
        raise ValueError(
            f"invalid cron expression {schedule.cron!r}: "
            "need 5 fields (minute hour day month weekday)"
        )
    minute, hour, day, month, weekday = fields
    try:
        return CronTrigger(
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=crontab_weekdays(weekday),
            timezone=ZoneInfo(schedule.timezone),
            jitter=jitter,
        )
    except ValueError as exc:
        raise ValueError(f"invalid cron expression {schedule.cron!r}: {exc}") from None


_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def crontab_weekdays(field: str) -> str:
    """Translate crontab's numeric weekdays (0/7 = Sunday) to names APScheduler reads."""
    out: list[str] = []
    for part in field.lower().split(","):
        base, _, step = part.partition("/")
        numbers = re.fullmatch(r"(\d)(?:-(\d))?", base)
        if numbers is None:
            out.append(part)  # *, names, name ranges: APScheduler reads them as crontab does
            continue
        lo = int(numbers.group(1))
        hi = int(numbers.group(2)) if numbers.group(2) else None
        if lo > 7 or (hi is not None and (hi > 7 or hi < lo)):
            raise ValueError(f"weekday {base!r} out of range (0-7, 0 and 7 = Sunday)")
        if hi is None:
            out.append(_DAY_NAMES[lo] + (f"/{step}" if step else ""))
            continue
        if step:
            raise ValueError(f"weekday {part!r}: use names with a step (mon-fri/2)")
        # APScheduler's week runs mon..sun: split a range that crosses Sunday.
        days = sorted({d % 7 for d in range(lo, hi + 1)})
        if 0 in days:
            out.append("sun")
            days.remove(0)
        if days:
            first, last = days[0], days[-1]
            out.append(
                _DAY_NAMES[first] if first == last else f"{_DAY_NAMES[first]}-{_DAY_NAMES[last]}"
            )
    return ",".join(out)


# --------------------------------------------------------------------------- loading


def config_path(explicit: Path | None = None) -> Path:
    """The file to read: the argument, else ``FLEET_CONFIG``, else ./fleet.toml."""
    if explicit is not None:
        return explicit
    return Path(os.environ.get("FLEET_CONFIG", str(DEFAULT_CONFIG)))


def load_config(path: Path | None = None, *, required: bool = False) -> FleetConfig:
    """Read and validate fleet.toml; raise :class:`ConfigError` listing every problem.

    A missing file is an empty configuration unless ``required`` (the service
    commands pass ``required=True`` when the operator named a file).
    """
    path = config_path(path)
    if not path.is_file():
        if required:
            raise ConfigError(path, [ConfigProblem("", "file not found", None)])
        return FleetConfig()
    text = path.read_text(encoding="utf-8")
    return parse_config(text, path)


def parse_config(text: str, path: Path) -> FleetConfig:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None) or _line_from_message(str(exc))
        if line is None and "end of document" in str(exc):
            line = max(text.count("\n"), 1)
        raise ConfigError(path, [ConfigProblem("", f"not valid TOML: {exc}", line)]) from None
    lines = key_lines(text)
    try:
        return FleetConfig.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc: Loc = tuple(err["loc"])
            message = err["msg"]
            ctx_error = (err.get("ctx") or {}).get("error")
            if isinstance(ctx_error, _LocatedError):
                loc, message = loc + ctx_error.loc, str(ctx_error)
            elif message.startswith("Value error, "):
                message = message.removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = "unknown key (check the spelling; fleet.example.toml lists every key)"
            problems.append(ConfigProblem(dotted(loc), message, line_of(lines, loc)))
        raise ConfigError(path, problems) from None


def _line_from_message(message: str) -> int | None:
    m = re.search(r"line (\d+)", message)
    return int(m.group(1)) if m else None


def dotted(loc: Iterable[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# --------------------------------------------------------------------------- key lines

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(
    r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*="""
)


def _split_key(key: str) -> list[str]:
    parts = re.findall(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""", key)
    return [p[1:-1] if p[:1] in "\"'" else p for p in parts]


def key_lines(text: str) -> dict[Loc, int]:
    """Map each table and key path in a TOML text to its 1-based line.

    Handles tables, arrays of tables (``[[accounts]]`` counts as accounts[0],
    accounts[1], ...) and dotted keys; lines inside multi-line strings and
    arrays are skipped. Good enough to point a person at the right line; the
    parsing itself is tomllib's.
    """
    found: dict[Loc, int] = {}
    counters: dict[Loc, int] = {}
    table: Loc = ()
    in_string: str | None = None
    depth = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if in_string:
            if in_string in line:
                in_string = None
            continue
        if depth > 0:
            depth += line.count("[") - line.count("]")
            continue
        header = _HEADER.match(line)
        if header:
            names = _split_key(header.group(2))
            if header.group(1) == "[[":
                resolved = (*_resolve(tuple(names[:-1]), counters), names[-1])
                index = counters.get(resolved, -1) + 1
                counters[resolved] = index
                table = (*resolved, index)
            else:
                table = _resolve(tuple(names), counters)
            found.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if not key:
            continue
        path = (*table, *_split_key(key.group(1)))
        for end in range(len(table) + 1, len(path) + 1):
            found.setdefault(path[:end], number)
        rest = line[key.end() :].strip()
        for quote in ('"""', "'''"):
            if rest.startswith(quote) and rest.count(quote) == 1:
                in_string = quote
        if rest.startswith("["):
            depth = rest.count("[") - rest.count("]")
    return found


def _resolve(names: Loc, counters: dict[Loc, int]) -> Loc:
    """``accounts.schedule`` inside the third ``[[accounts]]`` is accounts[2].schedule."""
    out: list[str | int] = []
    for name in names:
        out.append(name)
        if tuple(out) in counters:
            out.append(counters[tuple(out)])
    return tuple(out)


def line_of(lines: dict[Loc, int], loc: Loc) -> int | None:
    """The line of ``loc``, or of its nearest ancestor that is in the file."""
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


__all__ = [
    "HEALTH_EVENT_KINDS",
    "NOTIFY_DEFAULT_KINDS",
    "AccountConfig",
    "ConfigError",
    "ConfigProblem",
    "FleetConfig",
    "NotificationsConfig",
    "PortalConfig",
    "ScheduleConfig",
    "SchedulerConfig",
    "config_path",
    "key_lines",
    "load_config",
    "parse_config",
    "smtp_url_problem",
    "trigger_for",
]
