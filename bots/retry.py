"""Retries decided by error class: exactly the ``Retryable`` errors of
``portal_adapters.errors`` (whose docstring is the one behaviour table), and
how, from what the error says about itself:

* ``relogin`` (SessionExpired): log in again (the ``relogin`` callback) and
  try at once, at most ``max_relogins`` times;
* ``retry_after`` (RateLimited): wait what the portal said, capped at
  ``max_retry_after``;
* otherwise (PortalUnavailable): exponential backoff with full jitter.

Anything else is never retried here: BadCredentials above all (lockouts),
every needs-a-person error, LayoutChanged, RecordInvalid. The policy is a
frozen value; tenacity does the looping. Every retry is reported through
``on_retry`` so health shows it.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type

from portal_adapters.errors import Retryable

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    max_relogins: int = 3
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 120.0

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**attempt)]."""
        cap = min(self.max_delay, self.base_delay * 2 ** max(0, attempt - 1))
        return (rng or random).uniform(0, cap)


FAST_TEST_POLICY = RetryPolicy(base_delay=0.01, max_delay=0.05, max_retry_after=1.0)


async def with_retries(
    operation: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    relogin: Callable[[], Awaitable[None]] | None = None,
    on_retry: Callable[[BaseException, float], None] | None = None,
    progress: Callable[[], int] | None = None,
) -> T:
    """Run ``operation`` until it succeeds or its error is not worth retrying.

    After a SessionExpired the next attempt logs in again first; a failing
    login (BadCredentials, MfaFailed...) ends the loop with that error.
    ``progress`` (a counter of work done) lets a long operation that resumes
    where it failed keep going: the attempt budget is per stretch without
    progress, not per operation.
    """
    counts = {"relogins": 0, "other": 0, "progress": progress() if progress else 0}
    pending_relogin = False

    def stop(state: RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        if progress is not None and progress() != counts["progress"]:
            counts["progress"] = progress()
            counts["other"] = counts["relogins"] = 0  # it moved on: a fresh budget
        if isinstance(exc, Retryable) and exc.relogin:
            counts["relogins"] += 1
            return relogin is None or counts["relogins"] > policy.max_relogins
        counts["other"] += 1
        return counts["other"] >= policy.max_attempts

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, Retryable) and exc.relogin:
            delay = 0.0
        elif isinstance(exc, Retryable) and exc.retry_after is not None:
            delay = min(exc.retry_after, policy.max_retry_after)
        else:
            delay = policy.backoff(counts["other"])
        if on_retry is not None and exc is not None:
            on_retry(exc, delay)
        return delay

    retrying = AsyncRetrying(
        retry=retry_if_exception_type(Retryable),
        stop=stop,
        wait=wait,
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            if pending_relogin and relogin is not None:
                await relogin()  # a failed login leaves the flag set: log in first next time
                pending_relogin = False
            try:
                return await operation()
            except Retryable as exc:
                pending_relogin = pending_relogin or exc.relogin
                raise
    raise AssertionError("unreachable")  # pragma: no cover
