"""What a task function gets: the job, the run, and the runtime's services.

Two kinds of task (bots/jobs.py): browser tasks get a :class:`JobContext`
(the adapter and a logged-in session besides the services); core tasks get a
:class:`CoreContext` (the store and the vault only). Both count what they did
in ``counts``; the runtime records those on the run.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import structlog
from sqlalchemy.orm import Session, sessionmaker

from bots.jobs import Job, NeedsHuman
from bots.retry import RetryPolicy, with_retries
from credentials.secret import Secret
from dispute_filing.policy import FilingPolicy
from portal_adapters.base import AdapterSession, PortalAdapter
from portal_adapters.errors import PortalError
from records.schemas import RetrievalStatus
from store.db import transaction
from store.models import utcnow
from store.repositories import challenges as challenges_repo
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
    human_wait_seconds: float = 0.0
    """How long a job waits for a person to answer a check it met (the web
    app's ops page shows it); 0: it does not wait, the item is left needs-human."""
    human_poll_seconds: float = 1.0
    security_answer: Callable[[str, str], Secret | None] | None = None
    """Reads an account's security answer from the keyring afresh (a person
    just stored it there, answering a log-on's question in the web app)."""


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

    @property
    def vault(self) -> DocumentVault:
        return self.services.vault


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
    nobody_answers: bool = False
    """A wait for a person's answer ended unanswered in this job: ask no more."""
    serve_waiting: Callable[[], Awaitable[None]] | None = None
    """Serve the analysts' retrieves that joined this job (bots/handover.py):
    a task awaits it between two steps, where its session may be lent."""

    @property
    def db(self) -> sessionmaker[Session]:
        return self.services.db

    @property
    def vault(self) -> DocumentVault:
        return self.services.vault

    async def call(
        self,
        operation: Callable[[], Awaitable[T]],
        *,
        what: str,
        session: AdapterSession | None = None,
    ) -> T:
        """Run an adapter call with the runtime's retry policy and re-login.

        ``session``: the lane the call works on (``AdapterSession.lane``),
        default the job's own. After a SessionExpired the lane signs in again,
        unless another lane of the same login did since this attempt began."""
        on = session or self.session
        began = on.sign_ins.count

        async def attempt() -> T:
            nonlocal began
            began = on.sign_ins.count
            return await operation()

        async def relogin() -> None:
            async with on.sign_ins.lock:
                if on.sign_ins.count != began:
                    return  # another page of this login signed in meanwhile: just retry
                self.counts["relogins"] += 1
                on.logged_in = False
                await self.adapter.login(on)
                on.logged_in = True
                on.sign_ins.count += 1

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
            attempt,
            policy=self.services.policy,
            relogin=relogin,
            on_retry=on_retry,
            progress=self.progress,
        )

    async def renew_worn_pages(self, *lanes: AdapterSession) -> None:
        """Between two records: each lane's page past its life (default the
        job's own) is replaced by a fresh one, so a backfill's renderers stay
        flat in memory (``AdapterSession.renew_page_if_worn``)."""
        for lane in lanes or (self.session,):
            if await lane.renew_page_if_worn():
                self.counts["pages.renewed"] += 1

    def progress(self) -> int:
        """Work done so far in this job: records stored and documents fetched."""
        return (
            len(self.session.listed) + self.counts["documents.new"] + self.counts["documents.known"]
        )

    async def ask_human(self, ref: str, exc: PortalError) -> bool:
        """Hand the check the page shows (a CAPTCHA, a log-on's security
        question) to a person and wait for the answer: True when the portal let
        it pass (the caller goes on), False when there is nobody to ask, the
        wait ended or the answer was wrong (the caller then records a
        needs-human item, as before).

        The challenge is one row per portal and ref (two jobs meeting the same
        check share it), shown on the web app's ops page until
        ``human_wait_seconds`` have passed. A CAPTCHA's answer travels through
        the store (and is erased once used); a security answer is a credential:
        the web app writes it into the keyring, and the robot reads it from
        there (``Services.security_answer``), so it never touches the store.
        Once one wait in a job ended unanswered, the job asks no more: nobody
        is watching, and each wait holds a browser context."""
        wait = self.services.human_wait_seconds
        if wait <= 0 or self.nobody_answers or exc.error_class not in HANDED_OVER:
            return False
        try:
            shown = await self.adapter.challenge(self.session)
        except PortalError:
            return False
        if shown is None:
            return False
        expires = utcnow() + timedelta(seconds=wait)

        def open_it() -> int:
            with transaction(self.db) as s:
                opened = challenges_repo.open_challenge(
                    s,
                    portal=self.job.portal,
                    account=self.job.account,
                    kind=shown.kind,
                    ref=ref,
                    prompt=shown.prompt,
                    image=shown.image,
                    expires_at=expires,
                    run_id=self.run_id,
                )
                if opened.created:  # people are told (notifications), once per check
                    runs_repo.health_event(
                        s,
                        "check_waiting",
                        portal=self.job.portal,
                        account=self.job.account,
                        run_id=self.run_id,
                        severity="warning",
                        error_class=exc.error_class,
                        detail={"ref": ref[:60], "challenge": opened.id, "waits_seconds": wait},
                    )
                return opened.id

        challenge = await asyncio.to_thread(open_it)
        self.counts["challenges.asked"] += 1
        log.info(
            "human.asked",
            run_id=self.run_id,
            portal=self.job.portal,
            ref=ref[:60],
            kind=shown.kind,
            challenge=challenge,
            waits_seconds=wait,
            answer_in="the web app's ops page",
        )
        answer = await self._wait_for_answer(challenge, expires, in_keyring=shown.secret)
        if answer is None:
            self.nobody_answers = True
            await asyncio.to_thread(self._close_challenge, challenge, challenges_repo.EXPIRED)
            self.counts["challenges.unanswered"] += 1
            return False
        try:
            passed = await self.adapter.answer_challenge(self.session, answer)
        except PortalError:
            passed = False
        outcome = challenges_repo.PASSED if passed else challenges_repo.FAILED
        await asyncio.to_thread(self._close_challenge, challenge, outcome)
        self.counts[f"challenges.{outcome}"] += 1
        log.info("human.answered", run_id=self.run_id, challenge=challenge, outcome=outcome)
        return passed

    async def _wait_for_answer(
        self, challenge: int, until: datetime, *, in_keyring: bool
    ) -> Secret | None:
        def look() -> tuple[str | None, str | None]:
            with self.db() as s:
                return challenges_repo.look(s, challenge)

        while utcnow() < until:
            status, answer = await asyncio.to_thread(look)
            if status == challenges_repo.ANSWERED and in_keyring:
                reader = self.services.security_answer
                return (
                    None
                    if reader is None
                    else await asyncio.to_thread(reader, self.job.portal, self.job.account)
                )
            if status == challenges_repo.ANSWERED and answer is not None:
                return Secret(answer, scrub=False)
            if status not in (challenges_repo.OPEN, challenges_repo.ANSWERED):  # cleared
                return None
            await asyncio.sleep(self.services.human_poll_seconds)
        return None

    def _close_challenge(self, challenge: int, status: str) -> None:
        with transaction(self.db) as s:
            challenges_repo.close(s, challenge, status)

    def passed_human_check(self, ref: str) -> None:
        """A check for ``ref`` was passed: its needs-human items close themselves."""
        with transaction(self.db) as s:
            retrieval_repo.resolve_needs_human(s, self.job.portal, ref)

    def human(self, ref: str, exc: PortalError) -> None:
        item = NeedsHuman(self.job.portal, self.job.account, ref, exc.error_class, str(exc)[:300])
        self.needs_human.append(item)
        self.counts["needs_human"] += 1
        with transaction(self.db) as s:
            if retrieval_repo.needs_human_for(s, self.job.portal, ref):
                return  # one item per check: it is listed already
            if not (self.job.task == "retrieve" and self.job.target == ref):
                # an analyst's own request for ref becomes the item when the job ends
                req = retrieval_repo.enqueue(
                    s, "fleet", _human_kind(exc), ref, portal=self.job.portal
                )
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


HANDED_OVER = frozenset({"CaptchaRequired", "MfaFailed"})
"""Checks a person may answer while the job waits (a CAPTCHA, a log-on question)."""


def _human_kind(exc: PortalError) -> str:
    return "captcha" if exc.error_class == "CaptchaRequired" else "login"


BrowserTask = Callable[[JobContext], Awaitable[None]]
CoreTask = Callable[[CoreContext], Awaitable[None]]
