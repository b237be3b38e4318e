"""MegaMart Supplier Payables in real Chromium, driven the way a robot should:
by roles, labels and visible text, never by ids or classes."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pyotp
import pytest
from playwright.async_api import BrowserContext, Download, Page, expect

from fixtures.server import RunningWorld

pytestmark = pytest.mark.browser

PORTAL = "megamart"
USER = "acme-ar"
PASSWORD = "Mm-pass-7Q2!xz"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DP"


async def read_download(download: Download) -> bytes:
    return await asyncio.to_thread(Path(await download.path()).read_bytes)


async def sign_in(page: Page, rw: RunningWorld, path: str = "/deductions") -> None:
    await page.goto(rw.urls[PORTAL] + path)
    await expect(
        page.get_by_role("heading", name="Sign in to MegaMart Supplier Payables")
    ).to_be_visible()
    await page.get_by_label("User ID").fill(USER)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Two-step verification")).to_be_visible()
    await page.get_by_label("Authenticator code").fill(pyotp.TOTP(SECRET).now())
    await page.get_by_role("button", name="Verify").click()


@pytest.mark.parametrize("layout", [None, 3], ids=["plain", "obfuscated"])
async def test_sign_in_search_and_page_through(
    context: BrowserContext, world_factory: Any, layout: int | None
) -> None:
    rw: RunningWorld = world_factory(faults=f"{PORTAL}:obfuscate={layout}" if layout else None)
    page = await context.new_page()
    await sign_in(page, rw)
    await expect(page.get_by_role("heading", name="Deductions", exact=True)).to_be_visible()
    await expect(page.get_by_text("Vendor number: 123456")).to_be_visible()
    results = page.get_by_role("table", name="Deductions")
    await expect(results.get_by_role("row")).to_have_count(21)  # header + 20
    await expect(page.get_by_text("Page 1 of 2")).to_be_visible()
    await page.get_by_role("link", name="Next").click()
    await expect(page.get_by_text("Page 2 of 2")).to_be_visible()
    await expect(results.get_by_role("row")).to_have_count(5)
    await expect(results.get_by_role("link", name="4023344500")).to_be_visible()

    await page.get_by_label("Reason code").select_option(label="99 - OTIF non-compliance fine")
    await page.get_by_label("Claim or invoice number").fill("INV-70013")
    await page.get_by_role("button", name="Search").click()
    await expect(page.get_by_text("Page 1 of 1")).to_be_visible()
    await expect(results.get_by_role("row")).to_have_count(2)
    await results.get_by_role("link", name="4023344513").click()
    await expect(page.get_by_role("heading", name="Claim 4023344513")).to_be_visible()
    await expect(page.get_by_text("$587.50")).to_be_visible()

    await page.get_by_role("link", name="Log out").click()
    await expect(page.get_by_text("You have signed out.")).to_be_visible()


async def test_download_backup_and_documents_from_the_claim_page(
    context: BrowserContext, world_factory: Any
) -> None:
    rw: RunningWorld = world_factory()
    d = rw.world.deduction(PORTAL, USER, "4023344500")
    assert d is not None
    page = await context.new_page()
    await sign_in(page, rw, "/deductions/4023344500")
    await expect(page.get_by_role("heading", name="Claim 4023344500")).to_be_visible()

    async with page.expect_download() as info:
        await page.get_by_role("button", name="Download backup").click()
    download = await info.value
    assert download.suggested_filename == "Claim_4023344500.pdf"
    data = await read_download(download)
    assert data.startswith(b"%PDF-")
    assert data == rw.world.document_bytes(d, d.documents[0])

    deal_row = (
        page.get_by_role("table", name="Documents").get_by_role("row").filter(has_text="Deal sheet")
    )
    async with page.expect_download() as info:
        await deal_row.get_by_role("link", name="Download").click()
    deal = await info.value
    assert "passwd" in deal.suggested_filename
    assert "/" not in deal.suggested_filename
    assert await read_download(deal) == rw.world.document_bytes(d, d.documents[1])


async def test_file_a_dispute_with_attachments(context: BrowserContext, world_factory: Any) -> None:
    rw: RunningWorld = world_factory()
    page = await context.new_page()
    await sign_in(page, rw, "/deductions/4023344501")
    await page.get_by_role("button", name="Create dispute").click()
    await expect(page.get_by_role("heading", name="Dispute MD0000001")).to_be_visible()
    await expect(page.get_by_text("Draft", exact=True)).to_be_visible()

    await page.get_by_label("Dispute reason").select_option(label="Proof of delivery attached")
    await page.get_by_label("Comments").fill("Signed POD shows 40 of 40 cases delivered.")
    await page.get_by_label("Attachments").set_input_files(
        [
            {"name": "POD_1234567.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 pod"},
            {"name": "BOL_900001.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 bol"},
        ]
    )
    await page.get_by_role("button", name="Submit dispute").click()
    await expect(page.get_by_role("heading", name="Dispute MD0000001 submitted")).to_be_visible()
    await expect(page.get_by_role("status")).to_contain_text("MegaMart research")

    disp = rw.world.disputes["MD0000001"]
    assert disp.submitted_at is not None
    assert [a.filename for a in disp.attachments] == ["POD_1234567.pdf", "BOL_900001.pdf"]
    assert disp.reason == "Proof of delivery attached"

    # Refused a second time, with the portal's words.
    await page.goto(rw.urls[PORTAL] + "/deductions/4023344501")
    await expect(page.get_by_text(re.compile(r"Dispute\s+MD0000001"))).to_be_visible()
    await expect(page.get_by_role("button", name="Create dispute")).to_have_count(0)

    rw.advance_clock(days=8)
    await page.get_by_role("link", name="My disputes").click()
    row = (
        page.get_by_role("table", name="My disputes")
        .get_by_role("row")
        .filter(has_text="MD0000001")
    )
    await expect(row).to_contain_text("Supplier action")
