"""The filing policy: which approved disputes the fleet files by itself.

An approved dispute decision is a person's (or a chain of people's) call to
dispute; the policy then says whether the robot files it as soon as it is
queued, or waits until a person releases it (``fleet disputes file REF``).
Rules come from ``[disputes]`` in fleet.toml; the first rule that matches a
dispute's portal, category and amount decides. No matching rule: a person.

The dispute window is checked too (``matching.approvals.window_refusal``, the
rule approving uses): a dispute whose window has closed is refused before
filing, with the reason, unless the approver overrode it explicitly
(recorded on the decision and audited).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class AutoFileRule(BaseModel):
    """Disputes of this portal and category up to ``max_amount`` file by themselves."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    portal: str = Field(default="*", description="A portal name, or * for any.")
    category: str = Field(default="*", description="A category (promotion, ...), or *.")
    max_amount: Decimal | None = Field(default=None, ge=0, description="None: any amount.")
    action: Literal["auto", "person"] = "auto"

    def matches(self, portal: str, category: str | None, amount: Decimal) -> bool:
        return (
            self.portal in ("*", portal)
            and self.category in ("*", category or "other")
            and (self.max_amount is None or amount <= self.max_amount)
        )


class FilingPolicy(BaseModel):
    """``[disputes]`` in fleet.toml. The default files every approved dispute
    automatically: approval is already a person's decision."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: tuple[AutoFileRule, ...] = (AutoFileRule(),)

    def files_automatically(self, portal: str, category: str | None, amount: Decimal) -> bool:
        for rule in self.rules:
            if rule.matches(portal, category, amount):
                return rule.action == "auto"
        return False


__all__ = ["AutoFileRule", "FilingPolicy"]
