"""What a task function gets: the job, the run, and the runtime's services.

Two kinds of task (bots/jobs.py): browser tasks get a :class:`JobContext`
(the adapter and a logged-in session besides the services); core tasks get a
:class:`CoreContext` (the store and the vault only). Both count what they did
in ``counts``; the runtime records those on the run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TypeVar

import structlog
from sqlalchemy.orm import Session, sessionmaker

from bots.jobs import Job, NeedsHuman
from bots.retry import RetryPolicy, with_retries
from dispute_filing.policy import FilingPolicy
from portal_adapters.base import AdapterSession, PortalAdapter
from portal_adapters.errors import PortalError
from records.schemas import RetrievalStatus
from store.db import transaction
from store.repositories import retrieval as retrieval_repo
from store.repositories import runs as runs_repo
from store.vault import DocumentVault

log = structlog.get_logger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Services:
    """The runtime's shared parts a task may use (built once per process)."""

    db: sessionmaker[Session]
    vault: DocumentVault
    policy: RetryPolicy
    filing: FilingPolicy
    today: Callable[[], date]
    """The business day the fleet works on: the real date, or the simulated
    world's in the demo. Matching windows and filing deadlines use it."""
    data_dir: Path | None = None
    """The fleet's data dir (a user's dispute templates live under it, the
    e-mail outbox in ``outbox/``)."""
    smtp_url: str | None = None
    """Where e-mail disputes are sent (None: written to the outbox only)."""
    mail_from: str = "deductions@supplier.example"


@dataclass
class CoreContext:
    """A core task's context: no browser, no login."""

    services: Services
    job: Job
    run_id: str
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def db(self) -> sessionmaker[Session]:
        return self.services.db


@dataclass
class JobContext:
    """A browser task's context: the session, the adapter and the services."""

    services: Services
    job: Job
    run_id: str
    adapter: PortalAdapter
    session: AdapterSession
    counts: Counter[str] = field(default_factory=Counter)
    needs_human: list[NeedsHuman] = field(default_factory=list)

    @property
    def db(self) -> sessionmaker[Session]:
        return self.services.db

    @property
    def vault(self) -> DocumentVault:
        return self.services.vault

    async def call(self, operation: Callable[[], Awaitable[T]], *, what: str) -> T:
        """Run an adapter call with the runtime's retry policy and re-login."""

        async def relogin() -> None:
            self.counts["relogins"] += 1
            self.session.logged_in = False
            await self.adapter.login(self.session)
            self.session.logged_in = True

        def on_retry(exc: BaseException, delay: float) -> None:
            self.counts[f"retry.{type(exc).__name__}"] += 1
            log.info(
                "bot.retry",
                run_id=self.run_id,
                portal=self.job.portal,
                what=what,
                error_class=type(exc).__name__,
                delay=round(delay, 2),
            )

        return await with_retries(
            operation,
            policy=self.services.policy,
            relogin=relogin,
            on_retry=on_retry,
            progress=self.progress,
        )

    def progress(self) -> int:
        """Work done so far in this job: records stored and documents fetched."""
        return (
            len(self.session.listed) + self.counts["documents.new"] + self.counts["documents.known"]
        )

    def human(self, ref: str, exc: PortalError) -> None:
        item = NeedsHuman(self.job.portal, self.job.account, ref, exc.error_class, str(exc)[:300])
        self.needs_human.append(item)
        self.counts["needs_human"] += 1
        with transaction(self.db) as s:
            req = retrieval_repo.enqueue(s, "fleet", _human_kind(exc), ref, portal=self.job.portal)
            retrieval_repo.finish(s, req.id, RetrievalStatus.needs_human, exc.error_class)
            runs_repo.health_event(
                s,
                "needs_human",
                portal=self.job.portal,
                account=self.job.account,
                run_id=self.run_id,
                severity="warning",
                error_class=exc.error_class,
                detail={"ref": ref},
            )


def _human_kind(exc: PortalError) -> str:
    return "captcha" if exc.error_class == "CaptchaRequired" else "login"


BrowserTask = Callable[[JobContext], Awaitable[None]]
CoreTask = Callable[[CoreContext], Awaitable[None]]
