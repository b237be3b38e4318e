"""Query parameters and form fields to the shared queries' inputs (the same for
the pages and the API); bad values become a 400 problem with the reason."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

from starlette.datastructures import QueryParams

from store.queries.worklist import MAX_PAGE_SIZE, FilterError, Filters, Sort
from web.problems import Problem

_MONEY = re.compile(r"-?\d{1,12}(?:\.\d{1,2})?")
_INT = re.compile(r"\d{1,6}")
FILTER_KEYS = (
    "portal",
    "customer",
    "category",
    "status",
    "verdict",
    "min_age",
    "max_age",
    "min_amount",
    "max_amount",
    "closes_within",
    "q",
)


def bad(detail: str) -> Problem:
    return Problem(400, "Bad request", detail)


def money(text: str, name: str) -> Decimal:
    t = text.strip()
    if not _MONEY.fullmatch(t):
        raise bad(f"{name}: an amount like 1250.00 (no currency sign or separators)")
    return Decimal(t)


def _int(params: QueryParams, name: str) -> int | None:
    v = (params.get(name) or "").strip()
    if not v:
        return None
    if not _INT.fullmatch(v):
        raise bad(f"{name}: a whole number")
    return int(v)


def _many(params: QueryParams, name: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in params.getlist(name) if v.strip())


def worklist_query(
    params: QueryParams, today: date, default_page_size: int
) -> tuple[Filters, Sort, int, int]:
    """(filters, sort, page, page size) from a worklist URL's parameters."""
    closes_within = _int(params, "closes_within")
    min_amount = (params.get("min_amount") or "").strip()
    max_amount = (params.get("max_amount") or "").strip()
    try:
        filters = Filters(
            portals=_many(params, "portal"),
            customer=(params.get("customer") or "").strip() or None,
            categories=tuple(c.lower() for c in _many(params, "category")),
            statuses=_many(params, "status"),
            validities=tuple(v.lower() for v in _many(params, "verdict")),
            min_age_days=_int(params, "min_age"),
            max_age_days=_int(params, "max_age"),
            min_amount=money(min_amount, "min_amount") if min_amount else None,
            max_amount=money(max_amount, "max_amount") if max_amount else None,
            closes_from=today if closes_within is not None else None,
            closes_by=today + timedelta(days=closes_within) if closes_within is not None else None,
            text=(params.get("q") or "").strip() or None,
            today=today,
        )
        sort = Sort.parse(params.get("sort") or "deadline")
    except FilterError as exc:
        raise bad(str(exc)) from None
    page = _int(params, "page") or 1
    size = _int(params, "page_size") or default_page_size
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise bad(f"page_size: between 1 and {MAX_PAGE_SIZE}")
    return filters, sort, max(page, 1), size


__all__ = ["FILTER_KEYS", "bad", "money", "worklist_query"]
