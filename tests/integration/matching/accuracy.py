"""Comparing verdicts with a scenario's truth (tests and the bench share it).

Only tests and benches read the truth. :func:`evidence_on_portals` says which
deductions a fleet *could* judge on a given world day (every document and
POD it needs is served by then), so that agreement is measured where the
evidence exists, and :func:`compare` lists every decided verdict that is
wrong wherever it is (a decided verdict is never excused by missing evidence:
then it should have been needs_review).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from fixtures.scenario import Category, Deduction, Scenario, Shipment
from matching.model import Verdict

COLUMNS = ("valid", "partial", "invalid", "needs_review")
DELIVERY_CATEGORIES = (Category.shortage, Category.damage, Category.compliance_fine)


@dataclass
class Agreement:
    total: int = 0
    verdicts_agree: int = 0
    amounts_agree: int = 0
    decided: int = 0
    decided_agree: int = 0
    wrong: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    wrong_decided: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    confusion: dict[str, Counter[tuple[str, str]]] = field(default_factory=dict)

    @property
    def verdict_rate(self) -> float:
        return self.verdicts_agree / self.total if self.total else 1.0

    @property
    def amount_rate(self) -> float:
        return self.amounts_agree / self.total if self.total else 1.0

    def table(self) -> str:
        """Confusion by (truth) category: rows truth validity, columns verdict."""
        out = []
        for cat in sorted(self.confusion):
            c = self.confusion[cat]
            out.append(f"{cat}")
            out.append("  truth\\verdict " + " ".join(f"{x:>12}" for x in COLUMNS))
            for t in ("valid", "partial", "invalid"):
                out.append(f"  {t:<14} " + " ".join(f"{c[(t, x)]:>12}" for x in COLUMNS))
        return "\n".join(out)

    def report(self, limit: int = 40) -> str:
        """The confusion table, then what disagrees (decided verdicts first)."""
        lines = [
            f"{self.total} deductions: verdicts agree {self.verdict_rate:.2%}, amounts agree "
            f"{self.amount_rate:.2%}; {self.decided} decided, {len(self.wrong_decided)} wrong",
            self.table(),
        ]
        if self.wrong_decided:
            lines.append("wrong decided verdicts (ref, category, truth, verdict, reasons):")
            lines += [f"  {w}" for w in self.wrong_decided]
        rest = [w for w in self.wrong if w not in self.wrong_decided]
        if rest:
            lines.append(f"other disagreements ({len(rest)}):")
            lines += [f"  {w}" for w in rest[:limit]]
        return "\n".join(lines)


def _shipments_of(sc: Scenario, d: Deduction) -> list[Shipment]:
    """The shipments a claim is about: the PRO/BOL it names, else its invoice's."""
    found = [
        s
        for s in sc.shipments
        if (d.pro_number and s.pro_number == d.pro_number)
        or (d.bol_number and s.bol_number == d.bol_number)
    ]
    if found:
        return found
    erp = {
        (e.carrier, e.pro_number) for e in sc.erp.shipments if e.invoice_number == d.invoice_number
    }
    return [s for s in sc.shipments if (s.carrier, s.pro_number) in erp]


def evidence_on_portals(sc: Scenario, day: date | None = None) -> set[str]:
    """Refs (``portal:id``) of the deductions posted by ``day`` whose evidence the
    portals serve by then: every document of the claim, and for delivery claims
    (shortage, damage, compliance fines) the POD of each shipment it is about."""
    day = day or sc.as_of
    out: set[str] = set()
    for d in sc.deductions:
        if d.posted_date > day:
            continue
        if any((s.available_from or d.posted_date) > day for s in d.documents):
            continue
        truth = sc.truth.deductions.get(d.key)
        if truth is not None and truth.category in DELIVERY_CATEGORIES:
            ships = _shipments_of(sc, d)
            if not ships or any(
                s.pod_available_from is None
                or s.pod_available_from > day
                or s.delivery_date is None
                or s.delivery_date > day
                for s in ships
            ):
                continue
        out.add(d.key)
    return out


def compare(sc: Scenario, verdicts: list[Verdict], only: set[str] | None = None) -> Agreement:
    """Agreement over ``verdicts`` (those in ``only``, if given); wrong decided
    verdicts are listed from every verdict, in or out of ``only``."""
    a = Agreement()
    for v in verdicts:
        t = sc.truth.deductions[v.ref]
        truth_validity = str(getattr(t.validity, "value", t.validity))
        cat = str(getattr(t.category, "value", t.category))
        same = v.validity == truth_validity and v.valid_amount == t.valid_amount
        row = (v.ref, cat, truth_validity, v.validity, "; ".join(v.reasons)[:300])
        if v.validity != "needs_review" and not same:
            a.wrong_decided.append(row)
        if only is not None and v.ref not in only:
            continue
        a.total += 1
        a.confusion.setdefault(cat, Counter())[(truth_validity, v.validity)] += 1
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
            a.wrong.append(row)
    return a


__all__ = ["Agreement", "compare", "evidence_on_portals"]
