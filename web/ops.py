"""The ops pages: fleet health, each failed run's screenshot, HTML and trace,
and what ops does about it (pause and resume an account or a portal, clear a
needs-human item). Ops and admin only (``operate``).

The figures are ``bots.health.health_report``'s, the ones ``fleet health``
prints; pausing is ``scheduler.state`` (``fleet scheduler pause``), clearing
is ``scheduler.ondemand.clear_needs_human``: the same functions as the CLI.
Artifacts are the files ``bots.artifacts`` kept (already masked and
scrubbed); they are portal content, so the screenshot is served as an image
and the HTML and trace only as downloads, never rendered in the app's origin.

Failures by class over time: the failed runs of the last seven UTC days per
day and error class (``store.queries.operations.failures_by_day``), drawn on
the server as SVG with the KPI page's bar helper (``web.kpis.bars``: the page's
CSP allows no inline script) beside a table of the same counts, so a class
that starts on one day (a portal's new layout, a CAPTCHA wave) shows as a
change, not as one more number in a week's total.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine, func, select

from bots.artifacts import run_path
from bots.health import health_report
from matching.reports import KpiTable
from records.schemas import RetrievalStatus, RunStatus
from scheduler import state
from scheduler.ondemand import clear_needs_human
from scheduler.pipeline import portal_kind
from store.models import BotRun, RetrievalRequest, utcnow
from store.queries.operations import FailuresByDay, failures_by_day
from store.repositories.accounts import is_reserved_reason
from web.auth import Principal, require
from web.config import WebConfig
from web.documents import document_headers
from web.kpis import BAR_WIDTH, bars
from web.problems import not_found
from web.rendering import render

router = APIRouter(include_in_schema=False)
Operator = Annotated[Principal, Depends(require("operate"))]
ARTIFACTS = {
    "screenshot.png": ("image/png", True),
    "page.html": ("application/octet-stream", False),
    "trace.zip": ("application/zip", False),
}
"""Artifact file -> (content type, shown inline)."""
RECENT_FAILURES = 20
RUN_TASKS = {
    "retailer": ("sync", "file_dispute", "dispute_status"),
    "carrier": ("pods",),
}
"""What "Run now" offers per portal kind (``scheduler.ondemand.ASKABLE_TASKS``)."""
FAILURE_DAYS = 7
CLASS_COLOURS = ("#c0392b", "#d68910", "#7d3c98", "#2e86c1", "#17a589", "#7f8c8d")
"""Fill of each error class's bars, in the order of most failures (then repeated)."""


@dataclass(frozen=True)
class FailureBar:
    """One bar of the failures chart: a day and a class, or a day with none."""

    day: str
    error_class: str
    """``""`` on a day without failures (no bar; the row says so)."""
    value: Decimal
    width: int
    colour: str
    first_of_day: bool


def failure_bars(failures: FailuresByDay) -> list[FailureBar]:
    """The chart's rows, day by day (oldest first), a bar per class that failed
    that day, every bar scaled to the week's largest count by ``web.kpis.bars``
    (the helper the KPI charts use, so both pages draw alike)."""
    keys = [
        (day, cls)
        for day in failures.days
        for cls in (failures.classes if failures.total(day) else ("",))
        if not cls or failures.count(day, cls)
    ]
    table = KpiTable(
        "failures",
        "Failed runs by day and error class",
        ("day and class", "failed runs"),
        tuple((f"{day.isoformat()} {cls}", failures.count(day, cls)) for day, cls in keys),
    )
    colours = {cls: CLASS_COLOURS[i % len(CLASS_COLOURS)] for i, cls in enumerate(failures.classes)}
    return [
        FailureBar(
            day=day.isoformat(),
            error_class=cls,
            value=value,
            width=width,
            colour=colours.get(cls, CLASS_COLOURS[-1]),
            first_of_day=i == 0 or keys[i - 1][0] != day,
        )
        for i, ((day, cls), (_, value, width)) in enumerate(zip(keys, bars(table), strict=True))
    ]


def _config(request: Request) -> WebConfig:
    config: WebConfig = request.app.state.config
    return config


def _engine(config: WebConfig) -> Engine:
    """The store's engine (scheduler.state works on one)."""
    with config.db() as s:
        bind = s.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def _run_dir(config: WebConfig, portal: str, run_id: str) -> Path | None:
    """Where bots.artifacts kept this run's files, if anywhere."""
    if config.artifacts is None:
        return None
    d = run_path(config.artifacts, portal, run_id)
    return d if d.is_dir() else None


@router.get("/ops", response_class=HTMLResponse)
def ops_page(request: Request, who: Operator) -> HTMLResponse:
    config = _config(request)
    now = utcnow()
    with config.db() as s:
        report = health_report(s, now=now)
        failed = (
            s.execute(
                select(BotRun)
                .where(
                    BotRun.status == RunStatus.failed, BotRun.started_at >= now - timedelta(days=7)
                )
                .order_by(BotRun.started_at.desc())
                .limit(RECENT_FAILURES)
            )
            .scalars()
            .all()
        )
        running = (
            s.execute(
                select(BotRun).where(BotRun.status == RunStatus.running).order_by(BotRun.started_at)
            )
            .scalars()
            .all()
        )
        failures_week = failures_by_day(s, now.astimezone(UTC).date(), FAILURE_DAYS)
        queued = s.scalar(
            select(func.count())
            .select_from(RetrievalRequest)
            .where(RetrievalRequest.status == RetrievalStatus.queued)
        )
    paused = state.paused(_engine(config))
    failures = [
        (run, sorted(p.name for p in d.iterdir() if p.name in ARTIFACTS) if d else [])
        for run in failed
        for d in [_run_dir(config, run.portal, run.run_id)]
    ]
    return render(
        request,
        "ops.html",
        who,
        report=report,
        paused=paused,
        failures=failures,
        running=running,
        queued=queued or 0,
        failures_week=failures_week,
        run_tasks=RUN_TASKS,
        portal_kind=portal_kind,
        enable_offered={
            (a["portal"], a["account"])
            for a in report["accounts"]
            if not a["enabled"] and not is_reserved_reason(a["disabled_reason"] or "")
        },
        failure_bars=failure_bars(failures_week),
        bar_width=BAR_WIDTH,
        flash=request.query_params.get("flash", "")[:200],
    )


@router.get("/ops/runs/{run_id}/{name}")
def artifact(request: Request, run_id: str, name: str, who: Operator) -> Response:
    if name not in ARTIFACTS:
        raise not_found("no such artifact")
    config = _config(request)
    with config.db() as s:
        run = s.execute(select(BotRun).where(BotRun.run_id == run_id[:64])).scalar_one_or_none()
    d = _run_dir(config, run.portal, run.run_id) if run is not None else None
    path = d / name if d is not None else None
    if path is None or not path.is_file():
        raise not_found("this run left no such file")
    media_type, inline = ARTIFACTS[name]
    headers = document_headers(media_type, f"{run_id[:64]}-{name}", inline=inline)
    return Response(path.read_bytes(), headers=headers)


def _back(flash: str) -> Response:
    return RedirectResponse(f"/ops?flash={flash}", status_code=303)


@router.post("/ops/pause")
def pause(
    request: Request,
    who: Operator,
    portal: Annotated[str, Form(max_length=64)],
    account: Annotated[str, Form(max_length=320)] = state.ALL_ACCOUNTS,
) -> Response:
    state.pause(_engine(_config(request)), portal, account or state.ALL_ACCOUNTS, by=who.username)
    return _back("paused")


@router.post("/ops/resume")
def resume(
    request: Request,
    who: Operator,
    portal: Annotated[str, Form(max_length=64)],
    account: Annotated[str, Form(max_length=320)] = state.ALL_ACCOUNTS,
) -> Response:
    state.resume(_engine(_config(request)), portal, account or state.ALL_ACCOUNTS)
    return _back("resumed")


@router.post("/ops/needs-human/{request_id}/clear")
def clear(request: Request, request_id: int, who: Operator) -> Response:
    done = clear_needs_human(_config(request).db, request_id, who.username)
    return _back("cleared" if done else "nothing+to+clear")


__all__ = ["FailureBar", "failure_bars", "router"]
