"""The KPI page: the figures of ``fleet kpis`` (``matching.reports.kpis``,
the same function), each table beside a bar chart drawn on the server as SVG
(no script: the page's CSP allows none inline) and downloadable as CSV.

The trend (DDO and recovered over time) is the days ``matching.kpi_history``
kept, shaped as the same :class:`KpiTable` and drawn by the same chart
helper; ``/kpis/history.csv`` is every kept day, as ``fleet kpis --history``.

Measured on the business day the fleet is given (the world's clock in the
demo, the real date otherwise): ``WebConfig.today``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from matching.kpi_history import history, history_tables
from matching.reports import KPI_HEADLINE, KpiTable, kpi_tables, kpis
from records.spreadsheet import csv_text
from web.auth import Principal, require
from web.config import WebConfig
from web.problems import not_found
from web.rendering import render

router = APIRouter(include_in_schema=False)
Viewer = Annotated[Principal, Depends(require("view"))]
BAR_WIDTH = 320
"""Pixels of the longest bar."""
HISTORY_DAYS = 31
"""Business days the page draws (the CSV has every kept day)."""
HISTORY_TABLES = frozenset(t.name for t in history_tables([]))


def _figures(config: WebConfig) -> dict[str, object]:
    with config.db() as s:
        return kpis(s, config.today())


def _history(config: WebConfig, days: int | None = None) -> list[KpiTable]:
    """The kept days up to the business day (the last ``days``, or all)."""
    with config.db() as s:
        return history_tables(history(s, config.today(), days))


def bars(table: KpiTable) -> list[tuple[str, Decimal, int]]:
    """(label, value, bar width in pixels) of the table's charted column;
    negative values draw no bar (the number beside says what it is)."""
    charted = table.charted()
    top = max((v for _, v in charted), default=Decimal(0))
    return [
        (label, value, int(BAR_WIDTH * value / top) if top > 0 and value > 0 else 0)
        for label, value in charted
    ]


@router.get("/kpis", response_class=HTMLResponse)
def kpi_page(request: Request, who: Viewer) -> HTMLResponse:
    config: WebConfig = request.app.state.config
    figures = _figures(config)
    tables = kpi_tables(figures)
    trend = [t for t in _history(config, HISTORY_DAYS) if t.name != "history"]
    return render(
        request,
        "kpis.html",
        who,
        headline=[(label, figures.get(key)) for key, label in KPI_HEADLINE],
        trend=[(t, bars(t)) for t in trend],
        tables=[(t, bars(t)) for t in tables],
        bar_width=BAR_WIDTH,
        history_days=HISTORY_DAYS,
    )


@router.get("/kpis/{name}.csv")
def kpi_csv(request: Request, name: str, who: Viewer) -> Response:
    config: WebConfig = request.app.state.config
    tables = _history(config) if name in HISTORY_TABLES else kpi_tables(_figures(config))
    found = {t.name: t for t in tables}.get(name)
    if found is None:
        raise not_found(f"no KPI table {name[:40]!r}")
    day: date = config.today()
    return Response(
        csv_text(found.columns, found.rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="kpi-{found.name}-{day}.csv"'},
    )


__all__ = ["bars", "router"]
