"""A bot job and what it left behind.

One job is (portal, account, task), one arrow of the pipeline an account's
work follows (docs/architecture.md, "The pipeline"):

    sync -> read_documents -> pods (carriers) -> match -> queue_disputes
         -> file_dispute -> dispute_status

Browser tasks log in to the account's portal:

- ``sync``: new claims since the watermark, and every claim still open
  re-read (reversals, amount and status changes land with history); then
  every document not yet in the vault.
- ``pods``: POD and BOL for every shipment a claim about delivery names, on
  one carrier account.
- ``retrieve``: one deduction's documents, or one PRO's POD, now.
- ``file_dispute``: every dispute of the account ready to file, exactly once.
- ``dispute_status``: the portal's status of every filed, undecided dispute.

Core tasks touch no browser (they run on the store and the vault):

- ``read_documents``: text and fields of every fetched document not read yet.
- ``match``: verdicts for what changed (incremental).
- ``queue_disputes``: approved dispute decisions become queued disputes,
  under the filing policy.

Every task is idempotent: running it twice, or killing it and running it
again, leaves the same store.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

Task = Literal[
    "sync",
    "pods",
    "retrieve",
    "file_dispute",
    "dispute_status",
    "read_documents",
    "match",
    "queue_disputes",
]


BROWSER_TASKS: tuple[Task, ...] = ("sync", "pods", "retrieve", "file_dispute", "dispute_status")


def task_named(name: str) -> Task:
    """``name`` as a Task (a job store or a command line hands over plain text)."""
    for task in TASKS:
        if task == name:
            return task
    raise ValueError(f"no task {name[:40]!r}; the tasks are {', '.join(TASKS)}")


CORE_TASKS: tuple[Task, ...] = ("read_documents", "match", "queue_disputes")
TASKS: tuple[Task, ...] = (
    "sync",
    "read_documents",
    "pods",
    "match",
    "queue_disputes",
    "file_dispute",
    "dispute_status",
    "retrieve",
)
"""Every task, in pipeline order (``fleet run --task`` lists them so)."""

CORE = "core"
"""The portal name of fleet-wide core jobs (match, queue_disputes): their
Celery queue is ``fleet.core`` and their lock ``core/<task>``."""
EVERY_ACCOUNT = "*"
"""The account of a fleet-wide core job."""


def is_core(task: str) -> bool:
    return task in CORE_TASKS


@dataclass(frozen=True)
class Job:
    portal: str
    account: str
    task: Task
    target: str | None = None  # a deduction id or PRO for ``retrieve``; a dispute key

    def __str__(self) -> str:
        who = "fleet" if self.portal == CORE else f"{self.portal}/{self.account}"
        return f"{self.task} {who}" + (f" {self.target}" if self.target else "")


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

    @property
    def ok(self) -> bool:
        """The job did its work (some items may wait for a person)."""
        return self.status in ("succeeded", "partial")
