"""``fleet export credits`` as the ERP team opens it in a spreadsheet: empty
cells stay empty, text that a spreadsheet would run as a formula is defused,
amounts stay numbers, and a batch total past NUMERIC(14, 2) is kept exactly."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from matching.reports import export_credits
from records.spreadsheet import spreadsheet_safe
from store.models import Decision, ExportBatch
from store.repositories import deductions
from tests.integration.matching.conftest import Fleet
from tests.integration.store import factories
from tests.integration.store.conftest import Db

DECIDED = datetime(2026, 3, 2, 12, tzinfo=UTC)


def _approved(db: Db, claims: dict[str, dict[str, object]]) -> None:
    """Approved accept decisions, as the approval chain leaves them."""
    with db.sessions() as s, s.begin():
        for ext, fields in claims.items():
            amount = Decimal(str(fields.pop("amount")))
            ded = deductions.upsert(s, factories.deduction(ext, amount=amount, **fields))
            s.add(
                Decision(
                    deduction_id=ded.id,
                    kind="accept",
                    accept_amount=amount,
                    dispute_amount=Decimal("0.00"),
                    credit_kind="credit_memo",
                    status="approved",
                    proposed_by="ana",
                    created_at=DECIDED,
                    decided_at=DECIDED,
                )
            )


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("", ""),
        ("INV-1", "INV-1"),
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("-5.00", "-5.00"),
        ("12.50", "12.50"),
        (7, 7),
    ],
)
def test_only_cells_a_spreadsheet_would_run_are_defused(cell: object, written: object) -> None:
    assert spreadsheet_safe(cell) == written


def test_the_csv_keeps_empty_cells_empty_and_defuses_formulas(db: Db, fleet: Fleet) -> None:
    _approved(
        db,
        {
            "CB-1": {"amount": "100.00", "invoice_number": "", "reason_code": "=cmd|' /C calc'!A0"},
            "CB-2": {"amount": "25.50", "invoice_number": "INV-2", "reason_code": "24"},
        },
    )
    r = fleet("export", "credits", "--since", "2026-01-01")
    assert r.exit_code == 0, r.output
    rows = {row["deduction"]: row for row in csv.DictReader(io.StringIO(r.stdout))}
    assert rows["CB-1"]["invoice_number"] == ""
    assert rows["CB-1"]["reason_code"] == "'=cmd|' /C calc'!A0"
    assert rows["CB-1"]["amount"] == "100.00"
    assert rows["CB-2"]["invoice_number"] == "INV-2"
    assert rows["CB-2"]["reason_code"] == "24"
    assert not any(v.startswith("'") for v in rows["CB-2"].values())


def test_a_batch_total_past_numeric_14_2_is_exact(db: Db) -> None:
    top = Decimal("999999999999.99")  # the largest amount one record may carry
    _approved(db, {"CB-1": {"amount": str(top)}, "CB-2": {"amount": str(top)}})
    with db.sessions() as s, s.begin():
        rows = export_credits(s, date(2026, 1, 1), "ana")
    assert len(rows) == 2
    with db.sessions() as s:
        assert s.scalar(select(ExportBatch.total)) == top * 2 == Decimal("1999999999999.98")
