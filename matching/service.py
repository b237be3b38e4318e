"""One matching run over the store: read, judge what may have changed, write
what did change.

Incremental by default: the run starts from the last finished one
(``matching_runs``), asks the store what changed since
(:mod:`matching.changes`) and judges only the deductions that can be
affected; with nothing changed and the same day it does not even read the
store. A full run (every deduction judged) happens on the first run, when the
rules file changed, when the day goes backwards, when a change cannot be
pinned to keys, or on request (``full=True``, ``fleet match --full``).

Either way, only verdicts whose content changed are written (fingerprints),
each change with an audit entry (who: the matcher; before/after: validity and
amounts), and missing evidence queues its retrieval
(``store.repositories.retrieval.enqueue``: idempotent, one active request per
target). Safe to re-run.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy.orm import Session, sessionmaker

from matching.changes import SAFETY_MARGIN, changes_since, scope
from matching.config import MatchingConfig, load_config
from matching.model import Verdict
from matching.rules import match_all
from matching.snapshot import load_snapshot
from store.db import json_dumps, transaction
from store.models import MatchingRun, utcnow
from store.repositories import matching as matching_repo
from store.repositories import retrieval

ACTOR = "system:matcher"
RETRIEVAL_KINDS = {"pod": "pod", "bol": "bol", "backup": "deduction"}


@dataclass
class RunSummary:
    """``total`` and the counts by validity and category cover every stored
    verdict; ``judged`` and ``verdicts`` only what this run judged."""

    mode: str = "full"  # full, incremental, up_to_date
    full_reason: str = ""
    judged: int = 0
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
            "mode": self.mode,
            "full_reason": self.full_reason,
            "judged": self.judged,
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


def config_hash(cfg: MatchingConfig) -> str:
    """Changes when the rules file does (then every verdict is judged again)."""
    return hashlib.sha256(repr(cfg).encode("utf-8")).hexdigest()


def compute(session: Session, today: date, config: MatchingConfig | None = None) -> list[Verdict]:
    """Verdicts for every deduction in the store, written nowhere."""
    return match_all(load_snapshot(session), config or load_config(), today)


def _full_reason(last: MatchingRun | None, cfg_hash: str, today: date, full: bool) -> str | None:
    if full:
        return "asked for"
    if last is None:
        return "first run"
    if last.config_hash != cfg_hash:
        return "the rules changed"
    if today < last.today:
        return "judged as of an earlier day than the last run"
    return None


def _judge(
    s: Session,
    today: date,
    cfg: MatchingConfig,
    cfg_hash: str,
    full: bool,
    margin: timedelta,
    summary: RunSummary,
) -> list[Verdict]:
    """The verdicts this run must (re)compute; sets the summary's mode."""
    last = matching_repo.last_run(s)
    reason = _full_reason(last, cfg_hash, today, full)
    changes = None
    if reason is None:
        assert last is not None
        changes = changes_since(s, last.started_at - margin)
        reason = changes.full_reason
    if reason is not None:
        summary.mode, summary.full_reason = "full", reason
        return match_all(load_snapshot(s), cfg, today)
    assert last is not None
    assert changes is not None
    if changes.nothing() and today == last.today:
        summary.mode = "up_to_date"
        return []
    summary.mode = "incremental"
    ids = scope(s, changes, last.today, today)
    return match_all(load_snapshot(s, ids), cfg, today) if ids else []


def run_matching(
    factory: sessionmaker[Session],
    today: date,
    *,
    config: MatchingConfig | None = None,
    actor: str = ACTOR,
    full: bool = False,
    margin: timedelta = SAFETY_MARGIN,
) -> RunSummary:
    """Judge what changed (or everything); persist and audit what changed; queue
    retrievals; record the run. ``margin``: how far before the last run's start
    changes are looked for (see matching.changes; 0 only where no other writer
    can be mid-transaction, as in tests)."""
    cfg = config or load_config()
    cfg_hash = config_hash(cfg)
    started = utcnow()
    summary = RunSummary()
    with factory() as s:
        verdicts = _judge(s, today, cfg, cfg_hash, full, margin, summary)
    summary.judged, summary.verdicts = len(verdicts), verdicts
    with transaction(factory) as s:
        before = matching_repo.fingerprints(s)
        rows = [_row(v) for v in verdicts]
        touched = [
            (v, r)
            for v, r in zip(verdicts, rows, strict=True)
            if before.get(v.deduction_id, ("",))[0] != r.fingerprint
        ]
        summary.created, summary.changed = matching_repo.save_verdicts(s, [r for _, r in touched])
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
        for category, validity, n in matching_repo.verdict_counts(s):
            summary.by_validity[validity] += n
            summary.by_category.setdefault(category, Counter())[validity] += n
        summary.total = sum(summary.by_validity.values())
        summary.unchanged = summary.total - summary.created - summary.changed
        matching_repo.record_run(
            s,
            MatchingRun(
                started_at=started,
                finished_at=utcnow(),
                today=today,
                config_hash=cfg_hash,
                mode=summary.mode,
                judged=summary.judged,
                written=summary.created + summary.changed,
                actor=actor[:128],
            ),
        )
    return summary


__all__ = ["ACTOR", "RunSummary", "compute", "config_hash", "fingerprint", "run_matching"]
