"""Jinja2 templates (autoescape on: everything from portals is text) and the
helpers the pages share."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from bots.anomalies import recent_anomalies
from store.models import utcnow
from web.auth import Principal

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.autoescape = True


def _money(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def _when(value: datetime | date | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
"""Bidi controls and invisible characters: a right-to-left override would make
"FDP.exe" read as "exe.PDF"; in the page each shows as its code point."""


def reveal(value: object) -> object:
    """Every string a template prints, with :data:`INVISIBLE` made visible."""
    if isinstance(value, str):
        return INVISIBLE.sub(lambda m: f"[U+{ord(m.group()):04X}]", value)
    return value


templates.env.finalize = reveal
templates.env.filters["money"] = _money
templates.env.filters["when"] = _when


def banners(request: Request, who: Principal | None) -> list[dict[str, Any]]:
    """What every signed-in page says at its top: the anomalies of the last day
    (bots/anomalies.py), so a portal gone quiet is never silence. Fragments
    (templates named ``_*``, e.g. the retrieval status htmx polls every second)
    carry no banner and ask for none."""
    if who is None:
        return []
    config = request.app.state.config
    with config.db() as s:
        return recent_anomalies(s, utcnow())


def render(
    request: Request, name: str, who: Principal | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        name,
        {
            "who": who,
            "banners": [] if name.startswith("_") else banners(request, who),
            **context,
        },
        status_code=status_code,
    )


__all__ = ["INVISIBLE", "banners", "render", "reveal", "templates"]
