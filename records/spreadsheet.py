"""CSV cells a spreadsheet opens safely: the one guard every CSV the fleet
writes (``fleet export credits``, the web app's KPI tables) goes through.

Text from portals and imports ends up in files people open in Excel; a cell
starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return would be
run as a formula there (CSV injection). Such text gets a leading ``'``; empty
cells and plain numbers (``-5.00``) stay as they are, so amounts stay numbers.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from typing import Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")


def spreadsheet_safe(value: Any) -> Any:
    """``value``, with a leading ``'`` when it is text a spreadsheet would run."""
    if (
        isinstance(value, str)
        and value.startswith(_FORMULA_START)
        and not _PLAIN_NUMBER.match(value)
    ):
        return "'" + value
    return value


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A CSV document (RFC 4180 quoting, ``\\r\\n`` line ends) of safe cells."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([spreadsheet_safe(h) for h in header])
    for row in rows:
        w.writerow([spreadsheet_safe(str(v) if v is not None else "") for v in row])
    return buf.getvalue()


__all__ = ["csv_text", "spreadsheet_safe"]
