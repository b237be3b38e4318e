"""The web app in real Chromium, served by ``fleet serve`` over a store the
fleet filled from the fixture world (the demo's small world: sync, documents,
PODs, matching). Screenshots of every page visited are saved under
tests/artifacts/web/ (and the test's tmp dir) for a person to look at.

* the analyst: logs in, searches the worklist, opens a deduction, reads its
  backup, fetches its documents now and watches the request finish, comments
  with a mention, proposes a dispute;
* the approvers: one whose limit is below the claim is refused (the page says
  why) and the decision still waits; the next approver approves it;
* the world's hostile memos (markup, script, right-to-left override, long
  text) show as text and no script runs.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page, expect
from sqlalchemy import select

from bots.jobs import Job
from scheduler.ondemand import claim_job, finish_for_result
from store.models import Deduction, Verdict
from web.rendering import reveal

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]
ARTIFACTS = REPO / "tests" / "artifacts" / "web"
PASSWORD = "web-test-password-1"


def _env(data_dir: Path, day: date) -> dict[str, str]:
    env = {
        **os.environ,
        "FLEET_BUSINESS_DAY": day.isoformat(),
        "FLEET_CONFIG": str(data_dir / "fleet.toml"),
        "FLEET_DATA_DIR": str(data_dir),
        "FLEET_KEYRING_BACKEND": "file",
        "FLEET_KEYRING_KEY_FILE": str(data_dir / "demo-keyring.key"),
    }
    env.pop("FLEET_DATABASE_URL", None)
    return env


def _fleet(env: dict[str, str], *args: str, stdin: str | None = None) -> None:
    fleet = Path(sys.executable).with_name("fleet")
    done = subprocess.run(
        [str(fleet), *args], env=env, input=stdin, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, "fleet serve exited"
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("fleet serve did not start")


async def serve(env: dict[str, str]) -> tuple[str, subprocess.Popen[bytes]]:
    """``fleet serve`` on a free port, up: its base URL and process (terminate it)."""
    port = _free_port()
    fleet = Path(sys.executable).with_name("fleet")
    server = subprocess.Popen(  # noqa: ASYNC220 - the server runs beside the test
        [str(fleet), "serve", "--port", str(port)], env=env, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    await asyncio.to_thread(_wait_up, f"{base}/login", server)
    return base, server


class Shots:
    def __init__(self, tmp: Path, artifacts: Path = ARTIFACTS) -> None:
        self.dirs = [tmp / "screenshots", artifacts]
        for d in self.dirs:
            d.mkdir(parents=True, exist_ok=True)
            for old in d.glob("*.png"):  # this run's pictures only
                old.unlink()
        self.n = 0

    async def __call__(self, page: Page, name: str) -> None:
        self.n += 1
        data = await page.screenshot(full_page=True)
        for d in self.dirs:
            (d / f"{self.n:02d}-{name}.png").write_bytes(data)


async def _login(page: Page, base: str, user: str) -> None:
    await page.goto(f"{base}/login")
    await page.get_by_label("Username").fill(user)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", name="Worklist")).to_be_visible()


async def _logout(page: Page) -> None:
    await page.get_by_role("button", name="Log out").click()
    await expect(page.get_by_role("heading", name="Log in")).to_be_visible()


async def test_analyst_and_approvers_day(
    make_demo, context: BrowserContext, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    data_dir = tmp_path / "fleet"
    shots = Shots(tmp_path)
    async with make_demo(data_dir=data_dir, synced=True) as demo:  # its key file comes along
        # megamart's list comes back empty: the sync logs in, lists nothing, and
        # that is an anomaly the app shows, not a quiet success
        sync = Job("megamart", "acme-ar", "sync")
        await demo.run_jobs([sync])  # an incremental sync: what the account usually lists
        demo.world.world.hidden.add("megamart")
        (quiet,) = await demo.run_jobs([sync])
        assert quiet.counts["anomalies"] == 1, quiet.counts
        demo.world.world.hidden.clear()
        # megamart answers every request with an error: the job fails, and the
        # robot keeps what it saw for ops
        demo.world.set_faults("megamart:error_rate=1")
        (broken,) = await demo.run_jobs([Job("megamart", "acme-ar", "dispute_status")])
        demo.world.set_faults(None)
        assert broken.status == "failed", broken
        day = demo.today()
        env = _env(data_dir, day)
        with demo.runtime.db() as s:
            target = s.execute(
                select(
                    Deduction.id, Deduction.external_id, Deduction.invoice_number, Deduction.amount
                )
                .join(Verdict, Verdict.deduction_id == Deduction.id)
                .where(
                    Verdict.validity == "invalid",
                    Deduction.amount > 1000,
                    Deduction.amount < 10_000,  # one manager step
                    Verdict.window_closes >= day,
                )
                .order_by(Deduction.id)
            ).first()
            hostile = s.execute(
                select(Deduction.id, Deduction.memo).where(
                    Deduction.memo.contains("<script")
                    | Deduction.memo.contains("<img")
                    | Deduction.memo.contains("\u202e")
                    | Deduction.memo.contains("Lorem ipsum")
                )
            ).all()
        assert target is not None
        assert len(hostile) >= 3
        limit = Decimal(target.amount) - 1
        for user, role, access, extra in (
            ("ana", "analyst", "analyst", []),
            ("mia", "manager", "approver", ["--limit", str(limit)]),
            ("dora", "director", "approver", []),
            ("leo", "analyst", "ops", []),
        ):
            _fleet(env, "users", "add", user, "--role", role, "--access", access, *extra,
                   "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
        base, server = await serve(env)
        try:
            page = await context.new_page()
            dialogs: list[str] = []
            page.on(
                "dialog", lambda d: (dialogs.append(d.message), asyncio.ensure_future(d.dismiss()))
            )
            console_errors: list[str] = []
            page.on(
                "console", lambda m: console_errors.append(m.text) if m.type == "error" else None
            )

            # --- the analyst
            await page.goto(f"{base}/worklist")
            await expect(page.get_by_role("heading", name="Log in")).to_be_visible()
            await shots(page, "login")
            await _login(page, base, "ana")
            await expect(page.locator(".banner.anomaly")).to_contain_text(
                "megamart acme-ar: the sync listed 0 claims"
            )
            await shots(page, "worklist")
            await page.get_by_label("Search").fill(target.invoice_number)
            await page.get_by_role("button", name="Show").click()
            row_link = page.get_by_role("link", name=f":{target.external_id}")
            await expect(row_link.first).to_be_visible()
            await shots(page, "worklist-search")
            await row_link.first.click()
            await expect(page.get_by_role("heading", name="Verdict")).to_be_visible()
            await expect(page.locator(".verdict").first).to_have_text("invalid")
            await shots(page, "deduction")

            await page.get_by_role("button", name="Fetch documents now").click()
            await expect(page.locator("#fetch-status .rstatus").first).to_have_text("queued")
            await shots(page, "fetch-queued")
            # What the scheduler's feeder does: claim the request (on-demand ones
            # come first), run it, record how it ended.
            claimed = claim_job(demo.runtime.db)
            assert claimed is not None
            assert claimed[1].target == target.external_id
            for result in await demo.run_pipeline([claimed[1]]):
                if result.job.task == "retrieve":
                    finish_for_result(demo.runtime.db, result)
            await expect(page.locator("#fetch-status .rstatus").first).to_have_text(
                "done", timeout=15_000
            )
            await shots(page, "fetch-done")
            await page.get_by_role("link", name="Reload to see the documents").click()
            await expect(page.get_by_role("heading", name="Documents")).to_be_visible()
            # the backup read in the page: pdf.js (vendored, served by the app) draws it
            pdf = page.locator(".pdf[data-rendered]").first
            await expect(pdf).to_have_attribute("data-rendered", re.compile(r"^\d+$"))
            await expect(pdf.get_by_role("img", name=re.compile(r"^page 1 of"))).to_be_visible()
            await pdf.scroll_into_view_if_needed()
            await shots(page, "pdf-in-page")

            await page.get_by_label("Comment").fill("@mia the POD is signed clean <b>really</b>")
            await page.get_by_role("button", name="Add comment").click()
            await expect(page.get_by_text("(mentions @mia)")).to_be_visible()
            await expect(page.locator(".comment .text").last).to_contain_text("<b>really</b>")
            await page.get_by_label("Propose").select_option("dispute")
            await page.locator("form.propose").get_by_label("note").fill("invalid: dispute it")
            await page.get_by_role("button", name="Propose").click()
            await expect(page.get_by_role("status")).to_contain_text("proposed decision")
            await shots(page, "proposed")

            for did, memo in hostile:
                await page.goto(f"{base}/deductions/{did}")
                shown = await page.locator("#memo").inner_text()
                assert shown.split() == reveal(memo).split()  # the memo's text, as text
                assert await page.evaluate("typeof window.__fleet_pwned") == "undefined"
            await shots(page, "hostile-memo")
            await _logout(page)

            # --- an approver above whose limit the claim is
            await _login(page, base, "mia")
            await page.get_by_role("link", name="My approvals").click()
            await expect(page.get_by_text("1 mention of you")).to_be_visible()
            mention = page.locator(".comment", has_text="the POD is signed clean")
            await expect(mention.get_by_role("link", name=f":{target.external_id}")).to_be_visible()
            row = page.locator("tr", has_text=f":{target.external_id}")
            await expect(row.get_by_text("approval limit")).to_be_visible()
            await shots(page, "approvals-over-limit")
            await row.get_by_role("button", name="Approve").click()
            await expect(page.get_by_role("alert")).to_contain_text("above mia's approval limit")
            assert "409" in await page.get_by_role("heading").first.inner_text()
            await shots(page, "approve-refused")
            await page.goto(f"{base}/approvals")
            await _logout(page)

            # --- the next approver
            await _login(page, base, "dora")
            await page.get_by_role("link", name="My approvals").click()
            row = page.locator("tr", has_text=f":{target.external_id}")
            await row.get_by_role("button", name="Approve").click()
            await expect(page.get_by_role("status")).to_contain_text("approved: now approved")
            await shots(page, "approved")
            await page.get_by_role("link", name="Disputes").click()
            await expect(page.get_by_role("heading", name="Disputes", exact=True)).to_be_visible()
            await expect(page.locator("table.deadlines")).to_be_visible()
            await shots(page, "disputes")
            await page.get_by_role("link", name="KPIs").click()
            await expect(page.get_by_role("heading", name="KPIs", exact=True)).to_be_visible()
            await expect(page.locator("svg.chart").first).to_be_visible()
            await shots(page, "kpis")
            await _logout(page)

            # --- ops
            await _login(page, base, "leo")
            await page.get_by_role("navigation").get_by_role("link", name="Fleet health").click()
            await expect(page.get_by_role("heading", name="Fleet health")).to_be_visible()
            health = page.locator("table.health tbody tr")
            assert await health.count() == len(demo.scenario.accounts) + 1  # and the core steps
            first = health.filter(has_text="megamart")
            await first.get_by_role("button", name="Pause").click()
            await expect(page.get_by_role("status")).to_have_text("paused")
            await expect(first.get_by_role("button", name="Resume")).to_be_visible()
            await shots(page, "ops-paused")
            await first.get_by_role("button", name="Resume").click()
            await expect(first.get_by_role("button", name="Pause")).to_be_visible()
            await first.get_by_label("task to run now for acme-ar on megamart").select_option(
                "dispute_status"
            )
            await first.get_by_role("button", name="Run now").click()
            await expect(page.get_by_role("status")).to_have_text(
                "dispute_status of acme-ar on megamart queued: it runs next"
            )
            claimed = claim_job(demo.runtime.db)  # what the scheduler's feeder picks next
            assert claimed is not None
            assert claimed[1] == Job("megamart", "acme-ar", "dispute_status")
            await expect(page.locator("svg.failures-chart")).to_be_visible()
            failed = page.locator("div.failure").filter(has_text="dispute_status")
            shot = failed.get_by_role("img")
            await expect(shot).to_be_visible()
            assert await shot.evaluate("img => img.naturalWidth") > 100, "the robot's screenshot"
            await shots(page, "ops")

            assert dialogs == []  # no script ran: not an alert anywhere
            # Nothing else went wrong in the browser (no CSP violation either);
            # the one expected error is the refused approval's 409.
            unexpected = [e for e in console_errors if "409 (Conflict)" not in e]
            assert unexpected == []
        finally:
            server.terminate()
            server.wait(timeout=10)
