from __future__ import annotations

import pytest
from playwright.async_api import BrowserContext

pytestmark = pytest.mark.browser


async def test_chromium_renders_a_page_and_runs_its_script(context: BrowserContext) -> None:
    page = await context.new_page()
    await page.set_content(
        "<h1>Backup</h1><button onclick=\"document.querySelector('h1').textContent="
        "'Downloaded'\">Download backup</button>"
    )
    await page.get_by_role("button", name="Download backup").click()
    assert await page.title() == ""
    assert await page.get_by_role("heading").inner_text() == "Downloaded"
