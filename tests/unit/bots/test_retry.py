from __future__ import annotations

import pytest

from bots.retry import FAST_TEST_POLICY, RetryPolicy, with_retries
from portal_adapters.errors import (
    BadCredentials,
    CaptchaRequired,
    DisputeRejected,
    LayoutChanged,
    MfaFailed,
    NeedsPerson,
    NotYetAvailable,
    PageNotFound,
    PortalError,
    PortalUnavailable,
    RateLimited,
    RecordInvalid,
    Retryable,
    SessionExpired,
)


class Flaky:
    """Fails with the given errors in order, then returns 'done'."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


async def test_unavailable_is_retried_with_backoff_until_success() -> None:
    op = Flaky(PortalUnavailable("502"), PortalUnavailable("503"))
    seen: list[tuple[str, float]] = []
    result = await with_retries(
        op, policy=FAST_TEST_POLICY, on_retry=lambda e, d: seen.append((type(e).__name__, d))
    )
    assert result == "done"
    assert op.calls == 3
    assert [n for n, _ in seen] == ["PortalUnavailable", "PortalUnavailable"]


async def test_unavailable_gives_up_after_max_attempts_with_the_real_error() -> None:
    op = Flaky(*[PortalUnavailable(f"down {i}") for i in range(20)])
    with pytest.raises(PortalUnavailable, match="down 5"):
        await with_retries(op, policy=FAST_TEST_POLICY)
    assert op.calls == FAST_TEST_POLICY.max_attempts


async def test_rate_limited_waits_the_portals_retry_after_capped() -> None:
    op = Flaky(RateLimited("429", retry_after=0.2), RateLimited("429", retry_after=500))
    delays: list[float] = []
    assert (
        await with_retries(op, policy=FAST_TEST_POLICY, on_retry=lambda e, d: delays.append(d))
        == "done"
    )
    assert delays == [0.2, FAST_TEST_POLICY.max_retry_after]


async def test_session_expired_logs_in_again_then_resumes() -> None:
    op = Flaky(SessionExpired("login page"), PortalUnavailable("502"), SessionExpired("again"))
    logins = 0

    async def relogin() -> None:
        nonlocal logins
        logins += 1

    assert await with_retries(op, policy=FAST_TEST_POLICY, relogin=relogin) == "done"
    assert logins == 2


async def test_session_expired_without_relogin_is_not_retried() -> None:
    op = Flaky(SessionExpired("login page"))
    with pytest.raises(SessionExpired):
        await with_retries(op, policy=FAST_TEST_POLICY)
    assert op.calls == 1


async def test_relogins_are_bounded() -> None:
    op = Flaky(*[SessionExpired(str(i)) for i in range(10)])

    async def relogin() -> None:
        return None

    with pytest.raises(SessionExpired):
        await with_retries(op, policy=RetryPolicy(max_relogins=2, base_delay=0), relogin=relogin)
    assert op.calls == 3


async def test_failed_relogin_ends_with_its_own_error_and_no_more_attempts() -> None:
    op = Flaky(SessionExpired("login page"))
    attempts = 0

    async def relogin() -> None:
        nonlocal attempts
        attempts += 1
        raise BadCredentials("refused")

    with pytest.raises(BadCredentials):
        await with_retries(op, policy=FAST_TEST_POLICY, relogin=relogin)
    assert attempts == 1
    assert op.calls == 1


@pytest.mark.parametrize(
    "error",
    [
        BadCredentials("no"),
        CaptchaRequired("captcha"),
        MfaFailed("code refused"),
        LayoutChanged("moved"),
        PageNotFound("404"),
        RecordInvalid("bad amount", raw={}),
        DisputeRejected("window closed"),
        NotYetAvailable("not imaged"),
        ValueError("bug"),
    ],
)
async def test_never_retried(error: Exception) -> None:
    op = Flaky(error)
    with pytest.raises(type(error)):
        await with_retries(op, policy=FAST_TEST_POLICY)
    assert op.calls == 1


def test_backoff_grows_and_is_capped() -> None:
    import random

    p = RetryPolicy(base_delay=1, max_delay=8)
    rng = random.Random(1)
    for attempt, cap in [(1, 1), (2, 2), (3, 4), (4, 8), (9, 8)]:
        assert all(0 <= p.backoff(attempt, rng) <= cap for _ in range(50))


async def test_progress_gives_a_resumed_operation_a_fresh_budget() -> None:
    policy = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.002)
    done = 0

    async def listing() -> str:
        nonlocal done
        done += 1  # each attempt stores one more record before the portal fails
        if done < 6:
            raise PortalUnavailable("502 after some progress")
        return "listed"

    assert await with_retries(listing, policy=policy, progress=lambda: done) == "listed"
    done = 0
    with pytest.raises(PortalUnavailable):  # without the progress signal: budget spent
        await with_retries(listing, policy=policy)


async def test_no_progress_still_ends_after_the_budget() -> None:
    op = Flaky(*[PortalUnavailable(str(i)) for i in range(20)])
    with pytest.raises(PortalUnavailable):
        await with_retries(op, policy=FAST_TEST_POLICY, progress=lambda: 0)
    assert op.calls == FAST_TEST_POLICY.max_attempts


async def test_a_failed_relogin_is_tried_again_before_the_operation() -> None:
    order: list[str] = []
    login_errors = [PortalUnavailable("502 during login")]

    async def relogin() -> None:
        order.append("login")
        if login_errors:
            raise login_errors.pop()

    op = Flaky(SessionExpired("login page"))

    async def operation() -> str:
        order.append("op")
        return await op()

    assert await with_retries(operation, policy=FAST_TEST_POLICY, relogin=relogin) == "done"
    assert order == ["op", "login", "login", "op"]


class PortalWentAway(Retryable):
    """A retryable error this module has never heard of."""


async def test_any_retryable_error_is_retried_by_its_class_alone() -> None:
    op = Flaky(PortalWentAway("gone for a moment"))
    assert await with_retries(op, policy=FAST_TEST_POLICY) == "done"
    assert op.calls == 2


def test_the_tree_says_what_the_runner_does() -> None:
    """Two bases carry the behaviour; the public names and attributes stay."""
    assert {c.__name__ for c in Retryable.__subclasses__()} >= {
        "PortalUnavailable",
        "RateLimited",
        "SessionExpired",
    }
    assert {c.__name__ for c in NeedsPerson.__subclasses__()} == {"MfaFailed", "CaptchaRequired"}
    assert [SessionExpired.relogin, PortalUnavailable.relogin] == [True, False]
    assert RateLimited("429", retry_after=7).retry_after == 7
    assert PortalUnavailable("502").retry_after is None
    for cls in (BadCredentials, LayoutChanged, RecordInvalid, DisputeRejected, NotYetAvailable):
        assert not issubclass(cls, (Retryable, NeedsPerson)), cls
    assert [e.needs_human for e in (CaptchaRequired("c"), MfaFailed("m"))] == [True, True]
    assert [e.needs_human for e in (BadCredentials("b"), SessionExpired("s"))] == [False, False]
    err: PortalError = CaptchaRequired("solve it", portal="parcelnet", step="search", ref="123")
    assert (err.error_class, str(err)) == ("CaptchaRequired", "[parcelnet:search] solve it")
