from __future__ import annotations

import pytest
from playwright.async_api import BrowserContext

pytestmark = pytest.mark.browser


async def test_chromium_renders_a_page(context: BrowserContext) -> None:
    page = await context.new_page()
    await page.set_content("<button>Download backup</button>")
    await page.get_by_role("button", name="Download backup").click()
    assert await page.title() == ""
