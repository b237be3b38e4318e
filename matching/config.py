"""Matching and approval rules that change with contracts and policy, kept as data.

``matching/data/rules.json`` holds the defaults; a deployment may point
``FLEET_MATCHING_RULES`` at its own copy. Nothing here is a literal in the
rules' code: a new fine rate or a new approval threshold is a data change.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

DEFAULT_FILE = Path(__file__).resolve().parent / "data" / "rules.json"

ROLE_RANK: dict[str, int] = {"analyst": 1, "manager": 2, "director": 3}
"""Who may act for which step: a higher role may take a lower role's step."""
DECISION_KINDS = ("accept", "dispute", "split")
CREDIT_KINDS = ("credit_memo", "write_off")


@dataclass(frozen=True)
class ChainRule:
    """Decisions of these categories (``*`` any) up to ``max_amount`` (None: no
    limit) need these roles, in order."""

    categories: tuple[str, ...]
    max_amount: Decimal | None
    roles: tuple[str, ...]

    def applies(self, category: str, amount: Decimal) -> bool:
        in_cat = "*" in self.categories or category in self.categories
        return in_cat and (self.max_amount is None or amount < self.max_amount)


@dataclass(frozen=True)
class MatchingConfig:
    compliance_fine_rate: dict[str, Decimal] = field(default_factory=dict)  # portal or "*"
    amount_tolerance: Decimal = Decimal("0.00")
    approval_chain: tuple[ChainRule, ...] = ()
    reminder_after_hours: int = 48
    escalate_within_days: int = 7
    """A step on a claim whose dispute window closes this soon is reminded daily
    and its reminder also goes to the next role up."""
    urgent_within_days: int = 2
    """... this soon: every four hours, and to every role above."""

    def fine_rate(self, portal: str) -> Decimal:
        return self.compliance_fine_rate.get(portal, self.compliance_fine_rate["*"])

    def chain_for(self, category: str, amount: Decimal) -> tuple[str, ...]:
        for rule in self.approval_chain:
            if rule.applies(category, amount):
                return rule.roles
        raise ValueError(f"no approval rule covers {category} {amount}")

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> MatchingConfig:
        chain = tuple(
            ChainRule(
                categories=tuple(r.get("categories", ["*"])),
                max_amount=None if r.get("max_amount") is None else Decimal(str(r["max_amount"])),
                roles=tuple(r["roles"]),
            )
            for r in raw.get("approval_chain", [])
        )
        for rule in chain:
            unknown = [r for r in rule.roles if r not in ROLE_RANK]
            if unknown or not rule.roles:
                raise ValueError(f"approval rule needs roles from {sorted(ROLE_RANK)}: {unknown}")
        return cls(
            compliance_fine_rate={
                k: Decimal(str(v)) for k, v in raw.get("compliance_fine_rate", {}).items()
            },
            amount_tolerance=Decimal(str(raw.get("amount_tolerance", "0.00"))),
            approval_chain=chain,
            reminder_after_hours=int(raw.get("reminder_after_hours", 48)),
            escalate_within_days=int(raw.get("escalate_within_days", 7)),
            urgent_within_days=int(raw.get("urgent_within_days", 2)),
        )


@cache
def load_config(path: str | None = None) -> MatchingConfig:
    """The rules file (``FLEET_MATCHING_RULES`` or the packaged default)."""
    chosen = Path(path or os.environ.get("FLEET_MATCHING_RULES") or DEFAULT_FILE)
    return MatchingConfig.from_dict(json.loads(chosen.read_text(encoding="utf-8")))


__all__ = [
    "CREDIT_KINDS",
    "DECISION_KINDS",
    "ROLE_RANK",
    "ChainRule",
    "MatchingConfig",
    "load_config",
]
