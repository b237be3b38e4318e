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

# --------------------------------------------------------------------- file order

FIRST = (
    "tests/hostile/test_chaos.py",
    "tests/hostile/test_chaos_celery.py",
    "tests/browser/fleet/test_pipeline.py",
)
"""The longest files (minutes each), started first: the chaos pair, one in
each xdist process (the chaos test computes the clean run both compare with
while the Celery one runs: ``clean_chaos_run`` is a getter for that), then
the first of the files on the small world's synced snapshot, which computes
it. Left to the end, they would keep one process working alone for minutes."""

ON_SNAPSHOT = (
    "tests/browser/fleet/test_appeals.py",
    "tests/browser/fleet/test_dispute_packets.py",
    "tests/browser/fleet/test_disputes.py",
    "tests/browser/fleet/test_recovered_from_remittance.py",
    "tests/browser/fleet/test_robot_accuracy.py",
    "tests/browser/web/test_web_app.py",
)
"""The other files that start from ``synced_snapshot``: after the slow files
that do not, so that the other process has work while the snapshot is made."""


def pytest_configure(config: pytest.Config) -> None:
    # pytest-xdist's loadfile hands files out in the order collected below,
    # not reordered by their number of tests (read by the controller process).
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Longest files first, each file's tests in their own order (every
    process sorts alike, as xdist requires): :data:`FIRST`, the other files
    with a ``slow`` test (:data:`ON_SNAPSHOT` last of them), then the rest,
    most tests first (xdist's own order). Which file runs where changes
    nothing a test asserts: a file's tests stay together, in their order."""
    files: dict[str, list[pytest.Item]] = {}
    for item in items:
        files.setdefault(item.nodeid.split("::", 1)[0], []).append(item)

    def rank(name: str) -> tuple[int, int]:
        if name in FIRST:
            return (0, FIRST.index(name))
        if name in ON_SNAPSHOT:
            return (2, 0)
        if any(i.get_closest_marker("slow") for i in files[name]):
            return (1, 0)
        return (3, -len(files[name]))

    items[:] = [i for name in sorted(files, key=rank) for i in files[name]]


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
