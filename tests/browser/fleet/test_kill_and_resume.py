"""A `fleet run` process killed with SIGKILL mid-sync and started again ends
complete: no duplicate rows, and no document downloaded twice except, at
most, the ones in flight when the process died (one per page at work: each
of megamart's jobs at once works its login's pages); the dead process's run
is reaped (WorkerLost), not left running."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bots.politeness import PortalLimits
from fixtures.audit import audit
from fixtures.server import start_world
from fleet.demo import demo_keyring
from records.schemas import RunStatus
from scheduler.housekeeping import reap_stale_runs
from store.db import init_db, session_factory
from store.models import BotRun, Document
from store.repositories import accounts as accounts_repo

pytestmark = [pytest.mark.browser, pytest.mark.slow]

IN_FLIGHT_AT_MOST = PortalLimits().concurrent_jobs * PortalLimits().pages
"""Documents a killed `fleet run` can have had in flight on megamart (no
fleet.toml: the defaults), each downloaded again by the next run."""


def _env(data_dir: Path, urls: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEET_")}
    env.update(
        {
            "FLEET_DATA_DIR": str(data_dir),
            "FLEET_PORTAL_URLS": json.dumps(urls),
            "FLEET_KEYRING_BACKEND": "file",
            "FLEET_KEYRING_KEY_FILE": str(data_dir / "demo-keyring.key"),
            "FLEET_CONFIG": str(data_dir / "absent.toml"),
        }
    )
    return env


def _fleet_run(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "fleet.cli", "run", "--portal", "megamart"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_killed_run_resumes_without_duplicates_or_redownloads(small_world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data_dir = tmp_path / "fleet"
    demo_keyring(data_dir, small_world)
    db = session_factory(init_db(f"sqlite:///{(data_dir / 'fleet.db').resolve()}"))
    with db() as s, s.begin():
        for a in small_world.accounts:
            accounts_repo.upsert_account(s, a.portal, a.username)
    with start_world(small_world, "megamart:latency_ms=30") as running:
        env = _env(data_dir, running.urls)
        first = _fleet_run(env)
        deadline = time.monotonic() + 120
        stored = 0
        while stored < 10:  # wait until the run is well into the documents
            assert first.poll() is None, first.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the run stored no documents in time"
            with db() as s:
                stored = s.scalar(select(func.count()).select_from(Document)) or 0
            time.sleep(0.2)  # polling the database for progress, not synchronising threads
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        downloads_before_restart = len(running.world.record.downloads)
        second = _fleet_run(env)
        assert second.wait(timeout=300) == 0, second.stderr.read().decode()[-3000:]  # type: ignore[union-attr]
        world = running.world
        report = audit(world, db)
        mm = report.as_dict()["documents"]
        assert report.duplicates == 0
        megamart_missing = [
            m for k in mm.values() for m in k["missing_detail"] if m["ref"].startswith("megamart:")
        ]
        assert megamart_missing == []
        with db() as s:
            assert report.deductions_stored >= len(
                [
                    d
                    for a in small_world.accounts_on("megamart")
                    for d in world.visible_deductions("megamart", a.username)
                ]
            )
        refetched = Counter(e.ref for e in world.record.downloads)
        twice = [ref for ref, n in refetched.items() if n > 1]
        assert len(twice) <= IN_FLIGHT_AT_MOST, twice  # at most those in flight at the kill
        assert len(world.record.downloads) > downloads_before_restart

        # The killed process never finished its run: housekeeping closes exactly that
        # one (the restarted run finished), so `fleet health` does not show it running.
        with db() as s:
            left = s.scalars(select(BotRun.run_id).where(BotRun.status == "running")).all()
        assert len(left) == 1
        assert reap_stale_runs(db, timedelta(0)) == left
        with db() as s:
            dead = s.scalars(select(BotRun).where(BotRun.run_id == left[0])).one()
            assert (dead.status, dead.error_class) == (RunStatus.failed, "WorkerLost")
            assert (
                s.scalar(select(func.count()).select_from(BotRun).where(BotRun.status == "running"))
                == 0
            )
