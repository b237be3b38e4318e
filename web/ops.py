"""The ops pages: fleet health, each failed run's screenshot, HTML and trace,
and what ops does about it (pause and resume an account or a portal, clear a
needs-human item). Ops and admin only (``operate``).

The figures are ``bots.health.health_report``'s, the ones ``fleet health``
prints; pausing is ``scheduler.state`` (``fleet scheduler pause``), clearing
is ``scheduler.ondemand.clear_needs_human``: the same functions as the CLI.
Artifacts are the files ``bots.artifacts`` kept (already masked and
scrubbed); they are portal content, so the screenshot is served as an image
and the HTML and trace only as downloads, never rendered in the app's origin.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine, func, select

from bots.artifacts import run_path
from bots.health import health_report
from records.schemas import RetrievalStatus, RunStatus
from scheduler import state
from scheduler.ondemand import clear_needs_human
from store.models import BotRun, RetrievalRequest, utcnow
from web.auth import Principal, require
from web.config import WebConfig
from web.documents import document_headers
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


__all__ = ["router"]
