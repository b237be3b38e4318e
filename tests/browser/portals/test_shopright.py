"""ShopRight Partners Online in real Chromium: the single-page app driven the way a
robot should, by roles, labels and visible text, never by ids or classes."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import zipfile
from pathlib import Path
from typing import Any

import pyotp
import pytest
from playwright.async_api import BrowserContext, Download, Page, expect

from fixtures.server import RunningWorld
from tests.unit.portals.test_shopright import EMAIL, PASSWORD, PDF, busy_scenario

pytestmark = pytest.mark.browser

PORTAL = "shopright"


async def read_download(download: Download) -> bytes:
    return await asyncio.to_thread(Path(await download.path()).read_bytes)


async def sign_in(page: Page, rw: RunningWorld, path: str = "/deductions") -> None:
    await page.goto(rw.urls[PORTAL] + path)
    await expect(
        page.get_by_role("heading", name="Sign in to ShopRight Partners Online")
    ).to_be_visible()
    await page.get_by_label("E-mail address").fill(EMAIL)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await answer_code(page, rw)


async def answer_code(page: Page, rw: RunningWorld) -> None:
    await expect(page.get_by_role("heading", name="Two-step verification")).to_be_visible()
    secret = rw.world.account(PORTAL, EMAIL).totp_secret  # type: ignore[union-attr]
    await page.get_by_label("Authenticator code").fill(pyotp.TOTP(secret).now())
    await page.get_by_role("button", name="Verify").click()


def results(page: Page):  # type: ignore[no-untyped-def]
    return page.get_by_role("table", name="Deductions").locator("tbody tr")


async def scroll_to_the_end(page: Page) -> None:
    """What a robot does on an infinite list: scroll to the status line until it
    says everything is loaded."""
    status = page.get_by_role("status")
    rows = results(page)
    for _ in range(50):
        if await status.inner_text() == "All deductions loaded":
            return
        before = await rows.count()
        await status.scroll_into_view_if_needed()
        done = page.get_by_text("All deductions loaded", exact=True)
        await expect(rows.nth(before).or_(done).first).to_be_visible()
    raise AssertionError("the list never finished loading")


async def test_wrong_password_then_sign_in_with_code(
    context: BrowserContext, world_factory: Any
) -> None:
    rw: RunningWorld = world_factory()
    page = await context.new_page()
    await page.goto(rw.urls[PORTAL] + "/deductions")
    await expect(page).to_have_url(re.compile(r"/login\?next=%2Fdeductions$"))
    await page.get_by_label("E-mail address").fill(EMAIL)
    await page.get_by_label("Password").fill("wrong")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_have_text(
        "The e-mail address or password is incorrect."
    )
    assert await context.cookies() == []
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await answer_code(page, rw)
    await expect(page.get_by_role("heading", name="Deductions")).to_be_visible()
    await expect(page.get_by_role("status")).to_have_text("All deductions loaded")
    await expect(results(page)).to_have_count(2)
    await expect(page.get_by_text(f"{EMAIL} · Vendor SR-4455")).to_be_visible()
    row = results(page).filter(has_text="CB1000001")
    await expect(row).to_contain_text("Chargeback")
    await expect(row).to_contain_text("A032 Damaged/defective merchandise")
    await expect(row).to_contain_text("$1,234.56")
    await expect(row).to_contain_text("08/20/2026")
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_text("You have signed out.")).to_be_visible()


@pytest.mark.parametrize("layout", [None, 3], ids=["plain", "obfuscated"])
async def test_infinite_scroll_and_filters(
    context: BrowserContext, world_factory: Any, hand_scenario: Any, layout: int | None
) -> None:
    rw: RunningWorld = world_factory(
        busy_scenario(hand_scenario), faults=f"{PORTAL}:obfuscate={layout}" if layout else None
    )
    page = await context.new_page()
    await page.set_viewport_size({"width": 1280, "height": 420})
    await sign_in(page, rw)
    await expect(page.get_by_role("status")).to_have_text(
        "Showing 5 of 26 — scroll down to load more"
    )
    await expect(results(page)).to_have_count(5)
    headers = (
        await page.get_by_role("table", name="Deductions")
        .get_by_role("columnheader")
        .all_inner_texts()
    )
    assert sorted(headers) == sorted(
        ["Document #", "Type", "Reason", "Invoice", "PO", "DC", "Amount", "Date", "Status"]
    )
    assert (headers[0] == "Document #") == (layout is None)  # columns move when obfuscated

    await scroll_to_the_end(page)
    await expect(results(page)).to_have_count(26)
    col = headers.index("Document #") + 1
    shown = await results(page).locator(f"td:nth-child({col})").all_inner_texts()
    assert shown == [d.deduction_id for d in rw.world.visible_deductions(PORTAL, EMAIL)]

    await page.get_by_label("Search document or invoice number").fill("SRI-5003")
    await page.get_by_role("button", name="Search").click()
    await expect(results(page)).to_have_count(1)
    await expect(results(page)).to_contain_text("90SF3000003")
    await expect(results(page)).to_contain_text("Freight audit")
    await expect(page.get_by_role("status")).to_have_text("All deductions loaded")
    await page.get_by_label("Search document or invoice number").fill("")
    await page.get_by_label("Status").select_option("Open")
    await expect(page.get_by_text("26 deductions")).to_be_visible()


async def test_drawer_downloads_backup_zip_and_single_documents(
    context: BrowserContext, world_factory: Any, hand_scenario: Any
) -> None:
    rw: RunningWorld = world_factory(busy_scenario(hand_scenario))
    w = rw.world
    d = w.deduction(PORTAL, EMAIL, "CB1000001")
    assert d is not None
    page = await context.new_page()
    await sign_in(page, rw, "/deductions/CB1000001")
    drawer = page.get_by_role("dialog", name="Deduction CB1000001")
    await expect(drawer).to_be_visible()
    await expect(drawer.get_by_text("Chips 12x")).to_be_visible()
    async with page.expect_download() as info:
        await drawer.get_by_role("button", name="Download backup").click()
    dl = await info.value
    assert dl.suggested_filename == "CB1000001_backup.zip"
    with zipfile.ZipFile(io.BytesIO(await read_download(dl))) as zf:
        got = sorted(zf.read(n) for n in zf.namelist())
    assert got == sorted(w.document_bytes(d, s) for s in d.documents)
    async with page.expect_download() as info:
        await drawer.get_by_role("link", name="Receiving report.pdf").click()
    data = await read_download(await info.value)
    assert data.startswith(b"%PDF-")
    assert data == w.document_bytes(d, d.documents[1])

    await drawer.get_by_role("button", name="Close").click()
    await expect(drawer).to_be_hidden()
    await page.get_by_label("Search document or invoice number").fill("CB4000001")
    await page.get_by_role("button", name="Search").click()
    await results(page).get_by_role("link", name="CB4000001").click()
    late = page.get_by_role("dialog", name="Deduction CB4000001")
    await expect(late.get_by_role("button", name="Backup not yet available")).to_be_disabled()
    await expect(late.get_by_text("$70.00")).to_be_visible()


async def test_export_csv_from_the_list(context: BrowserContext, world_factory: Any) -> None:
    rw: RunningWorld = world_factory()
    page = await context.new_page()
    await sign_in(page, rw)
    await expect(page.get_by_role("status")).to_have_text("All deductions loaded")
    async with page.expect_download() as info:
        await page.get_by_role("button", name="Export CSV").click()
    dl = await info.value
    assert dl.suggested_filename == "shopright_deductions_2026-11-01.csv"
    rows = list(csv.DictReader(io.StringIO((await read_download(dl)).decode(), newline="")))
    assert [r["Document #"] for r in rows] == ["VC2000002", "CB1000001"]
    assert rows[0]["Memo"] == 'Ünïcödé & <b>bold</b> "quotes"'


async def test_case_wizard_submits_once_and_refuses_a_second_case(
    context: BrowserContext, world_factory: Any
) -> None:
    rw: RunningWorld = world_factory()
    page = await context.new_page()
    await sign_in(page, rw)
    await results(page).get_by_role("link", name="CB1000001").click()
    drawer = page.get_by_role("dialog", name="Deduction CB1000001")
    await drawer.get_by_role("button", name="Create case").click()

    wizard = page.get_by_role("dialog", name="Create case")
    await expect(wizard.get_by_text("Step 1 of 4: Reason and document")).to_be_visible()
    await expect(wizard.get_by_label("Document number")).to_have_value("CB1000001")
    await wizard.get_by_role("button", name="Next").click()
    await expect(wizard.get_by_role("alert")).to_have_text("Choose a dispute reason.")
    await wizard.get_by_label("Dispute reason").select_option(
        label="Damage is the carrier's liability"
    )
    await wizard.get_by_role("button", name="Next").click()

    await expect(wizard.get_by_text("Step 2 of 4: Amount and explanation")).to_be_visible()
    await expect(wizard.get_by_role("button", name="Back")).to_have_count(0)  # no way back
    await wizard.get_by_label("Disputed amount").fill("617.28")
    await wizard.get_by_label("Explanation").fill("2 of 12 cases damaged in transit: carrier.")
    await expect(wizard.get_by_text("42 / 2,000 characters")).to_be_visible()
    await wizard.get_by_role("button", name="Next").click()

    await expect(wizard.get_by_text("Step 3 of 4: Supporting document")).to_be_visible()
    await wizard.get_by_label("Supporting document (PDF)").set_input_files(
        files=[{"name": "POD 98765432101.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    await wizard.get_by_role("button", name="Next").click()

    await expect(wizard.get_by_text("Step 4 of 4: Review and submit")).to_be_visible()
    await expect(wizard.get_by_text("POD 98765432101.pdf")).to_be_visible()
    await wizard.get_by_role("button", name="Submit case").click()
    await expect(wizard.get_by_role("status")).to_have_text("Case SRC0000001 created")
    disp = rw.world.disputes["SRC0000001"]
    assert str(disp.amount) == "617.28"
    assert [a.size for a in disp.attachments] == [len(PDF)]
    await wizard.get_by_role("button", name="Close").click()
    await expect(drawer.get_by_text("Case SRC0000001 · In review")).to_be_visible()

    await drawer.get_by_role("button", name="Create case").click()
    await wizard.get_by_label("Dispute reason").select_option(label="Other")
    await wizard.get_by_role("button", name="Next").click()
    await wizard.get_by_label("Explanation").fill("Again.")
    await wizard.get_by_role("button", name="Next").click()
    await wizard.get_by_role("button", name="Next").click()
    await wizard.get_by_role("button", name="Submit case").click()
    await expect(wizard.get_by_role("alert")).to_have_text(
        "A dispute already exists for this claim."
    )
    await wizard.get_by_role("button", name="Close").click()
    assert list(rw.world.disputes) == ["SRC0000001"]

    await page.get_by_role("link", name="Cases").click()
    cases = page.get_by_role("table", name="Cases")
    await expect(cases.locator("tbody tr")).to_have_count(1)
    await expect(cases).to_contain_text("SRC0000001")
    await expect(cases).to_contain_text("In review")
    rw.advance_clock(days=30)
    await page.reload()
    await expect(cases).to_contain_text("Partially approved")


async def test_expired_session_shows_the_login_and_returns(
    context: BrowserContext, world_factory: Any
) -> None:
    rw: RunningWorld = world_factory()
    page = await context.new_page()
    await sign_in(page, rw)
    await expect(page.get_by_role("status")).to_have_text("All deductions loaded")
    rw.set_faults(f"{PORTAL}:expire_every=1")
    await page.get_by_role("link", name="Cases").click()
    await expect(page.get_by_role("alert")).to_have_text(
        "Your session has expired. Please sign in again."
    )
    rw.set_faults(None)
    await page.get_by_label("E-mail address").fill(EMAIL)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await answer_code(page, rw)
    await expect(page.get_by_role("heading", name="Cases")).to_be_visible()
    await expect(page.get_by_text("You have no cases yet.")).to_be_visible()


async def test_server_errors_offer_a_retry(context: BrowserContext, world_factory: Any) -> None:
    rw: RunningWorld = world_factory()
    page = await context.new_page()
    await sign_in(page, rw)
    await expect(page.get_by_role("status")).to_have_text("All deductions loaded")
    rw.set_faults(f"{PORTAL}:error_rate=1")
    await page.get_by_role("button", name="Search").click()
    await expect(page.get_by_role("status")).to_contain_text("Could not load deductions.")
    rw.set_faults(None)
    await page.get_by_role("button", name="Try again").click()
    await expect(page.get_by_role("status")).to_have_text("All deductions loaded")
    await expect(results(page)).to_have_count(2)
