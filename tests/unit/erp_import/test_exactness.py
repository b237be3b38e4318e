"""Imports never change a number without a word: too many decimals are refused,
an accountant's (5.00) is negative and meets its column's sign rule, a column
or key given twice is refused, an X12 file missing its closing segments is
refused, and every imported X12 segment's text is kept."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from records.normalize import NormalizationError
from store.db import init_db, session_factory
from store.erp_import import ImportRefused, _money, import_file, read_file
from store.models import ErpInvoiceLine, Remittance
from tests.unit.x12 import samples

REMIT_HEADER = (
    "remittance_id,customer,payment_date,total_paid,currency,invoice_number,invoice_amount,"
    "paid_amount,adjustment_reference,adjustment_reason,adjustment_amount\n"
)
INVOICE_HEADER = "invoice_number,customer,invoice_date,total,sku,quantity,unit_price,amount\n"


@pytest.fixture
def db(tmp_path: Path) -> sessionmaker[Session]:
    return session_factory(init_db(f"sqlite:///{tmp_path / 'fleet.db'}"))


def _csv(tmp_path: Path, text: str, name: str = "f.csv") -> Path:
    f = tmp_path / name
    f.write_text(text)
    return f


def test_more_decimals_than_the_column_keeps_is_refused_not_rounded(tmp_path: Path) -> None:
    f = _csv(tmp_path, INVOICE_HEADER + "INV-1,C,2026-01-01,0.125,S,1,0.125,0.13\n")
    _, bad = read_file("invoices", f)
    assert [str(e) for e in bad] == ["line 2: total: more than 2 decimal places: '0.125'"]


def test_a_unit_price_keeps_four_decimals_exactly(
    db: sessionmaker[Session], tmp_path: Path
) -> None:
    f = _csv(tmp_path, INVOICE_HEADER + "INV-1,C,2026-01-01,0.13,S,1,0.125,0.13\n")
    import_file(db, "invoices", f)
    with db() as s:
        assert str(s.scalar(select(ErpInvoiceLine.unit_price))) == "0.125"


def test_an_accountants_negative_is_negative_and_meets_the_sign_rule(tmp_path: Path) -> None:
    f = _csv(
        tmp_path,
        REMIT_HEADER + "CHK-1,MegaMart,2026-10-15,95.00,USD,INV-1,100.00,100.00,CB1,22,(5.00)\n",
    )
    (_, rem), *_ = read_file("remittances", f)[0]
    assert rem.lines[0].adjustments[0].amount == Decimal("-5.00")
    f = _csv(
        tmp_path,
        "promo_id,customer,start_date,end_date,rate_per_unit\nP1,C,2026-01-01,2026-02-01,(5.00)\n",
    )
    _, bad = read_file("promotions", f)
    assert [e.message for e in bad] == [
        "rate_per_unit: '(5.00)' is negative; rate_per_unit cannot be"
    ]


def test_a_column_named_twice_is_refused_naming_it(tmp_path: Path) -> None:
    f = _csv(tmp_path, "shipment_id,pro_number,pro_number\nS1,111,222\n")
    with pytest.raises(ImportRefused, match="column\\(s\\) named twice: pro_number"):
        read_file("shipments", f)


def test_a_json_key_given_twice_is_refused_naming_it(tmp_path: Path) -> None:
    f = tmp_path / "s.json"
    f.write_text('[\n {"shipment_id": "S1",\n  "pro_number": "111", "pro_number": "222"}\n]\n')
    with pytest.raises(ImportRefused, match="line 2: key 'pro_number' given twice"):
        read_file("shipments", f)


def test_a_json_number_is_read_exactly_not_as_a_float(tmp_path: Path) -> None:
    f = tmp_path / "p.json"
    row = {"promo_id": "P1", "customer": "C", "start_date": "2026-01-01"}
    f.write_text(
        json.dumps([{**row, "end_date": "2026-02-01"}])[:-2] + ', "rate_per_unit": 0.12345}]'
    )
    _, bad = read_file("promotions", f)
    assert ["more than 4 decimal places: '0.12345'" in e.message for e in bad] == [True]


def test_an_x12_file_missing_its_closing_segments_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "r.820"
    f.write_text(samples.SHOPRIGHT_820.rsplit("\n", 2)[0])  # no GE, no IEA
    with pytest.raises(ImportRefused) as err:
        import_file(session_factory(init_db(f"sqlite:///{tmp_path / 'x.db'}")), "remittances", f)
    text = str(err.value)
    assert "no GE" in text
    assert "no IEA; its transactions are refused" in text
    assert "interchange 000000042 (#1)" in text


def test_each_imported_x12_segment_is_kept_with_its_record(
    db: sessionmaker[Session], tmp_path: Path
) -> None:
    f = tmp_path / "r.820"
    f.write_text(samples.MEGAMART_820)
    result = import_file(db, "remittances", f)
    assert (result.transactions, result.created) == (1, 1)
    ((check),) = result.checks
    assert (check.stated, check.read, check.ok) == (Decimal("1004.56"), Decimal("1004.56"), True)
    with db() as s:
        raw = s.scalar(select(Remittance.raw))
    assert raw["segments"][1].startswith("BPR*C*1004.56*C*ACH")
    assert raw["segments"][-1] == "SE*14*0001"
    again = import_file(db, "remittances", f)
    assert (again.created, again.changed, again.unchanged) == (0, 0, 1)


AMOUNT_TEXT = st.decimals(min_value=Decimal("-1e9"), max_value=Decimal("1e9"), places=4)


@settings(max_examples=300, deadline=None)
@given(AMOUNT_TEXT, st.sampled_from(["plain", "parens", "trailing", "dollar", "grouped"]))
def test_money_text_is_read_exactly_or_refused(value: Decimal, style: str) -> None:
    magnitude = abs(value)
    text = {
        "plain": f"{value}",
        "parens": f"({magnitude})" if value < 0 else f"{value}",
        "trailing": f"{magnitude}-" if value < 0 else f"{value}",
        "dollar": f"{'-' if value < 0 else ''}${magnitude}",
        "grouped": f"{'-' if value < 0 else ''}{magnitude:,}",
    }[style]
    if value != value.quantize(Decimal("0.01")):
        with pytest.raises(NormalizationError, match="more than 2 decimal places"):
            _money(text, "amount")
    else:
        assert _money(text, "amount") == value


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_any_money_text_is_a_decimal_or_a_named_refusal(text: str) -> None:
    read: Decimal | str
    try:
        read = _money(text, "max_amount")
    except NormalizationError as exc:
        read = str(exc)
    if isinstance(read, str):
        assert read.startswith("max_amount: ")
    else:
        assert read >= 0
        assert read == read.quantize(Decimal("0.01"))


def test_every_csv_row_of_a_grouped_record_is_kept_raw(tmp_path: Path) -> None:
    f = _csv(
        tmp_path,
        INVOICE_HEADER
        + "INV-1,C,2026-01-01,10.00,S1,1,4.00,4.00\nINV-1,C,2026-01-01,10.00,S2,1,6.00,6.00\n",
    )
    ((_, inv),), _ = read_file("invoices", f)
    assert [(r["line"], r["sku"], r["amount"]) for r in inv.raw["rows"]] == [
        (2, "S1", "4.00"),
        (3, "S2", "6.00"),
    ]
