"""A bot job and what it left behind.

One job is (account, task): ``sync`` (new and changed deductions since the
watermark, then every document not yet in the vault), ``pods`` (POD and BOL
for every shipment a shortage or damage deduction points at, on one carrier
account), ``retrieve`` (one deduction's documents, or one PRO's POD, now),
``file_dispute`` (every queued dispute of the account, exactly once) and
``dispute_status``. Every task is idempotent: running it
twice, or killing it and running it again, leaves the same store.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

Task = Literal["sync", "pods", "retrieve", "file_dispute", "dispute_status"]
TASKS: tuple[Task, ...] = ("sync", "pods", "retrieve", "file_dispute", "dispute_status")


@dataclass(frozen=True)
class Job:
    portal: str
    account: str
    task: Task
    target: str | None = None  # a deduction id or PRO for ``retrieve``; a dispute key


@dataclass(frozen=True)
class NeedsHuman:
    """Something only a person can do: a CAPTCHA, an MFA prompt, a locked account."""

    portal: str
    account: str
    ref: str
    error_class: str
    reason: str


@dataclass
class JobResult:
    job: Job
    run_id: str
    status: str  # records.schemas.RunStatus value
    counts: Counter[str] = field(default_factory=Counter)
    error_class: str | None = None
    needs_human: list[NeedsHuman] = field(default_factory=list)
    artifacts: str | None = None
