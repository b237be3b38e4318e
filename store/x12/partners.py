"""Trading partners' EDI habits as data: records/data/edi/<portal>.json.

Retailers differ in what their 812s and 820s mean, not only in what they say:
which BCD05 flag is a deduction, which element holds the claim number the
portal shows, what their CDD01 reason codes and per-line claim codes mean, and
whether an 820's ADX01 writes a deduction as a positive or a negative number.
Each of those is a field in the partner's file, so a new retailer (or a
retailer that changes its habits) is a data change. ``default.json`` holds what
the X12 standard and the fleet assume when a sender has no file of its own.

A partner is found by any identifier the file carries (a GLN in N104, the ISA06
or GS02 sender id) and then by name (N102, compared the way customer names are).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Literal

import records
from records.normalize import category_from_text, clean_text, normalize_customer
from records.schemas import Category

DATA_DIR = Path(records.__file__).resolve().parent / "data" / "edi"
DEFAULT = "default"
AdxSign = Literal["positive_reduces", "negative_reduces"]
_SLUG = re.compile(r"^[a-z][a-z0-9_]{1,63}$")


@dataclass(frozen=True, slots=True)
class ReasonCode:
    code: str
    text: str
    category: Category


@dataclass(frozen=True, slots=True)
class Partner:
    """One sender's habits. ``portal`` is None for the default partner."""

    portal: str | None
    display_name: str
    names: tuple[str, ...]
    ids: tuple[str, ...]
    deduction_flag: Literal["C", "D"]
    claim_number: str  # "BCD02", or "N9:<qualifier>" for a header N9
    reason_codes: dict[str, ReasonCode]
    claim_codes: dict[str, Category]
    adx_sign: AdxSign
    invoice_qualifiers: frozenset[str]
    source: str  # the data file, for messages

    def reason(self, code: str) -> ReasonCode | None:
        """This partner's meaning of a reason code, then the standard's."""
        code = code.strip()
        for table in (self.reason_codes, default_partner().reason_codes):
            found = table.get(code) or table.get(code.lstrip("0") or "0")
            if found is not None:
                return found
        return None

    def category(self, code: str, claim_codes: list[str], text: str) -> Category:
        """From the reason code, then a claim code, then the words; ``other``."""
        found = self.reason(code)
        if found is not None and found.category != Category.other:
            return found.category
        for claim in claim_codes:
            if claim in self.claim_codes:
                return self.claim_codes[claim]
        return category_from_text(f"{found.text if found else ''} {text}")


def _key(value: str) -> str:
    return re.sub(r"\s+", "", value).upper()


def _load(path: Path) -> Partner:
    raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    portal = raw.get("portal")
    if portal is not None and not _SLUG.match(portal):
        raise ValueError(f"{path}: portal {portal!r} is not a portal slug")
    a812 = raw.get("adjustments_812", {})
    a820 = raw.get("remittances_820", {})
    flag = a812.get("deduction_flag", "D")
    sign = a820.get("adx_sign", "positive_reduces")
    if flag not in ("C", "D") or sign not in ("positive_reduces", "negative_reduces"):
        raise ValueError(f"{path}: deduction_flag is C or D; adx_sign positive/negative_reduces")
    return Partner(
        portal=portal,
        display_name=raw.get("display_name", portal or "unknown sender"),
        names=tuple(normalize_customer(n) for n in raw.get("names", [])),
        ids=tuple(_key(i) for i in raw.get("ids", [])),
        deduction_flag=flag,
        claim_number=a812.get("claim_number", "BCD02"),
        reason_codes={
            code: ReasonCode(code, v["text"], Category(v["category"]))
            for code, v in a812.get("reason_codes", {}).items()
        },
        claim_codes={k: Category(v) for k, v in a812.get("claim_codes", {}).items()},
        adx_sign=sign,
        invoice_qualifiers=frozenset(a820.get("invoice_qualifiers", ["IV"])),
        source=f"records/data/edi/{path.name}",
    )


@cache
def partners() -> dict[str, Partner]:
    """Every partner file by its name (``default`` included), read once."""
    return {p.stem: _load(p) for p in sorted(DATA_DIR.glob("*.json"))}


def default_partner() -> Partner:
    return partners()[DEFAULT]


def for_portal(portal: str) -> Partner:
    """The partner whose portal is ``portal``; the default habits under that
    portal's name when it has no file."""
    for p in partners().values():
        if p.portal == portal:
            return p
    if not _SLUG.match(portal):
        raise ValueError(f"{portal!r} is not a portal name (lower case, digits, _)")
    d = default_partner()
    return Partner(
        portal,
        portal,
        (),
        (),
        d.deduction_flag,
        d.claim_number,
        {},
        {},
        d.adx_sign,
        d.invoice_qualifiers,
        d.source,
    )


def find(ids: list[str], names: list[str]) -> Partner | None:
    """The partner any of ``ids`` (GLN, ISA or GS sender) or ``names`` names."""
    return _find(tuple(ids), tuple(names))


@lru_cache(maxsize=4096)  # a file repeats its sender in every transaction
def _find(ids: tuple[str, ...], names: tuple[str, ...]) -> Partner | None:
    known = [p for p in partners().values() if p.portal is not None]
    keys = [_key(i) for i in ids if i.strip()]
    for key in keys:
        for p in known:
            if key in p.ids:
                return p
    for name in names:
        wanted = normalize_customer(name)
        for p in known:
            if wanted and wanted in p.names:
                return p
    return None


def slug_for(name: str) -> str:
    """A portal name made from a sender's name, for a sender with no file:
    ``"Walmart Inc."`` -> ``"walmart"``."""
    base = re.sub(r"[^a-z0-9]+", "_", normalize_customer(clean_text(name)).lower()).strip("_")
    base = base[:60] or "unknown_sender"
    return base if base[0].isalpha() else f"r_{base}"[:63]


__all__ = [
    "DATA_DIR",
    "Partner",
    "ReasonCode",
    "default_partner",
    "find",
    "for_portal",
    "partners",
    "slug_for",
]
