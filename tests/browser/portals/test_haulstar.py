"""HaulStar Freight in real Chromium: what a person (or a robot imitating one)
sees when logging in with an authenticator code, looking a shipment up and
downloading its delivery receipt."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pyotp
import pytest
from playwright.async_api import BrowserContext, Download, Page, expect

from fixtures.scenario import Scenario
from fixtures.server import RunningWorld

pytestmark = pytest.mark.browser

PORTAL = "haulstar"
USER = "acme-ship"
PASSWORD = "Hs-pass-5R1%qq"
SECRET = "MFRGGZDFMZTWQ2LKMFRGGZDF"


async def saved_bytes(download: Download) -> bytes:
    """The downloaded file as Chromium saved it."""
    return await asyncio.to_thread(Path(await download.path()).read_bytes)


async def log_in(page: Page, base: str) -> None:
    await page.goto(f"{base}/documents")
    await expect(page.get_by_role("heading", name="Customer Login")).to_be_visible()
    await page.get_by_label("Username").fill(USER)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log In").click()
    await expect(page.get_by_role("heading", name="Two-Step Verification")).to_be_visible()
    await page.get_by_label("Verification code").fill(pyotp.TOTP(SECRET).now())
    await page.get_by_role("button", name="Verify").click()
    await expect(page.get_by_role("heading", name="Shipment Documents")).to_be_visible()


async def look_up(page: Page, by: str, number: str) -> None:
    await page.get_by_label("Search by").select_option(label=by)
    await page.get_by_label("PRO or BOL number").fill(number)
    await page.get_by_role("button", name="Search").click()


async def test_login_lookup_and_download_the_pod(
    context: BrowserContext, world_factory: Any
) -> None:
    rw: RunningWorld = world_factory()
    page = await context.new_page()
    await log_in(page, rw.urls[PORTAL])
    await look_up(page, "PRO Number", "123-4567")
    summary = page.get_by_role("table", name="Shipment summary")
    await expect(summary).to_contain_text("BOL-900001")
    await expect(summary).to_contain_text("Delivered")
    async with page.expect_download() as info:
        await page.get_by_role("link", name="Delivery Receipt (POD)").click()
    download = await info.value
    shipment = rw.world.shipment_by_pro(PORTAL, "1234567")
    assert shipment is not None
    assert await saved_bytes(download) == rw.world.pod_bytes(shipment)
    assert download.suggested_filename == "POD_1234567.pdf"
    async with page.expect_download() as info:
        await page.get_by_role("link", name="Bill of Lading").click()
    assert await saved_bytes(await info.value) == rw.world.bol_bytes(shipment)


async def test_pod_not_yet_imaged_then_available(
    context: BrowserContext, world_factory: Any
) -> None:
    rw: RunningWorld = world_factory()
    page = await context.new_page()
    await log_in(page, rw.urls[PORTAL])
    await look_up(page, "BOL Number", "BOL-900002")
    await expect(page.get_by_text("Delivery receipt not yet available.")).to_be_visible()
    await expect(page.get_by_role("link", name="Delivery Receipt (POD)")).to_have_count(0)
    rw.advance_clock(days=4)
    await page.reload()
    await expect(page.get_by_role("link", name="Delivery Receipt (POD)")).to_be_visible()


async def test_rate_limit_page(
    context: BrowserContext, world_factory: Any, hand_scenario: Scenario
) -> None:
    cfg = hand_scenario.portals[PORTAL].model_copy(update={"rate_limit_per_minute": 1})
    rw: RunningWorld = world_factory(
        hand_scenario.model_copy(update={"portals": {**hand_scenario.portals, PORTAL: cfg}})
    )
    page = await context.new_page()
    await log_in(page, rw.urls[PORTAL])
    await look_up(page, "PRO Number", "1234567")
    await expect(page.get_by_role("table", name="Shipment summary")).to_be_visible()
    response = await page.reload()
    assert response is not None
    assert response.status == 429
    await expect(page.get_by_role("heading", name="Too many requests")).to_be_visible()
