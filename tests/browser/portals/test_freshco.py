"""FreshCo Vendor Claims in real Chromium: log on with the security question,
work inside the frameset, page the claims table, open documents from the
pop-up viewer, file a dispute package, and notice a session that expired
inside the main frame."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, FrameLocator, Page, expect

import fixtures.portals.kit as kit
from fixtures.scenario import Scenario
from fixtures.server import RunningWorld
from tests.unit.portals.test_freshco import (
    ANSWER,
    PASSWORD,
    PDF,
    PORTAL,
    USER,
    _FakeTime,
    freshco_scenario,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def rw(world_factory: Any, hand_scenario: Scenario) -> RunningWorld:
    return world_factory(freshco_scenario(hand_scenario))


async def log_on(page: Page, base: str) -> FrameLocator:
    """From a cold browser: user id + password, the security question, the frameset."""
    await page.goto(f"{base}/main")
    await expect(page.get_by_role("heading", name="VENDOR LOG ON")).to_be_visible()
    await page.get_by_label("USER ID").fill(USER)
    await page.get_by_label("PASSWORD").fill(PASSWORD)
    await page.get_by_role("button", name="LOG ON").click()
    await expect(page.get_by_role("heading", name="SECURITY QUESTION")).to_be_visible()
    await expect(page.get_by_text("What city were you born in?")).to_be_visible()
    await page.get_by_label("ANSWER").fill(ANSWER)
    await page.get_by_role("button", name="CONTINUE").click()
    main = page.frame_locator('frame[name="main"]')
    await expect(main.get_by_role("heading", name="CLAIMS")).to_be_visible()
    return main


async def open_claim(main: FrameLocator, claim: str) -> None:
    await main.get_by_label("CLAIM/INVOICE NO.").fill(claim)
    await main.get_by_role("button", name="SEARCH").click()
    await main.get_by_role("link", name=claim, exact=True).click()
    await expect(main.get_by_role("heading", name=f"CLAIM DETAIL - {claim}")).to_be_visible()


async def test_log_on_frames_and_pagination(context: BrowserContext, rw: RunningWorld) -> None:
    page = await context.new_page()
    main = await log_on(page, rw.urls[PORTAL])
    banner = page.frame_locator('frame[name="banner"]')
    await expect(banner.get_by_text(f"USER: {USER}")).to_be_visible()
    claims = main.get_by_role("table", name="Claims")
    await expect(claims.get_by_role("row")).to_have_count(16)  # header + 15
    await expect(main.get_by_text("PAGE 1 OF 3:")).to_be_visible()
    await main.get_by_role("link", name="3", exact=True).click()
    await expect(main.get_by_text("PAGE 3 OF 3:")).to_be_visible()
    await expect(claims.get_by_role("row")).to_have_count(6)  # header + 5

    nav = page.frame_locator('frame[name="nav"]')
    await nav.get_by_role("link", name="Disputes").click()
    await expect(main.get_by_role("heading", name="DISPUTES")).to_be_visible()
    await expect(main.get_by_text("NO DISPUTE PACKAGES ON FILE.")).to_be_visible()

    # A second log-on from this browser skips the question (device cookie).
    await nav.get_by_role("link", name="Log off").click()
    await expect(page.get_by_text("You have logged off.")).to_be_visible()
    await page.get_by_label("USER ID").fill(USER)
    await page.get_by_label("PASSWORD").fill(PASSWORD)
    await page.get_by_role("button", name="LOG ON").click()
    await expect(main.get_by_role("heading", name="CLAIMS")).to_be_visible()


async def test_documents_open_in_a_pop_up(context: BrowserContext, rw: RunningWorld) -> None:
    page = await context.new_page()
    main = await log_on(page, rw.urls[PORTAL])
    await open_claim(main, "FC00012345")
    d = rw.world.deduction(PORTAL, USER, "FC00012345")
    assert d is not None
    backup, lines = d.documents

    async with page.expect_popup() as info:
        await main.get_by_role("link", name="FC00012345.pdf").click()
    viewer = await info.value
    await expect(viewer.get_by_role("heading", name="DOCUMENT VIEWER")).to_be_visible()
    href = await viewer.get_by_role("link", name="Open PDF").get_attribute("href")
    assert href is not None
    response = await context.request.get(rw.urls[PORTAL] + href)
    body = await response.body()
    assert body.startswith(b"%PDF-")
    assert body == rw.world.document_bytes(d, backup)
    await viewer.close()  # the viewer is a named window: a new one needs the old one closed

    async with page.expect_popup() as info:
        await main.get_by_role("link", name="FC00012345_lines.csv").click()
    viewer = await info.value
    async with viewer.expect_download() as dl_info:
        await viewer.get_by_role("link", name="Download CSV").click()
    download = await dl_info.value
    path = await download.path()
    assert path is not None
    assert await asyncio.to_thread(Path(path).read_bytes) == rw.world.document_bytes(d, lines)
    # Viewing fetched nothing by itself: one download per document the robot took.
    assert [e.ref for e in rw.world.record.downloads] == [backup.doc_id, lines.doc_id]


async def test_file_a_dispute_package(context: BrowserContext, rw: RunningWorld) -> None:
    rw.set_faults("freshco:obfuscate=5")  # new ids, classes and column order: labels hold
    page = await context.new_page()
    main = await log_on(page, rw.urls[PORTAL])
    await open_claim(main, "FC00012345")
    await main.get_by_role("link", name="Dispute this claim").click()
    await expect(main.get_by_role("heading", name="DISPUTE CLAIM - FC00012345")).to_be_visible()

    await main.get_by_role("button", name="SUBMIT DISPUTE").click()
    await expect(main.get_by_role("alert")).to_contain_text("CASE TYPE is required")

    await main.get_by_label("CASE TYPE").select_option(label="OI - OFF-INVOICE")
    await main.get_by_label("DISPUTE AMOUNT").fill("400.00")
    await main.get_by_label("REASON FOR DISPUTE").fill("Promo paid on 200 units only")
    await main.get_by_label("ATTACHMENT 1").set_input_files(
        files=[{"name": "proof.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    await main.get_by_role("button", name="SUBMIT DISPUTE").click()
    await expect(main.get_by_text("Package FCP0000001 received")).to_be_visible()
    disp = rw.world.disputes["FCP0000001"]
    assert disp.fields == {"case_type": "OI"}
    assert [a.filename for a in disp.attachments] == ["proof.pdf"]

    await page.frame_locator('frame[name="nav"]').get_by_role("link", name="Disputes").click()
    packages = main.get_by_role("table", name="Dispute packages")
    await expect(packages.get_by_role("row").nth(1)).to_contain_text("Under review")
    rw.advance_clock(days=13)
    await page.frame_locator('frame[name="nav"]').get_by_role("link", name="Disputes").click()
    await expect(packages.get_by_role("row").nth(1)).to_contain_text("Closed - partial")


async def test_expired_session_shows_the_log_on_page_inside_the_frame(
    context: BrowserContext, rw: RunningWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = _FakeTime()
    monkeypatch.setattr(kit, "time", fake)
    page = await context.new_page()
    main = await log_on(page, rw.urls[PORTAL])
    await main.get_by_role("link", name="2", exact=True).click()
    await expect(main.get_by_text("PAGE 2 OF 3:")).to_be_visible()
    fake.offset += 601  # idle past the portal's session_idle_seconds
    await main.get_by_role("link", name="3", exact=True).click()
    # The frameset stays; only the main frame now holds the log-on page.
    await expect(main.get_by_role("heading", name="VENDOR LOG ON")).to_be_visible()
    await expect(main.get_by_text("Your session has expired. Please log in again.")).to_be_visible()
    await main.get_by_label("USER ID").fill(USER)
    await main.get_by_label("PASSWORD").fill(PASSWORD)
    await main.get_by_role("button", name="LOG ON").click()
    # Same browser: no question; the frameset comes back on the page asked for.
    await expect(main.get_by_text("PAGE 3 OF 3:")).to_be_visible()
    assert page.url.endswith("/main?content=%2Fclaims%3Fpage%3D3")
