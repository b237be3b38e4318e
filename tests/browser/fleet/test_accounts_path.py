"""docs/operations.md's path from an empty data dir to a first run, through the
real ``fleet`` command (one process per step, as a person types them):
fleet.toml with the portal, ``fleet credentials set`` (secrets on stdin),
``fleet accounts add``, ``fleet config check``, ``fleet db upgrade``,
``fleet run``, ``fleet health``, ``fleet accounts list``. The run must store
every deduction the world shows that account, and no step may print a secret."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from store.db import make_engine, session_factory
from store.models import Deduction

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FLEET = Path(sys.executable).with_name("fleet")
PORTAL = "megamart"


class Shell:
    """Runs ``fleet`` steps with a person's environment for one data dir."""

    def __init__(self, root: Path, secrets: set[str]) -> None:
        self.root, self.secrets = root, secrets
        key = root / "keyring.key"
        key.write_bytes(os.urandom(48).hex().encode())  # a long random passphrase
        key.chmod(0o600)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("FLEET_")}
        self.env.update(
            {
                "FLEET_DATA_DIR": str(root / "data"),
                "FLEET_CONFIG": str(root / "fleet.toml"),
                "FLEET_KEYRING_BACKEND": "file",
                "FLEET_KEYRING_KEY_FILE": str(key),
                "COLUMNS": "200",
            }
        )

    def __call__(self, *args: str, stdin: str = "", ok: bool = True) -> str:
        done = subprocess.run(
            [str(FLEET), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.root,
            timeout=280,
            check=False,
        )
        for secret in self.secrets:
            assert secret not in done.stdout + done.stderr, f"fleet {args[0]} printed a secret"
        if ok:
            assert done.returncode == 0, f"fleet {' '.join(args)}:\n{done.stderr[-3000:]}"
        return done.stdout


def test_from_an_empty_data_dir_to_a_first_run(world_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    running = world_factory()
    login = running.world.scenario.accounts_on(PORTAL)[0]
    expected = {d.deduction_id for d in running.world.visible_deductions(PORTAL, login.username)}
    assert expected, "the world shows this account no deduction: nothing would be tested"
    fleet = Shell(tmp_path, {login.password, login.totp_secret or login.password})

    # 1. fleet.toml: the portal (the rate is the fixture world's, not a real portal's)
    (tmp_path / "fleet.toml").write_text(
        "# our fleet\n\n"
        f'[portals.{PORTAL}]\nbase_url = "{running.urls[PORTAL]}"\n'
        "requests_per_minute = 6000\n"
    )
    # 2. the login's secrets, on stdin
    out = fleet(
        "credentials",
        "set",
        PORTAL,
        login.username,
        "--totp",
        stdin=f"{login.password}\n{login.totp_secret}\n",
    )
    assert "stored password, totp" in out
    # 3. the account
    out = fleet("accounts", "add", PORTAL, login.username, "--cron", "0 2 * * *")
    assert f"added {login.username} on {PORTAL}" in out
    assert "no password stored" not in out
    assert 'username = "' + login.username + '"' in (tmp_path / "fleet.toml").read_text()
    assert (tmp_path / "fleet.toml").read_text().startswith("# our fleet\n")
    # 4. check, 5. schema
    assert f"{PORTAL}/{login.username}" in fleet("config", "check")
    assert "at revision" in fleet("db", "upgrade")
    # 6. the first run
    fleet("run")
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'fleet.db'}")
    try:
        with session_factory(engine)() as s:
            stored = set(
                s.scalars(
                    select(Deduction.external_id).where(
                        Deduction.portal == PORTAL, Deduction.account == login.username
                    )
                )
            )
    finally:
        engine.dispose()
    assert stored == expected
    # 7. how it went
    health = json.loads(fleet("health", "--json"))
    row = next(a for a in health["accounts"] if a["account"] == login.username)
    assert (row["enabled"], row["last_status"]) == (True, "succeeded")
    listed = json.loads(fleet("accounts", "list", "--json"))["accounts"]
    assert [(a["portal"], a["username"], a["state"]) for a in listed] == [
        (PORTAL, login.username, "enabled")
    ]
    assert listed[0]["password_stored"] is True
    assert listed[0]["last_run"]["status"] == "succeeded"
    assert listed[0]["last_run"]["task"] == "sync"
