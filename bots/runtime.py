"""Running one bot job from start to end.

A core job (read_documents, match, queue_disputes: bots/jobs.py) takes its
fleet-wide lock (one of each at a time, across hosts), runs on the store and
the vault, and is recorded like any other run. A browser job:

``FleetRuntime.run(job)`` takes the account's lock (or, for an analyst's
``retrieve``, joins the job of this process already holding the account,
which serves it between two claims: bots/handover.py), opens a browser context
(restoring the account's saved, encrypted session so a valid session skips
login and MFA), runs the task with retries by error class, commits progress
as it goes (so a killed run resumes without re-downloading), and records the
run, its retries and its failures as health. The runtime knows no portal's
pages: adapters do.

Failure handling by class (see bots/retry.py for retries):
- BadCredentials: the account is disabled at once and an alert raised; the
  saved session is dropped. No second login attempt, ever, from any job.
- CaptchaRequired / MfaFailed: a needs-human item; the rest of the job goes on
  where it can (a CAPTCHA blocks one lookup, not a carrier).
- LayoutChanged and anything unexpected: the job stops, artifacts are kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy.orm import Session, sessionmaker

from bots.anomalies import after_run
from bots.artifacts import ArtifactKeeper
from bots.browser_pool import BrowserPool
from bots.context import BrowserTask, CoreContext, CoreTask, JobContext, Services
from bots.handover import Handover
from bots.jobs import CORE, Job, JobResult, is_core
from bots.locks import AccountLock, FileAccountLock, LockTimeout
from bots.politeness import Politeness
from bots.retry import RetryPolicy
from bots.tasks import BROWSER_TASK_FUNCTIONS, CORE_TASK_FUNCTIONS
from bots.tasks.disputes import email_disputes, mail_only
from credentials.keyring_vault import CredentialVault, SecretKind
from credentials.login import Login, NoPassword
from credentials.secret import Secret
from credentials.session_state import SessionStore
from dispute_filing.policy import FilingPolicy
from portal_adapters.base import PAGE_LIFE, AdapterSession
from portal_adapters.errors import BadCredentials, MfaFailed, PortalError
from portal_adapters.registry import get_adapter
from portal_adapters.web import start_trace, stop_trace
from records.schemas import RunStatus
from store.db import transaction
from store.repositories import accounts as accounts_repo
from store.repositories import runs as runs_repo
from store.vault import DocumentVault

log = structlog.get_logger(__name__)


class AccountDisabled(Exception):
    """The account is disabled (after BadCredentials); a person must re-enable it."""


ATTENTION_COUNTS = (
    "quarantined",
    "disputes.rejected",
    "disputes.window_closed",
    "disputes.held",
)
"""Counts that make a finished job ``partial``: something in it needs a person."""


def _today_utc() -> date:
    return datetime.now(UTC).date()


class FleetRuntime:
    """Everything a job needs, built once per process."""

    def __init__(
        self,
        data_dir: Path,
        *,
        db: sessionmaker[Session],
        vault: DocumentVault,
        credentials: CredentialVault,
        pool: BrowserPool,
        portal_urls: dict[str, str],
        locks: AccountLock | None = None,
        policy: RetryPolicy | None = None,
        session_max_age: timedelta = timedelta(hours=8),
        trace_jobs: bool = True,
        politeness: Politeness | None = None,
        heartbeat_seconds: float = 30.0,
        filing: FilingPolicy | None = None,
        today: Callable[[], date] = _today_utc,
        smtp_url: str | None = None,
        mail_from: str = "deductions@supplier.example",
        human_wait_seconds: float = 0.0,
    ) -> None:
        self.data_dir = data_dir
        self.db = db
        self.vault = vault
        self.credentials = credentials
        self.session_states = SessionStore(credentials)
        self.pool = pool
        self.portal_urls = portal_urls
        self.locks = locks or FileAccountLock(data_dir / "locks")
        self.policy = policy or RetryPolicy()
        self.session_max_age = session_max_age
        self.trace_jobs = trace_jobs
        self.page_life = PAGE_LIFE
        """Page loads before a job's page is renewed (portal_adapters.base.PAGE_LIFE)."""
        self.politeness = politeness or Politeness()
        self.artifacts = ArtifactKeeper(data_dir / "artifacts")
        self.heartbeat_seconds = heartbeat_seconds
        self.services = Services(
            db=db,
            vault=vault,
            policy=self.policy,
            filing=filing or FilingPolicy(),
            today=today,
            data_dir=data_dir,
            smtp_url=smtp_url,
            mail_from=mail_from,
            human_wait_seconds=human_wait_seconds,
            security_answer=self._security_answer,
        )
        self._creds_cache: dict[tuple[str, str], Login] = {}
        self.handover = Handover()

    # ------------------------------------------------------------------ credentials

    def portal_credentials(self, portal: str, account: str) -> Login:
        """The login from the keyring, read once per process (keyring reads are slow)."""
        key = (portal, account)
        if key not in self._creds_cache:
            try:
                self._creds_cache[key] = self.credentials.login(portal, account)
            except NoPassword:
                raise BadCredentials(
                    f"no password stored for this account (fleet credentials set {portal} ACCOUNT)",
                    portal=portal,
                    step="credentials",
                ) from None
        return self._creds_cache[key]

    # ------------------------------------------------------------------ running

    async def run(self, job: Job, *, lock_wait_seconds: float = 600) -> JobResult:
        run_id = uuid.uuid4().hex
        result = JobResult(job=job, run_id=run_id, status=RunStatus.running.value)
        bound = log.bind(run_id=run_id, portal=job.portal, account=job.account, task=job.task)
        try:
            if is_core(job.task):
                async with self.locks.hold(CORE, job.task, wait_seconds=lock_wait_seconds):
                    await self._run_core(job, run_id, result, bound, CORE_TASK_FUNCTIONS[job.task])
                return result
            if job.task == "file_dispute" and mail_only(job.portal):
                # a retailer with no portal: e-mail, no browser, no login
                async with self.locks.hold(job.portal, job.account, wait_seconds=lock_wait_seconds):
                    await self._run_core(job, run_id, result, bound, email_disputes)
                return result
            if job.task == "retrieve":  # an analyst waits: the account's job serves it
                served = await self.handover.join(job, timeout=lock_wait_seconds)
                if served is not None:
                    return served
            async with (
                self.locks.hold(job.portal, job.account, wait_seconds=lock_wait_seconds),
                self.politeness.jobs(job.portal),  # the account first, then a portal slot
            ):
                with self.handover.holding(job.portal, job.account):
                    await self._run_locked(
                        job, run_id, result, BROWSER_TASK_FUNCTIONS[job.task], bound
                    )
        except LockTimeout:
            result.status, result.error_class = RunStatus.failed.value, "LockTimeout"
            bound.warning("bot.lock_timeout")
        return result

    async def _run_core(
        self, job: Job, run_id: str, result: JobResult, bound: Any, task: CoreTask
    ) -> None:
        """A job with no browser and no login (a core task, or e-mailing a
        portal-less retailer's disputes); recorded and beating like any run."""
        await asyncio.to_thread(self._start_run, job, run_id)
        heartbeat = asyncio.create_task(self._heartbeat(run_id), name=f"heartbeat {run_id}")
        cc = CoreContext(self.services, job, run_id)
        status, error_class = RunStatus.succeeded, None
        bound.info("bot.start")
        try:
            await task(cc)
            if any(cc.counts.get(k) for k in ATTENTION_COUNTS):
                status = RunStatus.partial
        except Exception as exc:
            status, error_class = RunStatus.failed, type(exc).__name__
            bound.exception("bot.crashed", error_class=error_class)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        result.counts = cc.counts
        await asyncio.to_thread(self._finish, run_id, result, status, error_class)
        bound.info("bot.finish", status=status.value, **_loggable(result.counts))

    def _start_run(self, job: Job, run_id: str) -> Any:
        with transaction(self.db) as s:
            account = accounts_repo.get(s, job.portal, job.account)
            runs_repo.start(s, run_id, job.portal, job.task, account=job.account)
            if account is not None:
                s.expunge(account)
            return account

    async def _run_locked(
        self, job: Job, run_id: str, result: JobResult, task: BrowserTask, bound: Any
    ) -> None:
        account = await asyncio.to_thread(self._start_run, job, run_id)
        heartbeat = asyncio.create_task(self._heartbeat(run_id), name=f"heartbeat {run_id}")
        try:
            await self._run_started(job, run_id, result, task, bound, account)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    async def _heartbeat(self, run_id: str) -> None:
        """Beat while the job runs, so the reaper (scheduler/housekeeping.py) can
        tell a slow job from one whose process died. A failed beat is only logged: the
        job itself matters more than its bookkeeping."""
        while True:
            await asyncio.sleep(self.heartbeat_seconds)
            try:
                await asyncio.to_thread(self._beat, run_id)
            except Exception as exc:
                log.warning("bot.heartbeat_failed", run_id=run_id, error_class=type(exc).__name__)

    def _beat(self, run_id: str) -> None:
        with transaction(self.db) as s:
            runs_repo.beat(s, run_id)

    async def _run_started(
        self, job: Job, run_id: str, result: JobResult, task: BrowserTask, bound: Any, account: Any
    ) -> None:
        if account is not None and not account.enabled:
            await asyncio.to_thread(
                self._finish, run_id, result, RunStatus.failed, "AccountDisabled"
            )
            bound.warning("bot.account_disabled", reason=account.disabled_reason)
            return
        adapter = get_adapter(job.portal)
        state = self.session_states.load(job.portal, job.account, max_age=self.session_max_age)
        bound.info("bot.start", saved_session=state is not None)
        async with self.pool.context(storage_state=state) as ctx:
            tracing = False
            if self.trace_jobs:
                with contextlib.suppress(Exception):
                    await start_trace(ctx, run_id)
                    tracing = True
            throttle = await self.politeness.install(job.portal, ctx)
            jc = JobContext(
                self.services,
                job,
                run_id,
                adapter,
                AdapterSession(
                    portal=job.portal,
                    account=job.account,
                    base_url=self.portal_urls[job.portal],
                    context=ctx,
                    credentials=self.portal_credentials(job.portal, job.account),
                    throttle=throttle,
                    restored=state is not None,
                    pages=self.politeness.for_portal(job.portal).pages,
                    page_life=self.page_life,
                ),
            )
            ctx.on("request", lambda _req: jc.counts.update(("requests",)))
            holder = self.handover.holder(job.portal, job.account)
            if holder is not None:  # held in run(): retrieves may join this job
                jc.serve_waiting = partial(holder.serve, partial(self._serve_joined, jc))
            status, error_class = RunStatus.succeeded, None
            try:
                await self._log_in(jc)
                await task(jc)
                status = _done_status(jc)
            except BadCredentials as exc:
                status, error_class = RunStatus.failed, exc.error_class
                await asyncio.to_thread(self._disable, job, run_id, exc)
            except PortalError as exc:
                status, error_class = RunStatus.failed, exc.error_class
                if exc.needs_human:
                    jc.human(job.account, exc)
                result.artifacts = str(
                    await self.artifacts.capture(
                        job.portal, run_id, ctx, jc.session.page, trace_running=tracing
                    )
                )
                tracing = False
                bound.warning("bot.failed", error_class=error_class, error=str(exc)[:300])
            except Exception as exc:
                status, error_class = RunStatus.failed, type(exc).__name__
                result.artifacts = str(
                    await self.artifacts.capture(
                        job.portal, run_id, ctx, jc.session.page, trace_running=tracing
                    )
                )
                tracing = False
                bound.exception("bot.crashed", error_class=error_class)
            finally:
                if tracing:
                    with contextlib.suppress(Exception):
                        await stop_trace(ctx)  # a good run keeps no trace
                self.pool.drop_trace_files(run_id)
                if jc.session.logged_in and status is not RunStatus.failed:
                    with contextlib.suppress(Exception):
                        self.session_states.save(job.portal, job.account, await ctx.storage_state())
            # the browser's request events miss the request API's
            jc.counts["requests"] += jc.session.api_requests_of_all_lanes()
            result.counts = jc.counts
            result.needs_human = jc.needs_human
        await self._record_end(run_id, result, status, error_class, bound)

    async def _serve_joined(self, host: JobContext, job: Job) -> JobResult:
        """``job`` (a retrieve that joined ``host``, bots/handover.py) on the
        host's signed-in session and page, recorded as a run of its own; its
        failure is its own, and the host goes on after it either way."""
        run_id = uuid.uuid4().hex
        result = JobResult(job=job, run_id=run_id, status=RunStatus.running.value)
        bound = log.bind(run_id=run_id, portal=job.portal, account=job.account, task=job.task)
        await asyncio.to_thread(self._start_run, job, run_id)
        bound.info("bot.start", served_by=host.run_id)
        jc = JobContext(self.services, job, run_id, host.adapter, host.session)
        status, error_class = RunStatus.succeeded, None
        try:
            await BROWSER_TASK_FUNCTIONS[job.task](jc)
            status = _done_status(jc)
        except PortalError as exc:
            status, error_class = RunStatus.failed, exc.error_class
            if exc.needs_human:
                jc.human(job.account, exc)
            bound.warning("bot.failed", error_class=error_class, error=str(exc)[:300])
        except Exception as exc:
            status, error_class = RunStatus.failed, type(exc).__name__
            bound.exception("bot.crashed", error_class=error_class)
        result.counts = jc.counts
        result.needs_human = jc.needs_human
        await self._record_end(run_id, result, status, error_class, bound)
        return result

    async def _record_end(
        self,
        run_id: str,
        result: JobResult,
        status: RunStatus,
        error_class: str | None,
        bound: Any,
    ) -> None:
        """A browser run's end in the store and the log (a job's own, or a
        retrieve its sync served)."""
        await asyncio.to_thread(self._finish, run_id, result, status, error_class)
        bound.info(
            "bot.finish", status=status.value, error_class=error_class, **_loggable(result.counts)
        )

    def _finish(
        self, run_id: str, result: JobResult, status: RunStatus, error_class: str | None
    ) -> None:
        result.status, result.error_class = status.value, error_class
        with transaction(self.db) as s:
            runs_repo.finish(s, run_id, status, counts=dict(result.counts), error_class=error_class)
            if error_class:
                runs_repo.health_event(
                    s,
                    "job_failed",
                    portal=result.job.portal,
                    account=result.job.account,
                    run_id=run_id,
                    severity="error",
                    error_class=error_class,
                    detail={"artifacts": result.artifacts} if result.artifacts else {},
                )
        self._check_anomalies(run_id)

    async def _log_in(self, jc: JobContext) -> None:
        """Log in; a question the robot cannot answer (no security answer in the
        keyring, or the portal refused it) goes to a person in the web app while
        the job waits: answered, the log-on completes and the job goes on."""
        try:
            await jc.call(lambda: jc.adapter.ensure_logged_in(jc.session), what="login")
        except MfaFailed as exc:
            if not await jc.ask_human(jc.job.account, exc):
                raise
            jc.session.logged_in = True

    def _security_answer(self, portal: str, account: str) -> Secret | None:
        """The account's security answer as the keyring holds it now (a person
        just stored it); the process's cached login is dropped so the next
        log-on uses it too."""
        self._creds_cache.pop((portal, account), None)
        return self.credentials.get(portal, account, SecretKind.SECURITY_ANSWER)

    def _check_anomalies(self, run_id: str) -> None:
        """A job's end is when a document kind going missing or its portal's
        failures jumping can first be seen (bots/anomalies.py). Bookkeeping in
        its own transaction: a failing check is logged, and never undoes the
        run's record or fails the job."""
        try:
            with transaction(self.db) as s:
                found = after_run(s, run_id)
        except Exception as exc:
            log.warning("bot.anomaly_check_failed", run_id=run_id, error_class=type(exc).__name__)
            return
        for a in found:
            log.warning("bot.anomaly", run_id=run_id, what=a.get("what"), role=a.get("role"))

    def _disable(self, job: Job, run_id: str, exc: BadCredentials) -> None:
        """No retry, ever: disable the account so no job logs in with it again."""
        self.session_states.delete(job.portal, job.account)
        self._creds_cache.pop((job.portal, job.account), None)
        with transaction(self.db) as s:
            accounts_repo.set_enabled(
                s,
                job.portal,
                job.account,
                False,
                reason="the portal refused the login (BadCredentials)",
            )
            runs_repo.health_event(
                s,
                "account_disabled",
                portal=job.portal,
                account=job.account,
                run_id=run_id,
                severity="critical",
                error_class=exc.error_class,
            )
        log.error("bot.account_disabled", run_id=run_id, portal=job.portal, account=job.account)


def _done_status(jc: JobContext) -> RunStatus:
    """A browser task that returned: partial when it left anything for a person."""
    if jc.needs_human or any(jc.counts.get(k) for k in ATTENTION_COUNTS):
        return RunStatus.partial
    return RunStatus.succeeded


def _loggable(counts: Counter[str]) -> dict[str, int]:
    return {k.replace(".", "_"): v for k, v in counts.items()}
