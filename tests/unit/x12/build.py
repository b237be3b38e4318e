"""Writing X12 files for tests: envelopes with correct counts and control
numbers around the segments a test cares about, in any layout a sender uses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Layout:
    """How a sender writes: delimiters, and what sits between segments."""

    element: str = "*"
    component: str = ">"
    segment: str = "~"
    between: str = ""  # "" one line, "\n" one segment per line, "\r\n", "  \n" ...


ONE_LINE = Layout()
PER_LINE = Layout(between="\n")
CRLF_PIPES = Layout(element="|", component=":", segment="~", between="\r\n")
NEWLINE_TERMINATED = Layout(segment="\n")


def isa(
    control: str, sender: str, receiver: str, version: str = "00501", e: str = "*", c: str = ">"
) -> str:
    return e.join(
        [
            "ISA",
            "00",
            " " * 10,
            "00",
            " " * 10,
            "ZZ",
            f"{sender:<15}",
            "ZZ",
            f"{receiver:<15}",
            "260301",
            "1200",
            "U" if version < "00501" else "^",
            version,
            control,
            "0",
            "P",
            c,
        ]
    )


def transaction(set_id: str, control: str, body: Sequence[str]) -> list[str]:
    """ST, the body, and an SE that counts them."""
    return [f"ST*{set_id}*{control}", *body, f"SE*{len(body) + 2}*{control}"]


def interchange(
    transactions: Sequence[Sequence[str]],
    *,
    functional_id: str,
    control: str = "000000001",
    group: str = "1",
    sender: str = "RETAILER",
    receiver: str = "SUPPLIER",
    version: str = "00501",
) -> list[str]:
    """One ISA..IEA with one GS..GE holding ``transactions`` (each ST..SE)."""
    gs_version = "005010" if version >= "00501" else "004010"
    segs = [
        isa(control, sender, receiver, version),
        f"GS*{functional_id}*{sender}*{receiver}*20260301*1200*{group}*X*{gs_version}",
    ]
    for t in transactions:
        segs.extend(t)
    segs += [f"GE*{len(transactions)}*{group}", f"IEA*1*{control}"]
    return segs


def render(segments: Sequence[str], layout: Layout = ONE_LINE) -> str:
    """Segments written with ``*`` and ``>`` in the layout's own delimiters."""
    out = []
    for seg in segments:
        if seg.startswith("ISA"):
            text = seg.replace("*", layout.element)
            text = text[:-1] + layout.component
        else:
            text = seg.replace("*", layout.element).replace(">", layout.component)
        out.append(text + layout.segment + layout.between)
    return "".join(out)
