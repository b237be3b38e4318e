"""ParcelNet Shipping in real Chromium: log in, search a shipment, download its
scanned POD, and complete the "Security check" the way a person would."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Download, Page, expect

from fixtures.portals.parcelnet import captcha_code
from fixtures.server import RunningWorld

pytestmark = pytest.mark.browser

PORTAL = "parcelnet"
USER = "acme-parcel"
PASSWORD = "Pn-pass-8T4^ww"
PRO = "98765432101"


async def saved_bytes(download: Download) -> bytes:
    """The downloaded file as Chromium saved it."""
    return await asyncio.to_thread(Path(await download.path()).read_bytes)


async def log_in(page: Page, base: str) -> None:
    await page.goto(f"{base}/search")
    await expect(page.get_by_role("heading", name="Log in to My ParcelNet")).to_be_visible()
    await page.get_by_label("User ID").fill(USER)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", name="Document search")).to_be_visible()


async def search(page: Page, by: str, number: str) -> None:
    await page.get_by_label("Search by").select_option(label=by)
    await page.get_by_label("Tracking or BOL number").fill(number)
    await page.get_by_role("button", name="Search").click()


async def test_search_and_download_the_scanned_pod(
    context: BrowserContext, world_factory: Any
) -> None:
    rw: RunningWorld = world_factory()
    page = await context.new_page()
    await log_in(page, rw.urls[PORTAL])
    await search(page, "BOL number", "PB-77001")
    await expect(page.get_by_role("heading", name="Search results")).to_be_visible()
    await expect(page.get_by_role("table", name="Shipment")).to_contain_text(PRO)
    async with page.expect_download() as info:
        await page.get_by_role("link", name="Proof of Delivery").click()
    download = await info.value
    shipment = rw.world.shipment_by_pro(PORTAL, PRO)
    assert shipment is not None
    data = await saved_bytes(download)
    assert data.startswith(b"%PDF-")
    assert data == rw.world.pod_bytes(shipment)


async def test_no_results(context: BrowserContext, world_factory: Any) -> None:
    rw: RunningWorld = world_factory()
    page = await context.new_page()
    await log_in(page, rw.urls[PORTAL])
    await search(page, "Tracking number", "1PN404")
    await expect(page.get_by_role("heading", name="No results")).to_be_visible()


async def test_a_person_completes_the_security_check(
    context: BrowserContext, world_factory: Any
) -> None:
    rw: RunningWorld = world_factory(faults="parcelnet:captcha_rate=1")
    page = await context.new_page()
    await log_in(page, rw.urls[PORTAL])
    await search(page, "Tracking number", "1PN0000000001")
    await expect(page.get_by_role("heading", name="Security check")).to_be_visible()
    await expect(page.get_by_text("Please verify you are a human")).to_be_visible()
    await expect(page.get_by_role("img", name="Security code image")).to_be_visible()
    assert rw.world.record.captchas == [(PORTAL, "1PN0000000001")]
    # A careless answer is refused and the check stays.
    await page.get_by_label("I'm not a robot").check()
    await page.get_by_label("Enter the characters shown").fill("ZZZZZZ")
    await page.get_by_role("button", name="Verify").click()
    await expect(page.get_by_role("alert")).to_contain_text("did not match")
    # The person reads the image and types it.
    await page.get_by_label("I'm not a robot").check()
    code = captcha_code(rw.world, "1PN0000000001")
    await page.get_by_label("Enter the characters shown").fill(code.lower())
    await page.get_by_role("button", name="Verify").click()
    await expect(page.get_by_role("heading", name="Search results")).to_be_visible()
    await expect(page.get_by_role("link", name="Proof of Delivery")).to_be_visible()
