"""``fleet accounts``: the portal accounts the fleet runs as.

fleet.toml's ``[[accounts]]`` tables declare which accounts exist; the store
follows the file (``fleet.accounts.follow_fleet_toml``, run at the start of ``fleet run``,
``fleet scheduler``, ``fleet worker`` and every command here). ``add`` and
``remove`` edit the file (keeping its comments and layout) and then the store;
``disable`` and ``enable`` are a person's decision, kept in the store, which no
reconcile undoes. Without a fleet.toml nothing is declared and the store's
accounts are left as they are.

Secrets never pass through here: ``add`` and ``enable`` only look at whether a
password is stored (the keyring's index, no unlocking) and print the
``fleet credentials set`` command to run.

Exit codes: 0 done, 1 the stored state says no (no password stored, the
keyring failed), 2 bad input or an invalid fleet.toml (nothing changed).
"""

from __future__ import annotations

import getpass
import json
import os
import re
import shlex
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from credentials.keyring_vault import AccountEntry
    from fleet.settings import Settings
    from scheduler.accounts import EnableRefused
    from scheduler.config import ConfigError, FleetConfig

app = typer.Typer(
    help="Portal accounts: fleet.toml declares them, the store follows.", no_args_is_help=True
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

PortalArg = Annotated[str, typer.Argument(help="Portal (its adapter's name), e.g. megamart.")]
UserArg = Annotated[str, typer.Argument(help="The login name on that portal.")]
ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", help="fleet.toml (default: $FLEET_CONFIG, else ./fleet.toml)."),
]
MAX_REASON = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


@app.callback()
def _group() -> None:
    """Portal accounts: fleet.toml declares them, the store follows."""


def _fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[red]error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


def _config_problems(exc: ConfigError, prefix: str = "") -> NoReturn:
    for problem in exc.problems:
        typer.echo(f"error: {prefix}{problem.render(exc.path)}", err=True)
    raise typer.Exit(2)


def _actor() -> str:
    """Who acts, for the audit log: $FLEET_USER (as fleet approvals reads it), else the
    login name."""
    try:
        return f"cli:{os.environ.get('FLEET_USER') or getpass.getuser()}"
    except Exception:  # no login name (some containers)
        return "cli"


class _Fleet:
    """fleet.toml (or None when there is none), settings and the store, reconciled."""

    def __init__(self, config_file: Path | None) -> None:
        from fleet.config_loader import settings_for
        from scheduler.config import ConfigError, FleetConfig, config_path, load_config
        from store.db import init_db

        self.path = config_path(config_file)
        self.config: FleetConfig | None = None
        if self.path.is_file() or config_file is not None:
            try:
                self.config = load_config(self.path, required=True)
            except ConfigError as exc:
                _config_problems(exc)
        self.settings: Settings = settings_for(self.config or FleetConfig())
        self.engine = init_db(self.settings.resolved_database_url)
        from fleet.accounts import reconcile_config

        self.reconciled = reconcile_config(self.engine, self.config) if self.config else None
        self._credentials: dict[tuple[str, str], AccountEntry] | None = None

    def transaction(self, *, write: bool = True) -> Any:
        from store.db import session_factory, transaction

        return transaction(session_factory(self.engine), write=write)

    def credentials(self, portal: str, username: str) -> AccountEntry | None:
        """Which secrets the keyring holds for the account, from its index (names and
        kinds, never values; no unlocking), in the data dir ``fleet run`` uses."""
        from credentials.keyring_vault import list_accounts

        if self._credentials is None:
            self._credentials = {
                (e.portal, e.account): e for e in list_accounts(self.settings.data_dir)
            }
        return self._credentials.get((portal, username))

    def password_stored(self, portal: str, username: str) -> bool:
        from credentials.keyring_vault import SecretKind

        entry = self.credentials(portal, username)
        return entry is not None and entry.has(SecretKind.PASSWORD)

    def close(self) -> None:
        self.engine.dispose()


def _set_credentials_hint(portal: str, username: str) -> str:
    return f"fleet credentials set {shlex.quote(portal)} {shlex.quote(username)}"


# --------------------------------------------------------------------------- add


@app.command("add")
def add(
    portal: PortalArg,
    username: UserArg,
    cron: Annotated[
        str | None,
        typer.Option(help='When it runs by itself, a crontab line ("0 2 * * *"); none: on demand.'),
    ] = None,
    timezone: Annotated[
        str | None, typer.Option(help="The cron line's IANA time zone (default UTC).")
    ] = None,
    task: Annotated[
        str | None,
        typer.Option(help="sync or pods (default: sync on a retailer, pods on a carrier)."),
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(help="The portal's URL, when fleet.toml has no table for the portal yet."),
    ] = None,
    config_file: ConfigOpt = None,
) -> None:
    """Add the account to fleet.toml (its comments and layout kept), then to the store."""
    from credentials.keyring_vault import CredentialInputError, validate_account
    from fleet.config_edit import EditError, add_account, locked, read_config, write_config
    from portal_adapters.registry import available_portals
    from scheduler.config import ConfigError, FleetConfig, config_path, parse_config

    known = available_portals()
    if portal not in known:
        _fail(f"no adapter for portal {portal!r}; known: {', '.join(known) or 'none'}")
    try:
        validate_account(username)
    except CredentialInputError as exc:
        _fail(f"username: {exc}")
    if (timezone or task) and not cron:
        _fail("--timezone and --task need --cron (without a schedule it runs on demand only)")
    path = config_path(config_file)
    with locked(path):
        text = read_config(path)
        try:
            before = parse_config(text, path) if text.strip() else FleetConfig()
        except ConfigError as exc:
            _config_problems(exc, "fix fleet.toml first: ")
        if before.account(portal, username) is not None:
            _fail(f"{username} on {portal} is already in {path}")
        existing = before.portals.get(portal)
        if existing is None and base_url is None:
            what = f"has no [portals.{portal}] base_url" if text.strip() else "does not exist"
            _fail(
                f"{path} {what}: pass --base-url URL, or write the portal's table "
                "(fleet.example.toml shows one)"
            )
        if existing is not None and base_url not in (None, existing.base_url):
            _fail(
                f"{path} already has base_url = {existing.base_url!r} for {portal}; "
                "change it there, not here"
            )
        schedule = None
        if cron:
            schedule = {"cron": cron, "timezone": timezone or "UTC"}
            if task:
                schedule["task"] = task
        try:
            new_text = add_account(
                text,
                portal,
                username,
                schedule=schedule,
                base_url=base_url if existing is None else None,
            )
            after = parse_config(new_text, path)
        except EditError as exc:
            _fail(str(exc))
        except ConfigError as exc:
            _config_problems(exc, f"not added ({path} unchanged): ")
        _same_but(before, after, accounts=[*before.accounts, after.accounts[-1]])
        if after.accounts[-1].key != f"{portal}/{username}":
            _fail("the edit did not produce the account; fleet.toml unchanged", 1)
        write_config(path, new_text)
    fleet = _Fleet(path)
    try:
        _report_added(fleet, portal, username, created=not text.strip())
    finally:
        fleet.close()


def _same_but(before: FleetConfig, after: FleetConfig, *, accounts: list[Any]) -> None:
    """The edit changed the accounts (and at most added a portal), nothing else."""
    keep = {"accounts", "portals"}
    same = (
        after.model_dump(exclude=keep) == before.model_dump(exclude=keep)
        and after.accounts == accounts
        and all(after.portals.get(name) == p for name, p in before.portals.items())
    )
    if not same:
        _fail("the edit would change other settings; fleet.toml unchanged (edit it by hand)", 1)


def _report_added(fleet: _Fleet, portal: str, username: str, *, created: bool) -> None:
    from scheduler.config import trigger_for

    assert fleet.config is not None
    acct = fleet.config.account(portal, username)
    assert acct is not None
    where = f"{fleet.path} (new file)" if created else str(fleet.path)
    if acct.schedule is None:
        when = "on demand only (no schedule)"
    else:
        nxt = trigger_for(acct.schedule).get_next_fire_time(None, datetime.now(UTC))
        when = f"{acct.schedule.cron} {acct.schedule.timezone}, next run " + (
            nxt.isoformat(timespec="minutes") if nxt else "never"
        )
    out.print(f"added {escape(username)} on {escape(portal)} to {escape(where)}: {escape(when)}")
    r = fleet.reconciled
    key = (portal, username)
    if r is not None and key in r.kept_disabled:
        out.print(
            f"it was there before and stays disabled: {escape(r.kept_disabled[key])} "
            f"(fleet accounts enable {escape(shlex.join(key))} when that is fixed)"
        )
    elif r is not None and key in r.revived:
        out.print("it was there before: revived, with its deductions and history")
    if acct.schedule is not None:
        out.print("a running `fleet scheduler` takes the schedule up when it next starts")
    if not fleet.password_stored(portal, username):
        out.print(
            f"no password stored for {escape(username)} on {escape(portal)} yet; run\n"
            f"    {escape(_set_credentials_hint(portal, username))}\n"
            "(with --totp, --security-answer or --api-key for the secrets the portal asks "
            "for; see docs/credentials.md)"
        )


# --------------------------------------------------------------------------- list


@app.command("list")
def list_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config_file: ConfigOpt = None,
) -> None:
    """Every account: state, password stored (yes/no), schedule, next run, last run."""
    from store.repositories.accounts import prior_reason

    fleet = _Fleet(config_file)
    try:
        rows = _rows(fleet)
    finally:
        fleet.close()
    if as_json:
        typer.echo(json.dumps({"config": str(fleet.path), "accounts": rows}, indent=1))
        return
    if not rows:
        out.print(f"no accounts (add one with: fleet accounts add PORTAL USERNAME; {fleet.path})")
        return
    table = Table()
    for col in ("portal", "account", "state", "password", "schedule", "next run", "last run"):
        table.add_column(col, overflow="fold")
    for r in rows:
        state = r["state"] + (f": {r['reason']}" if r["reason"] else "")
        if r["state"] == "removed":
            prior = prior_reason(r["reason"])
            state = "removed" + (f" (was disabled: {prior})" if prior else "")
        sched = r["schedule"]
        last = r["last_run"]
        table.add_row(
            escape(r["portal"]),
            escape(r["username"]),
            escape(state),
            "yes" if r["password_stored"] else "[yellow]no[/]",
            escape(f"{sched['cron']} {sched['timezone']}") if sched else "on demand",
            "paused" if r["paused"] else (r["next_run"] or "-")[:16],
            escape(f"{last['status']} {last['started_at'][:16]}") if last else "never",
        )
    out.print(table)


def _rows(fleet: _Fleet) -> list[dict[str, Any]]:
    from scheduler import state as pauses
    from scheduler.config import trigger_for
    from scheduler.service import default_task
    from store.repositories.accounts import all_accounts, last_runs, state_of

    now = datetime.now(UTC)
    paused = pauses.paused(fleet.engine)
    with fleet.transaction(write=False) as s:
        accounts = all_accounts(s)
        runs = last_runs(s)
    rows = []
    for a in accounts:
        declared = fleet.config.account(a.portal, a.username) if fleet.config else None
        sched = declared.schedule if declared else None
        st = state_of(a)
        is_paused = (a.portal, a.username) in paused or (a.portal, pauses.ALL_ACCOUNTS) in paused
        nxt = None
        portal_on = fleet.config is None or (
            a.portal in fleet.config.portals and fleet.config.portals[a.portal].enabled
        )
        if sched is not None and st == "enabled" and portal_on and not is_paused:
            fire = trigger_for(sched).get_next_fire_time(None, now)
            nxt = fire.isoformat(timespec="minutes") if fire else None
        last = runs.get((a.portal, a.username))
        rows.append(
            {
                "portal": a.portal,
                "username": a.username,
                "state": st,
                "reason": a.disabled_reason,
                "in_config": declared is not None,
                "password_stored": fleet.password_stored(a.portal, a.username),
                "schedule": None
                if sched is None
                else {
                    "cron": sched.cron,
                    "timezone": sched.timezone,
                    "task": sched.task or default_task(a.portal),
                },
                "next_run": nxt,
                "paused": is_paused,
                "last_run": None
                if last is None
                else {
                    "task": last.task,
                    "status": last.status,
                    "started_at": last.started_at.isoformat(timespec="seconds"),
                    "finished_at": last.finished_at.isoformat(timespec="seconds")
                    if last.finished_at
                    else None,
                    "error_class": last.error_class,
                },
            }
        )
    return rows


# --------------------------------------------------------------------------- enable/disable


@app.command("disable")
def disable(
    portal: PortalArg,
    username: UserArg,
    reason: Annotated[str | None, typer.Option(help="Why (shown to everyone; no secrets).")] = None,
    config_file: ConfigOpt = None,
) -> None:
    """Stop every job on an account until `fleet accounts enable` (audited)."""
    from store.repositories.accounts import change_state, get, is_reserved_reason, state_of

    actor = _actor()
    text = " ".join((reason or f"disabled by {actor.removeprefix('cli:')}").split())
    if not text or _CONTROL.search(text) or len(text) > MAX_REASON:
        _fail(f"--reason: one line of at most {MAX_REASON} characters")
    if is_reserved_reason(text):
        _fail("--reason: that text is reserved for fleet.toml's own states; say it differently")
    fleet = _Fleet(config_file)
    try:
        with fleet.transaction() as s:
            acct = get(s, portal, username)
            if acct is None:
                _fail(f"no account {username} on {portal} (fleet accounts list shows them)")
            if state_of(acct) == "removed":
                _fail(f"{username} on {portal} is not in fleet.toml: it runs nothing already")
            if not acct.enabled and reason is None:  # keep the reason it has
                text, changed = acct.disabled_reason or "", False
            else:
                changed = change_state(s, portal, username, False, text, actor=actor)
    finally:
        fleet.close()
    note = "disabled" if changed else "already disabled"
    out.print(f"{escape(username)} on {escape(portal)}: {note} ({escape(text)})")


@app.command("enable")
def enable(portal: PortalArg, username: UserArg, config_file: ConfigOpt = None) -> None:
    """Let an account run again (after BadCredentials: set the new password first)."""
    from scheduler.accounts import EnableRefused, enable_account

    fleet = _Fleet(config_file)
    try:
        with fleet.transaction() as s:
            try:
                done = enable_account(s, fleet.settings.data_dir, portal, username, actor=_actor())
            except EnableRefused as exc:
                _refused(exc, fleet, portal, username)
    finally:
        fleet.close()
    note = "enabled" if done.changed else "already enabled"
    out.print(f"{escape(username)} on {escape(portal)}: {note}")
    if done.stale_password:
        err.print(
            "[yellow]warning:[/] the portal refused this login and the password has not "
            "changed since; if the next run is refused too, the portal may lock the account "
            f"({escape(_set_credentials_hint(portal, username).replace(' set ', ' rotate ', 1))})"
        )


def _refused(exc: EnableRefused, fleet: _Fleet, portal: str, username: str) -> NoReturn:
    """The CLI's words (with the command that helps) for a refused enable."""
    if exc.why == "unknown":
        _fail(f"no account {username} on {portal} (fleet accounts list shows them)")
    if exc.why == "removed":
        _fail(
            f"{username} on {portal} is not in fleet.toml: "
            f"fleet accounts add {shlex.join((portal, username))}"
        )
    if exc.why == "file_disabled":
        _fail(f"{fleet.path} says enabled = false for it: change that line instead")
    _fail(
        f"no password stored for {username} on {portal}; store it first: "
        f"{_set_credentials_hint(portal, username)}",
        1,
    )


# --------------------------------------------------------------------------- remove


@app.command("remove")
def remove(
    portal: PortalArg,
    username: UserArg,
    forget_credentials: Annotated[
        bool,
        typer.Option(
            "--forget-credentials",
            help="Also delete its secrets and saved session from the keyring.",
        ),
    ] = False,
    config_file: ConfigOpt = None,
) -> None:
    """Take an account out of fleet.toml; the store keeps its deductions and history."""
    from fleet.config_edit import EditError, locked, read_config, remove_account, write_config
    from scheduler.config import ConfigError, config_path, parse_config
    from store.repositories.accounts import get, mark_removed

    path = config_path(config_file)
    in_file = False
    with locked(path):
        text = read_config(path)
        if text.strip():
            try:
                before = parse_config(text, path)
            except ConfigError as exc:
                _config_problems(exc, "fix fleet.toml first: ")
            in_file = before.account(portal, username) is not None
            if in_file:
                try:
                    new_text = remove_account(text, portal, username)
                    after = parse_config(new_text, path)
                except EditError as exc:
                    _fail(str(exc))
                except ConfigError as exc:
                    _config_problems(exc, f"not removed ({path} unchanged): ")
                key = f"{portal}/{username}"
                _same_but(before, after, accounts=[a for a in before.accounts if a.key != key])
                write_config(path, new_text)
    fleet = _Fleet(config_file)
    try:
        with fleet.transaction() as s:
            known = get(s, portal, username) is not None
            if known:  # done by the reconcile already, unless there is no fleet.toml
                mark_removed(s, portal, username, actor=_actor())
        where = escape(str(path))
        if in_file:
            out.print(
                f"removed {escape(username)} on {escape(portal)} from {where}; the store "
                "keeps its deductions and history (fleet accounts add brings it back)"
            )
        elif known:
            out.print(f"{escape(username)} on {escape(portal)}: removed (not in {where})")
        else:
            _fail(f"no account {username} on {portal} (not in {path}, not in the store)")
        if forget_credentials:
            _forget(fleet.settings.data_dir, portal, username)
        elif fleet.password_stored(portal, username):
            out.print("its secrets stay in the keyring (--forget-credentials deletes them)")
    finally:
        fleet.close()


def _forget(data_dir: Path, portal: str, username: str) -> None:
    from credentials.backends import KeyringConfigError
    from credentials.keyring_vault import CredentialVault, VaultError
    from credentials.scrub import scrub_text
    from credentials.session_state import SessionStore

    try:
        vault = CredentialVault.open(data_dir)
        removed = vault.delete(portal, username)
        dropped = SessionStore(vault).delete(portal, username)
    except (KeyringConfigError, VaultError) as exc:
        _fail(f"removed, but its secrets could not be deleted: {scrub_text(str(exc))}", 1)
    what = ", ".join(k.value for k in removed) or "no secrets were stored"
    out.print(f"deleted from the keyring: {what}" + (" and the saved session" if dropped else ""))
