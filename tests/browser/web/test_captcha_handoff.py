"""The human hand-off in real Chromium: ParcelNet shows a security check on
every lookup (captcha_rate=1); the robot on a POD retrieval hands it to the
ops page and waits; a person (the test, reading the code the world drew from
its control API, as a person reads the picture) types it in the app; the
robot types it on the portal, the POD arrives in the vault and the check
closes itself. Unanswered, the wait ends, the job ends needs-human as before,
and the item is listed once. Screenshots: tests/artifacts/web-handoff/."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import urllib.request
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, expect
from sqlalchemy import select

from bots.health import health_report
from bots.jobs import Job, JobResult
from credentials.keyring_vault import SecretKind
from scheduler.ondemand import claim_job, finish_for_result, submit
from store.models import Document, DocumentLink, HealthEvent, HumanChallenge, Shipment
from tests.browser.web.test_web_app import (
    PASSWORD,
    REPO,
    Shots,
    _env,
    _fleet,
    _login,
    serve,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


async def _fetch_now(demo, pro: str) -> JobResult:  # type: ignore[no-untyped-def]
    """What ``fleet retrieve PRO`` and the scheduler do: queue the analyst's
    request, claim it, run it, record how it ended."""
    (submitted,) = submit(demo.runtime.db, pro, requester="ana")
    assert submitted.target.kind == "pod"
    claimed = claim_job(demo.runtime.db)
    assert claimed is not None
    (result,) = await demo.run_jobs([claimed[1]])
    finish_for_result(demo.runtime.db, result)
    return result


async def test_ops_answers_a_captcha_and_the_pod_arrives(
    make_demo, context: BrowserContext, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    data_dir = tmp_path / "fleet"
    shots = Shots(tmp_path, REPO / "tests" / "artifacts" / "web-handoff")
    async with make_demo(
        data_dir=data_dir, with_key_file=True, faults="parcelnet:captcha_rate=1"
    ) as demo:
        world = demo.world.world
        in_erp = {e.pro_number for e in demo.scenario.erp.shipments}
        ready = [
            s
            for s in demo.scenario.shipments
            if s.carrier == "parcelnet" and world.pod_ready(s) and s.pro_number in in_erp
        ]
        answered, ignored = ready[0], ready[1]
        env = _env(data_dir, demo.today())
        _fleet(env, "users", "add", "leo", "--role", "analyst", "--access", "ops",
               "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
        base, server = await serve(env)
        try:
            demo.runtime.services = dataclasses.replace(
                demo.runtime.services, human_wait_seconds=120, human_poll_seconds=0.3
            )
            job = asyncio.create_task(_fetch_now(demo, answered.pro_number))
            page = await context.new_page()
            await _login(page, base, "leo")
            await page.goto(f"{base}/ops")
            waiting = page.get_by_role("link", name="1 check waits for your answer")
            await expect(waiting).to_be_visible(timeout=60_000)  # the robot logs in first
            await shots(page, "ops-check-waiting")
            await waiting.click()
            section = page.get_by_role("region", name=f"parcelnet: {answered.pro_number}")
            await expect(section).to_be_visible()
            picture = section.get_by_role("img")
            await expect(picture).to_be_visible()
            width = await picture.evaluate("img => img.naturalWidth")
            assert width > 50, "the portal's picture is shown, not a broken image"
            await shots(page, "challenge")
            with urllib.request.urlopen(  # noqa: ASYNC210 - a local control call
                f"{demo.world.control_url}/_world/captcha?ref={answered.pro_number}", timeout=5
            ) as r:
                code = json.load(r)["code"]
            await section.get_by_label("Enter the characters shown").fill(code)
            await section.get_by_role("button", name="Send answer").click()
            await expect(page.locator(".flash")).to_contain_text("answer sent")
            result = await asyncio.wait_for(job, timeout=120)
            assert result.status == "succeeded", result
            assert result.counts["challenges.passed"] == 1, result.counts
            assert not result.needs_human
            await page.reload()
            await expect(page.locator("td.outcome").first).to_have_text("passed")
            await expect(page.get_by_text("No robot waits for an answer.")).to_be_visible()
            await shots(page, "challenge-passed")

            with demo.runtime.db() as s:
                shas = s.scalars(
                    select(Document.sha256)
                    .join(DocumentLink, DocumentLink.document_id == Document.id)
                    .join(Shipment, Shipment.id == DocumentLink.shipment_id)
                    .where(Shipment.pro_number == answered.pro_number, DocumentLink.role == "pod")
                ).all()
                assert shas == [hashlib.sha256(world.pod_bytes(answered)).hexdigest()]
                assert demo.runtime.vault.read_bytes(shas[0]) == world.pod_bytes(answered)
                told = s.scalars(
                    select(HealthEvent.detail).where(HealthEvent.kind == "check_waiting")
                ).all()
                assert [d["ref"] for d in told] == [answered.pro_number]  # notified once
                row = s.scalar(
                    select(HumanChallenge).where(HumanChallenge.ref == answered.pro_number)
                )
                assert row is not None
                assert (row.status, row.answered_by, row.answer) == ("passed", "leo", None)

            # Nobody answers: the wait ends, the job ends needs-human, listed once.
            demo.runtime.services = dataclasses.replace(demo.runtime.services, human_wait_seconds=2)
            first = await _fetch_now(demo, ignored.pro_number)
            second = await _fetch_now(demo, ignored.pro_number)  # asked for again
            for r in (first, second):
                assert [h.ref for h in r.needs_human] == [ignored.pro_number], r
            assert first.counts["challenges.unanswered"] == 1
            with demo.runtime.db() as s:
                statuses = s.scalars(
                    select(HumanChallenge.status).where(HumanChallenge.ref == ignored.pro_number)
                ).all()
                assert statuses == ["expired", "expired"], "each run asked again"
                items = [
                    h for h in health_report(s)["needs_human"] if h["ref"] == ignored.pro_number
                ]
                assert len(items) == 1, items
        finally:
            server.terminate()
            server.wait(timeout=10)


async def test_ops_answers_a_log_on_question_into_the_keyring(
    make_demo, context: BrowserContext, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """FreshCo asks its security question on a new browser and the keyring
    holds no answer: the log-on waits for ops, the answer typed in the app's
    password field goes into the credential vault (never the store), and the
    job logs on and goes on; the next log-ons find the answer there."""
    data_dir = tmp_path / "fleet"
    shots = Shots(tmp_path, REPO / "tests" / "artifacts" / "web-handoff-question")
    async with make_demo(data_dir=data_dir, with_key_file=True) as demo:
        (acct,) = demo.scenario.accounts_on("freshco")
        assert acct.security_answer is not None
        vault = demo.runtime.credentials
        vault.delete("freshco", acct.username, SecretKind.SECURITY_ANSWER)
        env = _env(data_dir, demo.today())
        _fleet(env, "users", "add", "leo", "--role", "analyst", "--access", "ops",
               "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
        base, server = await serve(env)
        try:
            demo.runtime.services = dataclasses.replace(
                demo.runtime.services, human_wait_seconds=120, human_poll_seconds=0.3
            )
            job = asyncio.create_task(
                demo.run_jobs([Job("freshco", acct.username, "dispute_status")])
            )
            page = await context.new_page()
            await _login(page, base, "leo")
            await page.goto(f"{base}/ops/challenges")
            section = page.get_by_role("region", name=f"freshco: {acct.username}")
            for _ in range(120):  # the robot logs on first
                if await section.count():
                    break
                await asyncio.sleep(0.5)
                await page.reload()
            field = section.get_by_label(f"FreshCo asks: {acct.security_question}")
            await expect(field).to_have_attribute("type", "password")
            await shots(page, "question")
            await field.fill(acct.security_answer)
            await section.get_by_role("button", name="Send answer").click()
            (result,) = await asyncio.wait_for(job, timeout=120)
            assert result.status == "succeeded", result
            assert result.counts["challenges.passed"] == 1, result.counts
            await page.reload()
            await expect(page.locator("td.outcome").first).to_have_text("passed")
            await shots(page, "question-passed")
        finally:
            server.terminate()
            server.wait(timeout=10)
        stored = vault.get("freshco", acct.username, SecretKind.SECURITY_ANSWER)
        assert stored is not None
        assert stored.reveal() == acct.security_answer
        with demo.runtime.db() as s:
            row = s.scalar(select(HumanChallenge).where(HumanChallenge.kind == "security_question"))
            assert row is not None
            assert (row.status, row.answer, row.answered_by) == ("passed", None, "leo")
        for f in data_dir.glob("fleet.db*"):  # the store, its journal and WAL
            assert acct.security_answer.encode() not in f.read_bytes(), f.name
