"""A denied dispute appealed once, through the product: ``fleet disputes
appeal`` (a person's decision, refused before the denial and a second time),
the robot's ``file_dispute`` filing the appeal's own packet on MegaMart's
appeal form exactly once (also when the answer of the filing is lost), and
``dispute_status`` following the appeal to a partial win whose amount reaches
``fleet disputes`` and ``fleet kpis``."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from bots.jobs import Job
from dispute_filing.appeals import appeal_key
from dispute_filing.packets import queue_dispute
from fixtures.scenario import DisputeOutcome, DisputeScript
from store.models import Dispute
from store.repositories import disputes as disputes_repo
from tests.browser.fleet.test_disputes import _pick
from tests.browser.fleet.test_pipeline import _cli

pytestmark = [pytest.mark.browser, pytest.mark.slow]


async def test_a_denied_dispute_is_appealed_once_with_a_new_packet(
    make_demo, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    data_dir = tmp_path / "fleet"
    async with make_demo(data_dir=data_dir, synced=True) as demo:
        world = demo.world.world
        d = _pick(demo, "megamart", window_open=True)
        ref, file_job = f"megamart:{d.deduction_id}", Job("megamart", d.account, "file_dispute")
        day = demo.today()
        assert _cli(data_dir, day, "users", "add", "dora", "--role", "director").returncode == 0
        with demo.runtime.db() as s, s.begin():
            queue_dispute(s, "megamart", d.deduction_id)
        (first,) = await demo.run_jobs([file_job])
        assert first.counts["disputes.filed"] == 1, first
        on_portal = world.dispute_for("megamart", d.deduction_id)
        assert on_portal is not None
        # The retailer denies it in three days, and grants 60% of it on appeal.
        part = (on_portal.amount * Decimal("0.6")).quantize(Decimal("0.01"))
        on_portal.script = DisputeScript(
            outcome=DisputeOutcome.denied,
            days_to_outcome=3,
            appeal=DisputeScript(
                outcome=DisputeOutcome.partially_approved, days_to_outcome=10, approved_amount=part
            ),
        )

        early = _cli(data_dir, day, "disputes", "appeal", ref, "--as", "dora")
        assert early.returncode == 2, early.stdout
        assert "only a denied (lost) dispute can be appealed" in early.stderr

        demo.world.advance_clock(days=4)
        day = demo.today()
        (seen,) = await demo.run_jobs([Job("megamart", d.account, "dispute_status")])
        assert seen.counts["disputes.status_changed"] == 1, seen
        appealed = _cli(data_dir, day, "disputes", "appeal", ref, "--as", "dora")
        assert appealed.returncode == 0, appealed.stderr
        assert f"appeal of dispute {on_portal.number} queued" in appealed.stdout
        twice = _cli(data_dir, day, "disputes", "appeal", ref, "--as", "dora")
        assert twice.returncode == 2
        assert "only once" in twice.stderr, twice.stderr

        shown = _cli(data_dir, day, "disputes", "preview", ref, "--appeal", "--json")
        assert shown.returncode == 0, shown.stderr
        preview = json.loads(shown.stdout)
        assert preview["template"] == "appeal.j2"
        assert preview["text"].startswith(f"We appeal the denial of dispute {on_portal.number}")

        (filed,) = await demo.run_jobs([file_job])
        assert filed.counts["disputes.filed"] == 1, filed
        appeal = on_portal.appeal
        assert appeal is not None, "the appeal reached the portal"
        # a form posts a textarea's line breaks as CRLF (the HTML standard)
        assert appeal.comment.replace("\r\n", "\n") == preview["text"]
        assert [(a.filename, a.size, a.sha256) for a in appeal.attachments] == [
            (a["name"], a["size"], a["sha256"]) for a in preview["attachments"]
        ], "the portal received exactly the previewed packet"
        assert appeal.attachments[0].filename == f"appeal_letter_{d.deduction_id}.pdf"
        letter = PdfReader(io.BytesIO(demo.runtime.vault.read_bytes(appeal.attachments[0].sha256)))
        text = "".join(page.extract_text() for page in letter.pages)
        assert f"Appeal of dispute {on_portal.number}" in text
        assert d.deduction_id in text

        # The answer of the appeal's filing lost in a crash: looked for, not filed again.
        with demo.runtime.db() as s, s.begin():
            row = s.scalar(
                select(Dispute).where(
                    Dispute.idempotency_key == appeal_key("megamart", d.deduction_id)
                )
            )
            assert row is not None
            assert row.dispute_number == appeal.number
            row.status, row.dispute_number = "filing", None
        (again,) = await demo.run_jobs([file_job])
        assert again.counts["disputes.already_filed"] == 1, again
        assert on_portal.appeal is appeal

        demo.world.advance_clock(days=11)
        day = demo.today()
        (outcome,) = await demo.run_jobs([Job("megamart", d.account, "dispute_status")])
        assert outcome.counts["disputes.outcomes"] == 1, outcome
        with demo.runtime.db() as s:
            first_row = disputes_repo.by_key(s, f"megamart:{d.deduction_id}:dispute")
            second = disputes_repo.by_key(s, appeal_key("megamart", d.deduction_id))
            assert first_row is not None
            assert second is not None
            assert (first_row.status, first_row.recovered_amount) == ("denied", Decimal("0.00"))
            assert (second.status, second.recovered_amount) == ("partially_approved", part)
            assert second.dispute_number == appeal.number
        listed = json.loads(_cli(data_dir, day, "disputes", "--json").stdout)
        mine = [r for r in listed if r["claim"] == ref]
        assert [(r["level"], r["status"], r["recovered"]) for r in mine] == [
            ("dispute", "denied", "0.00"),
            ("appeal", "partially_approved", str(part)),
        ]
        kpis = json.loads(_cli(data_dir, day, "kpis", "--json").stdout)
        assert Decimal(kpis["amount_recovered"]) >= part
