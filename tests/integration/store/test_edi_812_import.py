"""812 files into the deduction store on SQLite and PostgreSQL: a claim the
robots fetched and an 812 named is one deduction with both sources; a file is
all or nothing; re-importing changes nothing."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from records.schemas import DeductionRecord
from store.erp_import import ImportRefused
from store.models import Deduction, DeductionSource
from store.repositories import deduction_sources, deductions
from store.x12_import import import_adjustments
from tests.integration.store import factories
from tests.integration.store.conftest import Db
from tests.unit.x12 import samples


def _file(tmp_path: Path, text: str, name: str = "in.812") -> Path:
    f = tmp_path / name
    f.write_text(text)
    return f


def _portal_claim(**overrides: object) -> DeductionRecord:
    """MegaMart's claim as the robots read it from the portal."""
    values: dict[str, object] = {
        "account": "ap@acme.example",
        "amount": Decimal("311.92"),
        "invoice_number": "INV765571",
        "reason_code": "24",
        "raw": {"Claim #": "4085368832", "Amount": "$311.92"},
    }
    return factories.deduction("4085368832", **{**values, **overrides})


def test_812_creates_deductions_and_reimporting_changes_nothing(db: Db, tmp_path: Path) -> None:
    f = _file(tmp_path, samples.MEGAMART_812)
    r = import_adjustments(db.sessions, f)
    assert (r.interchanges, r.transactions, r.created) == (2, 2, 2)
    assert r.stated_total == r.lines_total == Decimal("356.92")
    assert any("used by 2 interchanges" in n for n in r.notices)
    with db.sessions() as s:
        d = deductions.get(s, "megamart", "4085368832")
        assert d is not None
        assert d.amount == Decimal("311.92")
        assert [ln.unit_cost for ln in d.lines] == [Decimal("7.3445"), Decimal("27.055")]
        assert deduction_sources.sources(s, d) == ["edi-812"]
    again = import_adjustments(db.sessions, f)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(DeductionSource)) == 2


def test_a_claim_the_robots_fetched_and_an_812_named_is_one_deduction(
    db: Db, tmp_path: Path
) -> None:
    with db.sessions() as s, s.begin():
        deductions.upsert(s, _portal_claim(amount=Decimal("300.00")), run_id="sync-1")
    r = import_adjustments(db.sessions, _file(tmp_path, samples.MEGAMART_812))
    assert (r.created, r.merged) == (1, 1)  # the header-only claim is new
    assert r.differences == [
        "megamart claim 4085368832: the portal shows 300.00, the 812 says 311.92 "
        "(interchange 000004321 (#1), group 4321, transaction 0001, segment 3 (ST, line 1)); "
        "the portal's stays"
    ]
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Deduction)) == 2
        d = deductions.get(s, "megamart", "4085368832")
        assert d is not None
        assert d.amount == Decimal("300.00")  # the portal's word on its own claim
        assert d.account == "ap@acme.example"
        assert deduction_sources.sources(s, d) == ["portal", "edi-812"]
        (src,) = deduction_sources.for_deduction(s, d.id)
        assert src.amount == Decimal("311.92")
        assert src.raw["bcd"]["total"] == "31192"
        assert src.raw["segments"][1].startswith("BCD*20260301*4085368832*A*31192*D")
        assert "interchange 000004321 (#1) transaction 0001" in src.reference
    again = import_adjustments(db.sessions, _file(tmp_path, samples.MEGAMART_812))
    assert (again.created, again.merged, again.unchanged) == (0, 0, 2)


def test_an_812_first_then_the_robots_keep_one_deduction_with_both_sources(
    db: Db, tmp_path: Path
) -> None:
    import_adjustments(db.sessions, _file(tmp_path, samples.MEGAMART_812))
    with db.sessions() as s, s.begin():
        outcome = deductions.upsert(s, _portal_claim(), run_id="sync-2")
    assert outcome.changed  # the portal's view replaces the 812's, with history
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Deduction)) == 2
        d = deductions.get(s, "megamart", "4085368832")
        assert d is not None
        assert deduction_sources.sources(s, d) == ["portal", "edi-812"]
        assert {c.field for c in outcome.changes} >= {"raw", "account"}


def test_a_revised_812_updates_the_deduction_it_made_with_history(db: Db, tmp_path: Path) -> None:
    import_adjustments(db.sessions, _file(tmp_path, samples.FRESHCO_812))
    revised = samples.FRESHCO_812.replace("17252", "17100").replace(
        "*227*EA***0.76", "*225*EA***0.76"
    )
    r = import_adjustments(db.sessions, _file(tmp_path, revised, "revised.812"))
    assert r.updated == 1
    with db.sessions() as s:
        d = deductions.get(s, "freshco", "FC30251174")
        assert d is not None
        assert d.amount == Decimal("171.00")
        changed = {h.field: (h.old_value, h.new_value) for h in deductions.history(s, d.id)}
        assert changed["amount"] == ("172.52", "171.00")
        assert len(deduction_sources.for_deduction(s, d.id)) == 2


def test_a_bad_transaction_refuses_the_file_unless_skip_bad(db: Db, tmp_path: Path) -> None:
    bad = samples.SHOPRIGHT_812.replace(
        "BCD*20260305*CB7400640*A*15250", "BCD*20260305*CB7400640*A*15251"
    )
    f = _file(tmp_path, samples.MEGAMART_812 + bad)
    with pytest.raises(ImportRefused) as err:
        import_adjustments(db.sessions, f)
    assert "element BCD04: BCD04 152.51 is not the sum of its 3 CDD lines (152.50" in str(err.value)
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Deduction)) == 0
    r = import_adjustments(db.sessions, f, skip_bad=True)
    assert (r.created, len(r.rejected)) == (2, 1)
    assert r.rejects_file is not None
    assert "BCD*20260305*CB7400640*A*15251" in r.rejects_file.read_text()
