"""JSON from outside read with its nesting bounded.

Python's json decoder recurses once per ``[`` or ``{``: a file of 100,000
opening brackets raises RecursionError (no ValueError, so an import or a job
crashed on it). :func:`check_depth` measures the nesting before any decoding,
in one regular-expression pass over the text with its strings removed, and
refuses past :data:`MAX_DEPTH` levels with :class:`JsonTooDeep`, a ValueError
that says so. Records the fleet reads are a few levels deep.
"""

from __future__ import annotations

import re

MAX_DEPTH = 64

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_BRACKET = re.compile(r"[\[\]{}]")


class JsonTooDeep(ValueError):
    """JSON nested deeper than the limit; refused before decoding."""


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in ``text`` (strings skipped)."""
    depth = deepest = 0
    for m in _BRACKET.finditer(_STRING.sub("", text)):
        if m.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth = max(0, depth - 1)
    return deepest


def check_depth(text: str, limit: int = MAX_DEPTH) -> None:
    """Refuse ``text`` when its JSON nests deeper than ``limit`` levels."""
    depth = json_depth(text)
    if depth > limit:
        raise JsonTooDeep(f"JSON nested {depth} levels deep; at most {limit} are read")
