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
