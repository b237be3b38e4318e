"""Real ``fleet worker`` processes against the fixture world: a data dir, a
keyring with the world's logins, a fleet.toml, and the workers' JSON logs
(shared by the Celery worker tests: redelivery, priorities, cross-host limits)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from fleet.config_loader import settings_for
from scheduler.config import load_config
from scheduler.worker import celery_for
from store.db import init_db, session_factory
from store.models import BotRun
from store.repositories import accounts as accounts_repo

WORKER = (
    "import typer; from fleet.commands.scheduler import register; "
    "app = typer.Typer(); register(app); app()"
)


def wait_until(cond: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Fleet:
    """A data dir, a keyring with the world's logins, a fleet.toml and worker processes."""

    def __init__(
        self,
        root: Path,
        world: Any,
        broker: str,
        keyring: Path,
        visibility: int = 10,
        portal_lines: dict[str, str] | None = None,
    ) -> None:
        """``portal_lines``: a portal's limits as fleet.toml lines, in place of
        the default (a request limit no job reaches)."""
        self.root, self.world, self.broker = root, world, broker
        lines = portal_lines or {}
        scenario = world.world.scenario
        shutil.copytree(keyring, root, dirs_exist_ok=True)
        redis = broker.startswith("redis")
        accounts = "".join(
            f'\n[[accounts]]\nportal = "{a.portal}"\nusername = "{a.username}"\n'
            for a in scenario.accounts
        )
        portals = "".join(
            f'\n[portals.{p}]\nbase_url = "{u}"\n' + lines.get(p, "requests_per_minute = 6000\n")
            for p, u in world.urls.items()
        )
        self.config_file = root / "fleet.toml"
        self.config_file.write_text(
            f'data_dir = "{root}"\nbroker_url = "{broker}"\nmax_contexts = 2\n'
            f'{portals}{accounts}\n[scheduler]\ndispatch = "celery"\n'
            f"celery_visibility_timeout_seconds = {visibility}\n"
            f'account_lock = "{"redis" if redis else "file"}"\naccount_lock_ttl_seconds = 10\n'
        )
        self.config = load_config(self.config_file, required=True)
        self.settings = settings_for(self.config)
        self.db = session_factory(init_db(self.settings.resolved_database_url))
        with self.db() as s, s.begin():
            for a in scenario.accounts:
                accounts_repo.upsert_account(s, a.portal, a.username)
        self.app = celery_for(self.config, self.settings)
        self.app.control.purge()
        self.env = {
            **os.environ,
            "FLEET_CONFIG": str(self.config_file),
            "FLEET_KEYRING_BACKEND": "file",
            "FLEET_KEYRING_KEY_FILE": str(root / "demo-keyring.key"),
            "FLEET_LOG_JSON_CONSOLE": "true",
            "PYTHONPATH": os.getcwd(),
        }
        for key in (
            "FLEET_DATA_DIR",
            "FLEET_DATABASE_URL",
            "FLEET_BROKER_URL",
            "FLEET_PORTAL_URLS",
        ):
            self.env.pop(key, None)
        self.workers: dict[str, subprocess.Popen[bytes]] = {}

    def start_worker(self, name: str) -> subprocess.Popen[bytes]:
        log = (self.root / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                WORKER,
                "worker",
                "--name",
                f"{name}@test",
                "--concurrency",
                "1",
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.workers[name] = proc
        wait_until(
            lambda: self.app.control.ping(destination=[f"{name}@test"], timeout=0.5),
            60,
            f"worker {name} to answer a ping",
        )
        return proc

    def events(self, name: str, event: str) -> list[dict[str, Any]]:
        out = []
        for line in (self.root / f"{name}.log").read_text(errors="replace").splitlines():
            if line.startswith("{") and f'"{event}"' in line:
                out.append(json.loads(line))
        return out

    def runs(self, **where: Any) -> list[BotRun]:
        with self.db() as s:
            stmt = select(BotRun).order_by(BotRun.started_at, BotRun.id)
            for k, v in where.items():
                stmt = stmt.where(getattr(BotRun, k) == v)
            rows = list(s.scalars(stmt))
            s.expunge_all()
            return rows

    def close(self) -> None:
        for proc in self.workers.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.workers.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.app.control.purge()
