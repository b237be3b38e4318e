"""``fleet accounts`` as a person uses it: refusals leave fleet.toml untouched and
say what to do; add, disable, enable and remove show in ``list`` and in what
``fleet run`` will run."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy import select, update
from typer.testing import CliRunner

from fleet.cli import app
from store.db import make_engine, session_factory, transaction
from store.models import Account, AuditLog, HealthEvent
from store.repositories import accounts as accounts_repo
from tests.unit.credentials.conftest import (  # noqa: F401  (fixtures)
    _isolate_keyring_and_logging,
    cli_env,
)

runner = CliRunner()
PORTALS = '[portals.megamart]\nbase_url = "http://127.0.0.2:9"\n'


@pytest.fixture
def env(cli_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:  # noqa: F811
    """A data dir, an encrypted file keyring and FLEET_CONFIG; returns fleet.toml's path."""
    config = tmp_path / "fleet.toml"
    monkeypatch.setenv("FLEET_CONFIG", str(config))
    monkeypatch.setenv("FLEET_USER", "dana")
    monkeypatch.setenv("COLUMNS", "200")
    return config


def fleet(*args: str, stdin: str | None = None) -> Result:
    return runner.invoke(app, list(args), input=stdin)


def listed(env: Path) -> dict[str, dict[str, Any]]:
    r = fleet("accounts", "list", "--json")
    assert r.exit_code == 0, r.output
    return {f"{a['portal']}/{a['username']}": a for a in json.loads(r.stdout)["accounts"]}


def errors(r: Result) -> list[str]:
    return [line for line in r.stderr.splitlines() if line.startswith("error:")]


def test_add_refuses_with_one_clear_line_and_leaves_the_file_alone(env: Path) -> None:
    r = fleet("accounts", "add", "megamart", "acme-ar")
    assert r.exit_code == 2
    assert errors(r) == [
        f"error: {env} does not exist: pass --base-url URL, or write the "
        "portal's table (fleet.example.toml shows one)"
    ]
    assert not env.exists()

    env.write_text(PORTALS + "\n# our accounts\n")
    r = fleet("accounts", "add", "megamarket", "acme-ar")
    assert r.exit_code == 2
    assert len(errors(r)) == 1
    assert "no adapter for portal 'megamarket'; known: " in r.stderr
    r = fleet("accounts", "add", "shopright", "ap@acme.example")
    assert r.exit_code == 2
    assert errors(r) == [
        f"error: {env} has no [portals.shopright] base_url: pass --base-url "
        "URL, or write the portal's table (fleet.example.toml shows one)"
    ]
    r = fleet("accounts", "add", "megamart", "acme-ar", "--cron", "0 25 * * *")
    assert r.exit_code == 2
    assert "accounts[0].schedule.cron: invalid cron expression '0 25 * * *'" in r.stderr
    assert "unchanged" in r.stderr
    assert env.read_text() == PORTALS + "\n# our accounts\n"
    assert listed(env) == {}

    assert fleet("accounts", "add", "megamart", "acme-ar").exit_code == 0
    r = fleet("accounts", "add", "megamart", "acme-ar")
    assert r.exit_code == 2
    assert errors(r) == [f"error: acme-ar on megamart is already in {env}"]


def test_add_list_disable_enable_remove(env: Path) -> None:
    r = fleet(
        "accounts",
        "add",
        "megamart",
        "acme-ar",
        "--cron",
        "0 2 * * 1-5",
        "--timezone",
        "America/Chicago",
        "--base-url",
        "http://127.0.0.2:9",
    )
    assert r.exit_code == 0, r.output
    assert "fleet credentials set megamart acme-ar" in r.stdout
    assert 'schedule.cron = "0 2 * * 1-5"' in env.read_text()
    acct = listed(env)["megamart/acme-ar"]
    assert acct["state"] == "enabled"
    assert acct["password_stored"] is False
    assert acct["schedule"] == {
        "cron": "0 2 * * 1-5",
        "timezone": "America/Chicago",
        "task": "sync",
    }
    assert acct["next_run"] is not None
    assert acct["last_run"] is None

    r = fleet("accounts", "disable", "megamart", "acme-ar", "--reason", "month end")
    assert r.exit_code == 0, r.output
    assert listed(env)["megamart/acme-ar"]["state"] == "disabled"
    assert listed(env)["megamart/acme-ar"]["next_run"] is None
    r = fleet("run")  # nothing enabled: it says how to add one
    assert r.exit_code == 1
    assert "fleet accounts add PORTAL USERNAME" in r.stderr

    r = fleet("accounts", "enable", "megamart", "acme-ar")
    assert r.exit_code == 1
    assert errors(r) == [
        "error: no password stored for acme-ar on megamart; store it first: "
        "fleet credentials set megamart acme-ar"
    ]
    r = fleet("credentials", "set", "megamart", "acme-ar", stdin="s3cret-pw\n")
    assert r.exit_code == 0, r.output
    r = fleet("accounts", "enable", "megamart", "acme-ar")
    assert r.exit_code == 0, r.output
    acct = listed(env)["megamart/acme-ar"]
    assert (acct["state"], acct["password_stored"]) == ("enabled", True)
    assert "s3cret-pw" not in json.dumps(acct)

    r = fleet("accounts", "remove", "megamart", "acme-ar")
    assert r.exit_code == 0, r.output
    assert "[[accounts]]" not in env.read_text()
    assert listed(env)["megamart/acme-ar"]["state"] == "removed"
    assert listed(env)["megamart/acme-ar"]["password_stored"] is True  # kept without the flag
    assert "--forget-credentials" in r.stdout

    engine = make_engine(f"sqlite:///{env.parent / 'data' / 'fleet.db'}")
    with session_factory(engine)() as s:
        actions = s.scalars(select(AuditLog.action).order_by(AuditLog.seq)).all()
        actors = set(s.scalars(select(AuditLog.actor)).all())
        health = s.scalars(select(HealthEvent.kind).order_by(HealthEvent.id)).all()
    engine.dispose()
    assert actions == ["account.added", "account.disabled", "account.enabled", "account.removed"]
    assert actors == {"fleet.toml", "cli:dana"}
    assert health == ["account_disabled", "account_enabled"]


def test_a_hand_edit_is_followed_and_re_adding_revives(env: Path) -> None:
    env.write_text(
        PORTALS + '\n[[accounts]]\nportal = "megamart"\nusername = "a"\n'
        '\n[[accounts]]\nportal = "megamart"\nusername = "b"\n'
    )
    assert set(listed(env)) == {"megamart/a", "megamart/b"}
    env.write_text(PORTALS + '\n[[accounts]]\nportal = "megamart"\nusername = "a"\n')
    assert listed(env)["megamart/b"]["state"] == "removed"
    assert listed(env)["megamart/b"]["in_config"] is False
    r = fleet("accounts", "add", "megamart", "b")
    assert r.exit_code == 0, r.output
    assert "revived" in r.stdout
    assert listed(env)["megamart/b"]["state"] == "enabled"


def test_remove_forgets_credentials_when_asked(env: Path) -> None:
    assert (
        fleet("accounts", "add", "megamart", "a", "--base-url", "http://h.example").exit_code == 0
    )
    assert fleet("credentials", "set", "megamart", "a", stdin="pw-one\n").exit_code == 0
    r = fleet("accounts", "remove", "megamart", "a", "--forget-credentials")
    assert r.exit_code == 0, r.output
    assert "deleted from the keyring: password" in r.stdout
    assert "no credentials stored" in fleet("credentials", "list").stdout
    r = fleet("accounts", "remove", "megamart", "nobody")
    assert r.exit_code == 2
    assert errors(r) == [f"error: no account nobody on megamart (not in {env}, not in the store)"]


def test_enable_after_bad_credentials_warns_while_the_password_is_the_refused_one(
    env: Path,
) -> None:
    assert (
        fleet("accounts", "add", "megamart", "a", "--base-url", "http://h.example").exit_code == 0
    )
    assert fleet("credentials", "set", "megamart", "a", stdin="pw-one\n").exit_code == 0
    engine = make_engine(f"sqlite:///{env.parent / 'data' / 'fleet.db'}")

    def refused(at: datetime) -> None:  # what the runtime does on BadCredentials, at ``at``
        with transaction(session_factory(engine)) as s:
            accounts_repo.set_enabled(s, "megamart", "a", False, "refused (BadCredentials)")
            s.execute(update(Account).values(updated_at=at))

    refused(datetime.now(UTC) + timedelta(hours=1))  # after the password was stored
    r = fleet("accounts", "enable", "megamart", "a")
    assert r.exit_code == 0, r.output
    assert "warning: the portal refused this login and the password has not changed" in r.stderr
    assert "fleet credentials rotate megamart a" in r.stderr
    refused(datetime.now(UTC) - timedelta(hours=1))  # before it: a new password since
    r = fleet("accounts", "enable", "megamart", "a")
    assert r.exit_code == 0, r.output
    assert "warning" not in r.stderr
    engine.dispose()
    assert listed(env)["megamart/a"]["state"] == "enabled"
