"""One matching run over the store: read, judge, write what changed.

``run_matching`` reads a snapshot (a fixed number of queries), judges every
deduction in memory, and writes only verdicts whose content changed since the
last run (fingerprints), each change with an audit entry (who: the matcher;
before/after: validity and amounts). Missing evidence queues its retrieval
(``store.repositories.retrieval.enqueue``: idempotent, one active request per
target). Safe to re-run: a second run on unchanged data writes nothing.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.orm import Session, sessionmaker

from matching.config import MatchingConfig, load_config
from matching.model import Verdict
from matching.rules import match_all
from matching.snapshot import load_snapshot
from store.db import json_dumps, transaction
from store.repositories import matching as matching_repo
from store.repositories import retrieval

ACTOR = "system:matcher"
RETRIEVAL_KINDS = {"pod": "pod", "bol": "bol", "backup": "deduction"}


@dataclass
class RunSummary:
    total: int = 0
    created: int = 0
    changed: int = 0
    unchanged: int = 0
    retrievals: int = 0
    by_validity: Counter[str] = field(default_factory=Counter)
    by_category: dict[str, Counter[str]] = field(default_factory=dict)
    verdicts: list[Verdict] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "total": self.total,
            "created": self.created,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "retrievals_queued": self.retrievals,
            "by_validity": dict(self.by_validity),
            "by_category": {k: dict(v) for k, v in sorted(self.by_category.items())},
        }


def fingerprint(v: Verdict) -> str:
    return hashlib.sha256(json_dumps(v.as_dict()).encode("utf-8")).hexdigest()


def _row(v: Verdict) -> matching_repo.VerdictRow:
    return matching_repo.VerdictRow(
        deduction_id=v.deduction_id,
        validity=v.validity,
        category=v.category,
        category_source=v.category_source,
        rule=v.rule,
        claimed_amount=v.claimed_amount,
        current_amount=v.current_amount,
        valid_amount=v.valid_amount,
        disputable_amount=v.disputable_amount,
        window_closes=v.window_closes,
        reasons=v.reasons,
        evidence=v.evidence,
        missing=v.missing,
        fingerprint=fingerprint(v),
    )


def compute(session: Session, today: date, config: MatchingConfig | None = None) -> list[Verdict]:
    """Verdicts for every deduction in the store, written nowhere."""
    return match_all(load_snapshot(session), config or load_config(), today)


def run_matching(
    factory: sessionmaker[Session],
    today: date,
    *,
    config: MatchingConfig | None = None,
    actor: str = ACTOR,
) -> RunSummary:
    """Judge every deduction; persist and audit what changed; queue retrievals."""
    with factory() as s:
        verdicts = compute(s, today, config)
    summary = RunSummary(total=len(verdicts), verdicts=verdicts)
    for v in verdicts:
        summary.by_validity[v.validity] += 1
        summary.by_category.setdefault(v.category, Counter())[v.validity] += 1
    with transaction(factory) as s:
        before = matching_repo.fingerprints(s)
        rows = [_row(v) for v in verdicts]
        touched = [
            (v, r)
            for v, r in zip(verdicts, rows, strict=True)
            if before.get(v.deduction_id, ("",))[0] != r.fingerprint
        ]
        summary.created, summary.changed = matching_repo.save_verdicts(s, [r for _, r in touched])
        summary.unchanged = summary.total - summary.created - summary.changed
        audit = []
        for v, _ in touched:
            old = before.get(v.deduction_id)
            audit.append(
                (
                    actor,
                    "verdict",
                    f"deduction:{v.deduction_id}",
                    None if old is None else {"validity": old[1], "valid_amount": old[2]},
                    {
                        "validity": v.validity,
                        "valid_amount": None if v.valid_amount is None else str(v.valid_amount),
                        "category": v.category,
                        "ref": v.ref,
                    },
                )
            )
            for m in v.missing:
                kind = RETRIEVAL_KINDS.get(m["kind"])
                if kind and m.get("portal"):
                    res = retrieval.enqueue(s, actor, kind, m["ref"], portal=m["portal"])
                    summary.retrievals += res.created
        matching_repo.append_audit_many(s, audit)
    return summary


__all__ = ["ACTOR", "RunSummary", "compute", "fingerprint", "run_matching"]
