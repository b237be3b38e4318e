"""A sync that logs in and lists far fewer claims than the account usually
does becomes an ``anomaly`` health event (bots/anomalies.py), which every page
of the web app shows as a banner and ``fleet health`` prints; a steady or a
first sync raises nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bots.anomalies import check_listed_rows, recent_anomalies
from records.schemas import RunStatus
from store.db import transaction
from store.models import BotRun
from tests.integration.web.conftest import make_store


def _sync(s, run_id: str, listed: int, ago_hours: int, full: bool = False) -> None:  # type: ignore[no-untyped-def]
    at = datetime.now(UTC) - timedelta(hours=ago_hours)
    counts = {"deductions.unchanged": listed - 2, "deductions.updated": 2}
    s.add(
        BotRun(
            run_id=run_id, portal="megamart", account="acme-ar", task="sync",
            status=RunStatus.succeeded, started_at=at, finished_at=at,
            counts={**counts, "sync.full": 1} if full else counts,
        )
    )  # fmt: skip


def test_a_sync_that_lists_far_fewer_claims_is_an_anomaly_on_every_page(tmp_path: Path) -> None:
    web = make_store(tmp_path)
    with transaction(web.db) as s:
        assert check_listed_rows(s, "megamart", "acme-ar", 0) is None, "a first sync: no usual"
        _sync(s, "backfill", 900, 40, full=True)  # the first sync read the whole history
        assert check_listed_rows(s, "megamart", "acme-ar", 60) is None, "incremental: no usual yet"
        for i, n in enumerate((60, 58, 61)):
            _sync(s, f"r{i}", n, 30 - i)
        assert check_listed_rows(s, "megamart", "acme-ar", 850, full=True) is None, "vs full"
        assert check_listed_rows(s, "megamart", "acme-ar", 55) is None, "steady"
        assert check_listed_rows(s, "megamart", "acme-ar", 19) is None, "a third: not yet"
        found = check_listed_rows(s, "megamart", "acme-ar", 0, run_id="r-now")
    assert found is not None
    assert (found["listed"], found["usual"]) == (0, 60)
    with web.db() as s:
        [event] = recent_anomalies(s, datetime.now(UTC))
    assert event["message"] == "megamart acme-ar: the sync listed 0 claims, usually 60"

    for user in ("ana", "otto"):
        page = web.login(user).client.get("/worklist").text
        assert "megamart acme-ar: the sync listed 0 claims, usually 60" in page
        assert ('href="/ops">fleet health' in page) == (user == "otto")
    polled = web.login("ana").client.get(f"/deductions/{web.ids['CB-1001']}/retrievals")
    assert polled.status_code == 200
    assert "Anomaly" not in polled.text, "a fragment htmx polls carries no banner"
    env = {
        **os.environ,
        "FLEET_DATA_DIR": str(tmp_path),
        "FLEET_CONFIG": str(tmp_path / "absent.toml"),
        "COLUMNS": "80",
    }
    env.pop("FLEET_DATABASE_URL", None)
    out = subprocess.run(
        [sys.executable, "-m", "fleet.cli", "health"],
        env=env, capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    assert "anomaly megamart acme-ar: the sync listed 0 claims, usually 60" in out
    with transaction(web.db) as s:  # a day later the banner is gone
        old = datetime.now(UTC) + timedelta(hours=25)
        assert recent_anomalies(s, old) == []
