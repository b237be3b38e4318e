"""A partial dispute win whose portal names no amount: the status sync leaves
``recovered`` unknown (never a guess), and the customer's later remittance,
imported with ``fleet import remittances``, repays the claim by its number:
that is what came back, in ``fleet disputes`` and ``fleet kpis``."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from bots.jobs import Job
from dispute_filing.packets import dispute_key, queue_dispute
from fixtures.erp_export import to_x12_820
from fixtures.scenario import DisputeOutcome, DisputeScript
from store.repositories import disputes as disputes_repo
from tests.browser.fleet.test_disputes import _pick
from tests.browser.fleet.test_pipeline import _cli

pytestmark = [pytest.mark.browser, pytest.mark.slow]


async def test_a_partial_win_the_portal_names_no_amount_is_read_from_the_remittance(
    make_demo, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    data_dir = tmp_path / "fleet"
    async with make_demo(data_dir=data_dir, synced=True) as demo:
        world = demo.world.world
        world.silent_amounts.add("freshco")  # its package page shows no AMOUNT PAID
        d = _pick(demo, "freshco", window_open=True)
        ref = f"freshco:{d.deduction_id}"
        with demo.runtime.db() as s, s.begin():
            queue_dispute(s, "freshco", d.deduction_id)
        (filed,) = await demo.run_jobs([Job("freshco", d.account, "file_dispute")])
        assert filed.counts["disputes.filed"] == 1, filed
        on_portal = world.dispute_for("freshco", d.deduction_id)
        assert on_portal is not None
        part = (on_portal.amount * Decimal("0.4")).quantize(Decimal("0.01"))
        on_portal.script = DisputeScript(
            outcome=DisputeOutcome.partially_approved, days_to_outcome=2, approved_amount=part
        )
        demo.world.advance_clock(days=3)
        (seen,) = await demo.run_jobs([Job("freshco", d.account, "dispute_status")])
        assert seen.counts["disputes.status_changed"] == 1, seen
        with demo.runtime.db() as s:
            row = disputes_repo.by_key(s, dispute_key("freshco", d.deduction_id))
            assert row is not None
            assert (row.status, row.recovered_amount) == ("partially_approved", None)

        remittance = world.repayments("freshco", "EFT-REPAY-0001")
        assert remittance is not None
        path = tmp_path / "repayments.820"
        path.write_text(to_x12_820([remittance]), encoding="utf-8")
        day = demo.today()
        done = _cli(data_dir, day, "import", "remittances", str(path))
        assert done.returncode == 0, done.stderr
        assert f"dispute of {ref}: {part} USD recovered, read from the remittance" in " ".join(
            done.stderr.split()
        )
        with demo.runtime.db() as s:
            row = disputes_repo.by_key(s, dispute_key("freshco", d.deduction_id))
            assert row is not None
            assert row.recovered_amount == part
        listed = {
            r["claim"]: r for r in json.loads(_cli(data_dir, day, "disputes", "--json").stdout)
        }
        assert (listed[ref]["outcome"], listed[ref]["recovered"]) == ("partially won", str(part))
        kpis = json.loads(_cli(data_dir, day, "kpis", "--json").stdout)
        assert Decimal(kpis["recovered_by_portal"]["freshco"]) == part
        again = _cli(data_dir, day, "import", "remittances", str(path))
        assert again.returncode == 0, again.stderr
        assert "read from the remittance" not in again.stderr, "settled once"
