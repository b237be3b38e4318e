"""Per-portal politeness: how many jobs may work one portal at once, and how
many requests a minute they may send it together.

Portals answer overload with 429s and, worse, with flags on the supplier's
account; staying under their limits is cheaper than retrying after them. The
request limit is a token bucket shared by every job on the portal in this
process. It is applied to page traffic through Playwright route interception
and to request-API downloads through ``AdapterSession.throttle``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from playwright.async_api import BrowserContext, Route


@dataclass(frozen=True)
class PortalLimits:
    concurrent_jobs: int = 2
    requests_per_minute: float | None = None  # None: no limit
    burst: int = 5
    pages: int = 1
    """Pages of one login session a job may work at once (megamart's listing,
    a sync's document pass): more pages, not more sessions, so the portal
    sees one login per account; the request budget above paces them all.
    1 until the Celery chaos test passes with more (docs/performance.md)."""


class RateLimiter:
    """A token bucket: ``rate`` tokens a second, at most ``burst`` saved up.

    ``acquire`` waits (without blocking the loop) until a token is there.
    Waiters are served in arrival order, so no job starves. ``clock`` and
    ``sleep`` are the real ones unless a test hands in its own; ``granted``
    counts the tokens handed out (every paced request took one).
    """

    def __init__(
        self,
        per_minute: float,
        burst: int = 5,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if per_minute <= 0:
            raise ValueError("requests_per_minute must be positive")
        self.rate = per_minute / 60.0
        self.burst = max(1, burst)
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(self.burst)
        self._stamp = clock()
        self._lock = asyncio.Lock()
        self.waited = 0.0
        self.granted = 0

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def acquire(self) -> None:
        async with self._lock:
            self._refill()
            if self._tokens < 1:
                delay = (1 - self._tokens) / self.rate
                self.waited += delay
                await self._sleep(delay)  # pacing requests: the whole point of a limiter
                self._refill()
            self._tokens -= 1
            self.granted += 1

    async def close(self) -> None:
        """A bucket in memory holds nothing to let go of."""


class Limiter(Protocol):
    """A request bucket: local (:class:`RateLimiter`) or fleet-wide
    (``bots.politeness_shared.SharedRateLimiter``)."""

    waited: float
    granted: int

    async def acquire(self) -> None: ...

    async def close(self) -> None:
        """Let go of what the bucket holds (a connection); it is not used after."""
        ...


class SessionSlots(Protocol):
    """A portal's ``max_sessions`` held by the whole fleet
    (``bots.politeness_shared.SharedSessionSlots``)."""

    def hold(self) -> contextlib.AbstractAsyncContextManager[None]:
        """Wait for a slot; it is given back when the block ends."""
        ...

    async def close(self) -> None:
        """Let go of what the slots hold (a connection); not used after."""
        ...


class Politeness:
    """The limits of every portal, and the semaphores and buckets enforcing them."""

    def __init__(
        self,
        limits: dict[str, PortalLimits] | None = None,
        default: PortalLimits | None = None,
        shared: Callable[[str, PortalLimits], Limiter] | None = None,
        shared_sessions: Callable[[str, int], SessionSlots] | None = None,
    ) -> None:
        """``shared``: makes a portal's request bucket held by the whole fleet
        (``bots.politeness_shared``, when jobs run on several hosts); None: a
        bucket in this process. ``shared_sessions`` does the same for the jobs
        at once (``concurrent_jobs``, fleet.toml's ``max_sessions``)."""
        self.limits = dict(limits or {})
        self.default = default or PortalLimits()
        self._shared = shared
        self._shared_sessions = shared_sessions
        self._jobs: dict[str, asyncio.Semaphore] = {}
        self._slots: dict[str, SessionSlots] = {}
        self._buckets: dict[str, Limiter | None] = {}

    def for_portal(self, portal: str) -> PortalLimits:
        return self.limits.get(portal, self.default)

    @contextlib.asynccontextmanager
    async def jobs(self, portal: str) -> AsyncIterator[None]:
        """A slot among the portal's ``concurrent_jobs``: this process's first
        (waiting there costs nothing), then the fleet's when it is shared."""
        if portal not in self._jobs:
            self._jobs[portal] = asyncio.Semaphore(self.for_portal(portal).concurrent_jobs)
        async with self._jobs[portal]:
            if self._shared_sessions is None:
                yield
                return
            if portal not in self._slots:
                limit = self.for_portal(portal).concurrent_jobs
                self._slots[portal] = self._shared_sessions(portal, limit)
            async with self._slots[portal].hold():
                yield

    def bucket(self, portal: str) -> Limiter | None:
        if portal not in self._buckets:
            lim = self.for_portal(portal)
            bucket: Limiter | None = None
            if lim.requests_per_minute and self._shared is not None:
                bucket = self._shared(portal, lim)
            elif lim.requests_per_minute:
                bucket = RateLimiter(lim.requests_per_minute, lim.burst)
            self._buckets[portal] = bucket
        return self._buckets[portal]

    async def aclose(self) -> None:
        """Close every bucket and slot set (a fleet-wide one holds a Redis connection)."""
        buckets, self._buckets = list(self._buckets.values()), {}
        slots, self._slots = list(self._slots.values()), {}
        for held in [*buckets, *slots]:
            if held is not None:
                await held.close()

    async def install(
        self, portal: str, context: BrowserContext
    ) -> Callable[[], Awaitable[None]] | None:
        """Pace the context's page traffic; returns the throttle for request-API calls."""
        bucket = self.bucket(portal)
        if bucket is None:
            return None

        async def paced(route: Route) -> None:
            await bucket.acquire()
            request = route.request
            if request.method == "GET" or not request.is_navigation_request():
                await route.continue_()
                return
            # A form's POST answers with a redirect (post/redirect/get), and the
            # hop the browser then makes never comes through a route. Fetched
            # here without following, the redirect is seen before the browser
            # gets it: the hop's token is taken first, so the hop is paced too.
            response = await route.fetch(max_redirects=0)
            if 300 <= response.status < 400 and "location" in response.headers:
                await bucket.acquire()
            await route.fulfill(response=response)

        await context.route("**/*", paced)
        return bucket.acquire
