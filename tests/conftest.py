"""Shared test fixtures: one Chromium per test session, a fresh context per test.

Browser tests are the slow part of the suite, so the browser (and the Playwright
driver) is started once; each test gets its own context, which is as isolated
as a new browser profile and costs a fraction of a launch.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Playwright, async_playwright

from fleet.settings import get_settings

pytest_plugins = ("tests.fleet_fixtures",)
"""The demo fleet's fixtures (small world, shared keyring, synced snapshot,
``make_demo``) for every folder that runs the fleet."""

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("FLEET_SHARED_DIR", REPO.parent / "shared"))
REAL_PDFS = SHARED / "testdata" / "real-pdfs"


@pytest.fixture(scope="session")
async def playwright_driver() -> AsyncIterator[Playwright]:
    async with async_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
async def browser(playwright_driver: Playwright) -> AsyncIterator[Browser]:
    settings = get_settings()
    path = settings.resolved_browser_path
    b = await playwright_driver.chromium.launch(
        executable_path=str(path) if path else None,
        args=settings.browser_args(),
        headless=True,
    )
    yield b
    await b.close()


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(accept_downloads=True)
    ctx.set_default_timeout(15_000)
    yield ctx
    await ctx.close()


# --------------------------------------------------------------------- fixture world

EXAMPLE_SCENARIO = REPO / "fixtures" / "examples" / "hand_written.yaml"


@pytest.fixture(scope="session")
def hand_scenario():  # type: ignore[no-untyped-def]
    """The hand-written example scenario (hostile text, awkward names included)."""
    from fixtures.scenario_io import load_scenario

    return load_scenario(EXAMPLE_SCENARIO)


@pytest.fixture
def world_factory():  # type: ignore[no-untyped-def]
    """Start worlds for one test; each is stopped when the test ends.

    ``world_factory(scenario=None, faults=None)`` returns a RunningWorld whose
    ``urls`` map each portal to its own origin. Starting one takes milliseconds,
    so a test that changes the world (disputes, clock) gets its own.
    """
    from fixtures.scenario_io import load_scenario
    from fixtures.server import start_world

    started = []

    def make(scenario=None, faults=None):  # type: ignore[no-untyped-def]
        rw = start_world(scenario or load_scenario(EXAMPLE_SCENARIO), faults)
        started.append(rw)
        return rw

    yield make
    for rw in started:
        rw.stop()


@pytest.fixture
def adapter_session(context: BrowserContext):  # type: ignore[no-untyped-def]
    """``adapter_session(running_world, portal, username=None)`` -> AdapterSession.

    The login comes from the scenario (as the credential vault would hand it
    over, every secret wrapped); the context is the test's own.
    """
    from credentials.login import Login
    from credentials.secret import Secret
    from portal_adapters.base import AdapterSession

    def make(running, portal: str, username: str | None = None):  # type: ignore[no-untyped-def]
        accounts = running.world.scenario.accounts_on(portal)
        acct = next(a for a in accounts if username in (None, a.username))

        def wrap(v: str | None) -> Secret | None:
            return Secret(v) if v else None

        creds = Login(
            portal=portal,
            username=acct.username,
            password=Secret(acct.password),
            totp_secret=wrap(acct.totp_secret),
            security_answer=wrap(acct.security_answer),
            api_key=wrap(acct.api_key),
        )
        return AdapterSession(
            portal=portal,
            account=acct.username,
            base_url=running.urls[portal],
            context=context,
            credentials=creds,
        )

    return make
