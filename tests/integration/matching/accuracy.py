"""Comparing verdicts with a scenario's truth (tests and the bench share it)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from fixtures.scenario import Scenario
from matching.model import Verdict


@dataclass
class Agreement:
    total: int = 0
    verdicts_agree: int = 0
    amounts_agree: int = 0
    decided: int = 0
    decided_agree: int = 0
    wrong: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    confusion: dict[str, Counter[tuple[str, str]]] = field(default_factory=dict)

    @property
    def verdict_rate(self) -> float:
        return self.verdicts_agree / self.total

    @property
    def amount_rate(self) -> float:
        return self.amounts_agree / self.total

    def table(self) -> str:
        """Confusion by (truth) category: rows truth validity, columns verdict."""
        cols = ("valid", "partial", "invalid", "needs_review")
        out = []
        for cat in sorted(self.confusion):
            c = self.confusion[cat]
            out.append(f"{cat}")
            out.append("  truth\\verdict " + " ".join(f"{x:>12}" for x in cols))
            for t in ("valid", "partial", "invalid"):
                out.append(f"  {t:<14} " + " ".join(f"{c[(t, x)]:>12}" for x in cols))
        return "\n".join(out)


def compare(sc: Scenario, verdicts: list[Verdict]) -> Agreement:
    a = Agreement()
    for v in verdicts:
        t = sc.truth.deductions[v.ref]
        a.total += 1
        truth_validity = str(getattr(t.validity, "value", t.validity))
        cat = str(getattr(t.category, "value", t.category))
        a.confusion.setdefault(cat, Counter())[(truth_validity, v.validity)] += 1
        same = v.validity == truth_validity and v.valid_amount == t.valid_amount
        a.verdicts_agree += v.validity == truth_validity
        a.amounts_agree += (
            v.valid_amount == t.valid_amount
            and v.disputable_amount == t.disputable_amount
            and v.claimed_amount == t.valid_amount + t.disputable_amount
        )
        if v.validity != "needs_review":
            a.decided += 1
            a.decided_agree += same
        if not same:
            a.wrong.append((v.ref, cat, truth_validity, v.validity, "; ".join(v.reasons)[:200]))
    return a


ZERO = Decimal("0.00")
__all__ = ["Agreement", "compare"]
