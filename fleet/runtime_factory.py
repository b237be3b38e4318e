"""Building a FleetRuntime from settings: the one place that wires the store,
the vaults, the browser pool and the portal URLs together."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import date

from bots.browser_pool import BrowserPool
from bots.locks import AccountLock
from bots.politeness import Limiter, Politeness, PortalLimits, SessionSlots
from bots.politeness_shared import SharedRateLimiter, SharedSessionSlots
from bots.retry import RetryPolicy
from bots.runtime import FleetRuntime
from credentials.keyring_vault import CredentialVault
from dispute_filing.policy import FilingPolicy
from fleet.settings import Settings
from records.private import private_dir
from scheduler.config import FleetConfig
from scheduler.dispatch import RuntimeFactory, is_redis
from store.db import init_db, session_factory
from store.vault import DocumentVault


@contextlib.asynccontextmanager
async def open_runtime(
    settings: Settings,
    *,
    portal_urls: dict[str, str] | None = None,
    credentials: CredentialVault | None = None,
    policy: RetryPolicy | None = None,
    locks: AccountLock | None = None,
    filing: FilingPolicy | None = None,
    today: Callable[[], date] | None = None,
) -> AsyncIterator[FleetRuntime]:
    """A runtime with a started browser pool; everything is closed on exit.

    ``filing`` is fleet.toml's ``[disputes]`` policy; ``today`` the business
    day (default: the settings' ``today``; the demo passes its world's clock)."""
    private_dir(settings.data_dir)
    db = session_factory(init_db(settings.resolved_database_url))
    vault = DocumentVault(settings.data_dir / "vault")
    creds = credentials or CredentialVault.open(settings.data_dir)
    async with BrowserPool(
        settings.browser_options(), data_dir=settings.data_dir, max_contexts=settings.max_contexts
    ) as pool:
        politeness = politeness_from(settings)
        runtime = FleetRuntime(
            settings.data_dir,
            db=db,
            vault=vault,
            credentials=creds,
            pool=pool,
            portal_urls=portal_urls or settings.portal_urls,
            policy=policy,
            locks=locks,
            politeness=politeness,
            filing=filing,
            today=today or settings.today,
            smtp_url=settings.smtp_url,
            mail_from=settings.mail_from,
            human_wait_seconds=settings.human_wait_seconds,
        )
        try:
            yield runtime
        finally:
            await politeness.aclose()  # the fleet-wide buckets' Redis connections


def runtime_factory_for(config: FleetConfig, settings: Settings) -> RuntimeFactory:
    """What the scheduler and the workers are given to open their runtime (they
    never import this layer): the deployment's account lock, the file's URLs."""
    from scheduler.worker import account_lock_for

    def factory() -> contextlib.AbstractAsyncContextManager[FleetRuntime]:
        return open_runtime(
            settings,
            portal_urls=settings.portal_urls,
            locks=account_lock_for(settings, config),
            filing=config.disputes,
        )

    return factory


def politeness_from(settings: Settings) -> Politeness:
    """Per-portal limits from settings (jobs at once, requests a minute, pages
    of one session). With a Redis broker (Celery workers, perhaps on several
    hosts) a portal's request bucket and its session slots are held in Redis,
    so the whole fleet keeps to the portal's limits; in process they stay
    local."""
    portals = (
        set(settings.portal_concurrency)
        | set(settings.portal_requests_per_minute)
        | set(settings.portal_pages)
    )
    broker = settings.broker_url or ""
    shared = sessions = None
    if broker and is_redis(broker):

        def shared(portal: str, limits: PortalLimits) -> Limiter:
            assert limits.requests_per_minute is not None
            return SharedRateLimiter(broker, portal, limits.requests_per_minute, limits.burst)

        def sessions(portal: str, limit: int) -> SessionSlots:
            return SharedSessionSlots(broker, portal, limit)

    return Politeness(
        {
            p: PortalLimits(
                concurrent_jobs=settings.portal_concurrency.get(p, 2),
                requests_per_minute=settings.portal_requests_per_minute.get(p),
                pages=settings.portal_pages.get(p, PortalLimits().pages),
            )
            for p in portals
        },
        shared=shared,
        shared_sessions=sessions,
    )
