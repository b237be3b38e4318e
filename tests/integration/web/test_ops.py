"""The ops pages: fleet health as ``fleet health`` reports it, a failed run's
screenshot shown in the page and its HTML and trace as downloads only; ops
pauses and resumes an account (``scheduler.state``, as ``fleet scheduler
pause``) and clears a needs-human item; nobody else may. The failed runs of
the last seven days are charted per day and error class, with the counts
beside the chart."""

from __future__ import annotations

import base64
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from records.schemas import RetrievalStatus, RunStatus
from scheduler import state
from store.db import transaction
from store.models import BotRun, RetrievalRequest
from store.repositories import accounts as accounts_repo
from store.repositories import runs as runs_repo
from tests.integration.web.conftest import WebStore, make_store

# a 1x1 PNG, as a failed run's screenshot
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
EVIL_PAGE = b"<html><script>window.pwned=1</script>login failed</html>"
# (days ago, error class, status) of the carrier's runs over the last weeks
CARRIER_RUNS = (
    (2, "PortalUnavailable", RunStatus.failed),
    (2, "PortalUnavailable", RunStatus.failed),
    (2, "CaptchaRequired", RunStatus.failed),
    (2, None, RunStatus.succeeded),
    (5, None, RunStatus.failed),  # a failure without a class counts as "unknown"
    (9, "PortalUnavailable", RunStatus.failed),  # older than the chart's week
)


def _store(tmp_path: Path) -> WebStore:
    web = make_store(tmp_path, artifacts=tmp_path / "artifacts")
    now = datetime.now(UTC)
    with transaction(web.db) as s:
        accounts_repo.upsert_account(s, "megamart", "acme-ar")
        accounts_repo.upsert_account(s, "parcelnet", "acme-parcel")
        s.add_all(
            [
                BotRun(run_id="run-ok", portal="megamart", account="acme-ar", task="sync",
                       status=RunStatus.succeeded, started_at=now - timedelta(hours=2),
                       finished_at=now - timedelta(hours=2)),
                BotRun(run_id="run-bad", portal="megamart", account="acme-ar", task="sync",
                       status=RunStatus.failed, error_class="LayoutChanged",
                       started_at=now - timedelta(hours=1), finished_at=now - timedelta(hours=1)),
                BotRun(run_id="run-going", portal="parcelnet", account="acme-parcel",
                       task="pods", status=RunStatus.running, started_at=now),
                RetrievalRequest(requester="ana", target_kind="pod", target_value="PRO-77",
                                 portal="parcelnet", status=RetrievalStatus.needs_human,
                                 error_class="CaptchaRequired", finished_at=now),
            ]
        )  # fmt: skip
    with transaction(web.db) as s:  # through the runner's own repository
        for i, (days, error_class, status) in enumerate(CARRIER_RUNS):
            at = now - timedelta(days=days, minutes=i)
            runs_repo.start(s, f"pods-{i}", "parcelnet", "pods", "acme-parcel", started_at=at)
            runs_repo.finish(s, f"pods-{i}", status, error_class=error_class, finished_at=at)
    run_dir = tmp_path / "artifacts" / "megamart" / "run-bad"
    run_dir.mkdir(parents=True)
    (run_dir / "screenshot.png").write_bytes(PNG)
    (run_dir / "page.html").write_bytes(EVIL_PAGE)
    return web


def test_ops_sees_health_and_a_failed_runs_screenshot(tmp_path: Path) -> None:
    web = _store(tmp_path)
    otto = web.login("otto")  # ops
    page = otto.client.get("/ops")
    assert page.status_code == 200
    assert "1 run in progress" in page.text
    assert "1 waiting for a person" in page.text
    assert "LayoutChanged 1" in page.text
    assert "CaptchaRequired" in page.text
    assert 'src="/ops/runs/run-bad/screenshot.png"' in page.text
    assert 'href="/ops/runs/run-bad/page.html"' in page.text
    assert "run-bad/trace.zip" not in page.text, "only the files the run left"
    shot = otto.client.get("/ops/runs/run-bad/screenshot.png")
    assert shot.status_code == 200
    assert shot.content == PNG
    assert shot.headers["content-type"] == "image/png"
    assert shot.headers["x-content-type-options"] == "nosniff"
    html = otto.client.get("/ops/runs/run-bad/page.html")
    assert html.content == EVIL_PAGE
    assert html.headers["content-type"] == "application/octet-stream", "never rendered here"
    assert html.headers["content-disposition"].startswith("attachment")
    assert otto.client.get("/ops/runs/run-bad/trace.zip").status_code == 404
    assert otto.client.get("/ops/runs/run-bad/..%2F..%2Ffleet.db").status_code == 404
    assert otto.client.get("/ops/runs/nope/screenshot.png").status_code == 404


def _charted(page: str) -> tuple[list[str], dict[tuple[str, str], int], dict[tuple[str, str], int]]:
    """The chart's days, its bars as (day, class) -> count, and the table
    beside it the same way."""
    section = page.split('id="failures-by-class"')[1].split('id="failures"')[0]
    bars = {
        (day, cls): int(n)
        for day, cls, n in re.findall(
            r'<rect class="bar"[^>]*data-day="([^"]+)" data-class="([^"]+)" data-count="(\d+)"',
            section,
        )
    }
    table = section.split("<tbody>")[1].split("</tbody>")[0]
    days = re.findall(r'<tr data-day="([^"]+)">', table)
    cells = {
        (day, cls): int(n)
        for row_day, row in re.findall(r'<tr data-day="([^"]+)">(.*?)</tr>', table, re.S)
        for day, (cls, n) in ((row_day, c) for c in re.findall(
            r'<td class="num" data-class="([^"]+)">(\d+)</td>', row))
        if int(n)
    }  # fmt: skip
    return days, bars, cells


def test_ops_charts_failed_runs_per_day_and_class(tmp_path: Path) -> None:
    web = _store(tmp_path)
    with web.db() as s:  # what the test created, counted by the day each run started
        failed = s.execute(
            select(BotRun.started_at, BotRun.error_class).where(BotRun.status == RunStatus.failed)
        ).all()
    today = datetime.now(UTC).date()
    week = [today - timedelta(days=n) for n in range(6, -1, -1)]
    expected = Counter(
        (at.date().isoformat(), cls or "unknown") for at, cls in failed if at.date() in week
    )
    assert sum(expected.values()) == 5, "the run 9 days old is left out"
    page = web.login("otto").client.get("/ops").text
    days, bars, cells = _charted(page)
    assert days == [d.isoformat() for d in week]
    assert bars == dict(expected)
    assert cells == dict(expected), "the numbers beside the chart are the same"
    quiet = next(d for d in week if not any(k[0] == d.isoformat() for k in expected))
    assert quiet < today
    assert "no failures" in page.split('id="failures-by-class"')[1].split('id="failures"')[0]
    nine_days_ago = (today - timedelta(days=9)).isoformat()
    assert nine_days_ago not in page.split('id="failures-by-class"')[1].split('id="failures"')[0]


def test_ops_pauses_resumes_and_clears_and_others_may_not(tmp_path: Path) -> None:
    web = _store(tmp_path)
    with web.db() as s:
        engine = s.get_bind()
    ana = web.login("ana")  # analyst
    assert ana.client.get("/ops").status_code == 403
    assert ana.post("/ops/pause", {"portal": "megamart", "account": "acme-ar"}).status_code == 403
    assert not state.is_paused(engine, "megamart", "acme-ar")

    otto = web.login("otto")
    done = otto.post("/ops/pause", {"portal": "megamart", "account": "acme-ar"})
    assert done.status_code == 303
    assert state.is_paused(engine, "megamart", "acme-ar")
    assert not state.is_paused(engine, "parcelnet", "acme-parcel")
    page = otto.client.get("/ops").text
    assert ">Resume</button>" in page
    otto.post("/ops/resume", {"portal": "megamart", "account": "acme-ar"})
    assert not state.is_paused(engine, "megamart", "acme-ar")
    otto.post("/ops/pause", {"portal": "parcelnet", "account": ""})  # the whole portal
    assert state.is_paused(engine, "parcelnet", "acme-parcel")

    with web.db() as s:
        rid = s.scalars(select(RetrievalRequest.id)).one()
    assert otto.post(f"/ops/needs-human/{rid}/clear").status_code == 303
    with web.db() as s:
        row = s.get(RetrievalRequest, rid)
        assert row is not None
        assert (row.status, row.error_class) == (RetrievalStatus.failed, "ClearedByPerson")
    assert "Nothing waits for a person." in otto.client.get("/ops").text
    again = otto.post(f"/ops/needs-human/{rid}/clear")
    assert again.headers["location"].endswith("nothing+to+clear")
