"""Tables read by header text, in one round trip: columns may move (portals
redesign; the obfuscation fault shuffles them), headers do not."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from playwright.async_api import Locator

from portal_adapters.errors import LayoutChanged
from portal_adapters.web.failures import playwright_errors
from portal_adapters.web.http import MAX_URL
from records.normalize import clean_text

MAX_CELL = 2000

TABLE_CELLS_JS = """t => Array.from(t.querySelectorAll('tr')).map(
    r => Array.from(r.querySelectorAll('th,td')).map(c => {
        const a = c.querySelector('a[href]');
        return [(c.innerText || '').trim(), a ? a.getAttribute('href') : null];
    }))"""
"""A table's rows as [cell text, the cell's first link target or null] (header
row first); also usable inside a larger script (MegaMart's claim page)."""


@dataclass(frozen=True)
class Row:
    """One table row by header text: ``cells`` as the portal showed them
    (bounded), ``links`` the first link target of each cell that has one."""

    cells: dict[str, str]
    links: dict[str, str]


def rows_by_header(
    raw: list[list[list[Any]]], wanted: Iterable[str], *, portal: str, what: str, step: str
) -> list[Row]:
    """Rows (as TABLE_CELLS_JS reads them) keyed by header text, so columns may
    move; LayoutChanged when a wanted header is missing or a row is ragged."""
    if not raw:
        raise LayoutChanged(f"the {what} table has no header row", portal=portal, step=step)
    headers = [clean_text(str(cell[0])) for cell in raw[0]]
    missing = [h for h in wanted if h not in headers]
    if missing:
        raise LayoutChanged(
            f"the {what} table lacks the columns {missing!r} (has {headers[:12]!r})",
            portal=portal,
            step=step,
        )
    rows: list[Row] = []
    for cells in raw[1:]:
        if len(cells) != len(headers):
            raise LayoutChanged(
                f"a {what} row has {len(cells)} cells for {len(headers)} columns",
                portal=portal,
                step=step,
            )
        rows.append(
            Row(
                cells={h: str(c[0])[:MAX_CELL] for h, c in zip(headers, cells, strict=True)},
                links={
                    h: c[1][:MAX_URL]
                    for h, c in zip(headers, cells, strict=True)
                    if isinstance(c[1], str) and c[1]
                },
            )
        )
    return rows


async def read_table(
    table: Locator, wanted: Iterable[str], *, portal: str, what: str, step: str
) -> list[Row]:
    """A table located by its accessible name, read in one round trip, by header."""
    async with playwright_errors(portal, step):
        raw = await table.evaluate(TABLE_CELLS_JS)
    return rows_by_header(raw, wanted, portal=portal, what=what, step=step)


async def single_row(
    table: Locator, wanted: Iterable[str], *, portal: str, what: str, step: str
) -> dict[str, str]:
    """A result table's one data row, by header text, cells cleaned."""
    rows = await read_table(table, wanted, portal=portal, what=what, step=step)
    if not rows:
        raise LayoutChanged(f"the {what} table has no data row", portal=portal, step=step)
    return {h: clean_text(v) for h, v in rows[0].cells.items()}
