"""``fleet import adjustments``: EDI 812 files into the deduction store.

An 812 names a retailer's claim as the portal does: the deduction is keyed by
(portal, claim number), the same key the robots use, so a claim seen both ways
is one deduction:

* not in the store yet: created from the 812 (its raw payload says
  ``"source": "edi-812"``; the robots' next sync of that claim replaces the
  row's fields with the portal's, history recording each change);
* fetched by the robots: left as the portal shows it, and the 812 is recorded
  beside it (``deduction_sources``); an amount that differs is reported;
* created by an earlier 812: updated from the new one (history kept).

Every 812 transaction is kept whole in ``deduction_sources`` (segments and
elements), once per distinct content, so re-importing a file changes nothing.
A file is all or nothing, like every import: any refused transaction refuses
the file unless ``skip_bad``, which imports the rest and writes the rejects.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from store.db import transaction
from store.erp_import import MAX_FILE_BYTES, ImportRefused, RowError, write_rejects
from store.repositories import deduction_sources, deductions
from store.x12.adjustments import SOURCE, Adjustment, read_adjustments
from store.x12.envelope import decode_x12
from store.x12.partners import for_portal

ZERO = Decimal("0.00")


@dataclass
class AdjustmentImport:
    """What one 812 file did to the store, for the import report."""

    path: Path
    interchanges: int = 0
    transactions: int = 0
    created: int = 0
    merged: int = 0  # joined a deduction the robots fetched from the portal
    updated: int = 0  # an 812-made deduction that a newer 812 changed
    unchanged: int = 0
    stated_total: Decimal = ZERO  # sum of BCD04, a deduction positive
    lines_total: Decimal = ZERO  # sum of the CDD lines read (header-only: BCD04)
    header_only: int = 0
    portals: dict[str, int] = field(default_factory=dict)
    differences: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    rejected: list[RowError] = field(default_factory=list)
    rejects_file: Path | None = None

    @property
    def deductions(self) -> int:
        return self.created + self.merged + self.updated + self.unchanged


def import_adjustments(
    factory: sessionmaker[Session],
    path: Path,
    *,
    retailer: str | None = None,
    skip_bad: bool = False,
    rejects_path: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> AdjustmentImport:
    """Read the whole file, then write it in one transaction. ``retailer``
    (a portal name) says whose 812s these are when the file cannot tell."""
    if retailer is not None:
        for_portal(retailer)  # a name that cannot be a portal is refused before reading
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ImportRefused(
            str(path), [RowError(0, f"file is {size} bytes, over the {MAX_FILE_BYTES} limit")]
        )
    data = path.read_bytes()
    text, decoded = decode_x12(data)
    read = read_adjustments(text, retailer)
    result = AdjustmentImport(
        path, read.parsed.interchanges, len(read.parsed.transactions), notices=[]
    )
    if decoded:
        result.notices.append(decoded)
    result.notices += [str(n) for n in read.notices]
    result.rejected = [
        RowError(e.where.segment or 0, str(e), e.text, "segment") for e in read.errors
    ]
    if not read.parsed.transactions and not read.errors:
        result.rejected.append(RowError(0, "no X12 transaction in the file", unit="segment"))
    if result.rejected and not skip_bad:
        raise ImportRefused(str(path), result.rejected)
    file_sha = hashlib.sha256(data).hexdigest()
    with transaction(factory) as session:
        _store(session, read.adjustments, path.name, file_sha, result, progress)
    if result.rejected:
        result.rejects_file = write_rejects(path, result.rejected, rejects_path)
    return result


def _store(
    session: Session,
    adjustments: list[Adjustment],
    file_name: str,
    file_sha: str,
    result: AdjustmentImport,
    progress: Callable[[int, int], None] | None,
) -> None:
    """Create or update the deductions only 812s know; record every 812 beside
    its deduction; leave the portal's own deductions as the robots stored them."""
    total = len(adjustments)
    for adj in adjustments:
        result.stated_total += adj.header_total
        result.lines_total += adj.header_total if adj.lines_total is None else adj.lines_total
        result.header_only += adj.lines_total is None
        portal = adj.record.portal
        result.portals[portal] = result.portals.get(portal, 0) + 1
    keys = [(a.record.portal, a.record.external_id) for a in adjustments]
    stored = deduction_sources.claims(session, keys)
    ours = [
        a
        for a, k in zip(adjustments, keys, strict=True)
        if k not in stored or stored[k].made_by_edi
    ]
    ids: dict[tuple[str, str], int] = {}
    for adj, upserted in zip(
        ours, deductions.upsert_many(session, [a.record for a in ours]), strict=True
    ):
        ids[(adj.record.portal, adj.record.external_id)] = upserted.id
        if upserted.created:
            result.created += 1
        elif upserted.changed:
            result.updated += 1
        else:
            result.unchanged += 1
    if progress is not None:
        progress(len(ours), total)
    portals: set[tuple[str, str]] = set()
    for adj, key in zip(adjustments, keys, strict=True):
        if key in ids:
            continue
        portals.add(key)
        ids[key] = stored[key].id
        if stored[key].amount != adj.record.amount:
            result.differences.append(
                f"{key[0]} claim {key[1]}: the portal shows {stored[key].amount}, "
                f"the 812 says {adj.record.amount} ({adj.where}); the portal's stays"
            )
    outcomes = deduction_sources.record_many(
        session,
        [
            deduction_sources.Observation(
                ids[key],
                SOURCE,
                _reference(adj, file_name, file_sha),
                adj.digest,
                adj.record.amount,
                adj.record.raw,
            )
            for adj, key in zip(adjustments, keys, strict=True)
        ],
    )
    for key, outcome in zip(keys, outcomes, strict=True):
        if key in portals:
            if outcome == "created":
                result.merged += 1
            else:
                result.unchanged += 1
    if progress is not None:
        progress(total, total)


def _reference(adj: Adjustment, file_name: str, file_sha: str) -> str:
    env = adj.record.raw
    return (
        f"{file_name} sha256:{file_sha[:16]} interchange {env['interchange']['control']} "
        f"(#{env['interchange']['ordinal']}) transaction {env['transaction']['control']}"
    )


__all__ = ["AdjustmentImport", "import_adjustments"]
