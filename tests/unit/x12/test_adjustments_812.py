"""EDI 812 into deduction records, in three retailers' shapes, and every way a
real file goes wrong refused with the place it went wrong."""

from __future__ import annotations

from decimal import Decimal

import pytest

from records.schemas import Category
from store.x12.adjustments import read_adjustments
from tests.unit.x12 import samples
from tests.unit.x12.build import PER_LINE, interchange, render, transaction


def _one(text: str, retailer: str | None = None):  # type: ignore[no-untyped-def]
    read = read_adjustments(text, retailer)
    assert [str(e) for e in read.errors] == []
    (adj,) = read.adjustments
    return adj, read


def test_megamart_812_on_one_line_with_reused_isa13() -> None:
    read = read_adjustments(samples.MEGAMART_812)
    assert read.errors == []
    assert read.parsed.interchanges == 2
    assert ["control number 000004321 is used by 2" in str(n) for n in read.notices] == [True]
    first, header_only = read.adjustments
    d = first.record
    assert (d.portal, d.external_id) == ("megamart", "4085368832")
    assert d.amount == Decimal("311.92")  # BCD04 31192, two implied decimals
    assert (str(d.deduction_date), str(d.invoice_date)) == ("2026-03-01", "2026-01-15")
    assert (d.invoice_number, d.po_number, d.currency) == ("INV765571", "4747948779", "USD")
    assert [(ln.sku, ln.quantity, ln.unit_cost, ln.amount) for ln in d.lines] == [
        ("AC-10213", 13, Decimal("7.3445"), Decimal("95.48")),
        ("AC-10073", 8, Decimal("27.055"), Decimal("216.44")),
    ]
    assert d.lines[0].description == "BILLED NOT SHIPPED CHIPS 12OZ SEA SAL"
    assert (d.reason_code, d.category) == ("24", Category.shortage)
    assert d.reason_text == "Carton shortage - freight bill signed short"
    assert first.header_total == first.lines_total == Decimal("311.92")
    raw = d.raw
    assert raw["source"] == "edi-812"
    assert raw["bcd"]["handling"] == "A"
    assert raw["bcd"]["type"] == "DR"
    assert raw["bcd"]["total"] == "31192"
    assert (raw["vendor_number"], raw["department"]) == ("123456", "00092")
    assert (raw["merchandise_type"], raw["receiving_number"]) == ("0001", "555123")
    assert raw["parties"][0] == {
        "entity": "XI",
        "name": "MEGAMART STORES INC",
        "id_qualifier": "UL",
        "id": "0614141000005",
    }
    assert raw["lines"][0]["item_ids"] == {"UP": "012345678905", "IN": "555001", "VN": "AC-10213"}
    assert raw["lines"][0]["references"] == [
        {"segment": "N9", "qualifier": "CL", "value": "BNS", "description": ""}
    ]
    assert raw["lines"][0]["unit"] == "CA"
    assert raw["segments"][0] == "ST*812*0001"
    assert "CDD*24*D**21644***8*CA***27.055***CARTON SHORTAGE PRETZEL" in raw["segments"]
    assert raw["interchange"]["ordinal"] == 1
    assert header_only.record.amount == Decimal("45.00")
    assert header_only.lines_total is None
    assert header_only.record.raw["interchange"]["ordinal"] == 2


def test_shopright_812_a_credit_flag_is_its_deduction_and_a_debit_line_gives_back() -> None:
    adj, _ = _one(samples.SHOPRIGHT_812)
    d = adj.record
    assert (d.portal, d.external_id, d.amount) == ("shopright", "CB7400640", Decimal("152.50"))
    assert [ln.amount for ln in d.lines] == [
        Decimal("100.00"),
        Decimal("62.50"),
        Decimal("-10.00"),
    ]
    assert (d.reason_code, d.category) == ("60", Category.shortage)
    assert d.reason_text == "Billed not shipped"


def test_freshco_812_claim_number_from_n9_and_category_from_its_claim_code() -> None:
    adj, _ = _one(samples.FRESHCO_812)
    d = adj.record
    assert (d.portal, d.external_id) == ("freshco", "FC30251174")
    assert d.raw["bcd"]["number"] == "DM998877"
    assert (d.reason_code, d.category) == ("77", Category.shortage)  # N9*CL*SH
    assert d.lines[0].amount == Decimal("172.52") == 227 * Decimal("0.76")


def _812(body: list[str], sender: str = "VALUEMART") -> str:
    return render(
        interchange([transaction("812", "0001", body)], functional_id="CD", sender=sender),
        PER_LINE,
    )


BCD = "BCD*20260301*VM-1*A*{total}*D*20260115*INV-1**20260110*PO-1*00*DR"


def test_an_unknown_retailer_is_filed_under_a_named_portal_with_a_warning() -> None:
    text = _812([BCD.format(total="1000"), "N1*XI*ValueMart Inc.*UL*0099999000001"])
    adj, read = _one(text)
    assert adj.record.portal == "valuemart"
    assert not adj.partner_known
    assert any("has no file in records/data/edi" in str(n) for n in read.notices)
    adj, _ = _one(text, retailer="megamart")
    assert adj.record.portal == "megamart"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            [
                BCD.format(total="31192"),
                "CDD*22*D**9548***13*CA***7.3445",
                "CDD*24*D**21600***8*CA***27",
            ],
            "segment 4 (BCD, line 4), element BCD04: BCD04 311.92 is not the sum of its 2 CDD "
            "lines (311.48; CDD at segment 5, 6): refused",
        ),
        (
            [BCD.format(total="3x1")],
            "element BCD04: '3x1' is not a number with 2 implied decimals",
        ),
        (
            [BCD.format(total="100"), "CDD*22*D**100***1*EA***1.00001"],
            "element CDD11: '1.00001' has 5 decimals; the fleet keeps 4 for CDD11: refused",
        ),
        (
            [BCD.format(total="100").replace("*D*2026", "*X*2026")],
            "element BCD05: 'X' is not one of C, D for BCD05",
        ),
        (
            [BCD.format(total="100"), "CDD*22*D**100***2.5*EA"],
            "element CDD07: '2.5' is not a whole quantity",
        ),
        (
            [BCD.format(total="100").replace("20260301", "20261301")],
            "element BCD01: '20261301' is not a calendar date",
        ),
        (["CUR*BY*USD"], "no BCD segment"),
    ],
)
def test_refusals_name_the_segment_and_element(body: list[str], expected: str) -> None:
    read = read_adjustments(_812(body))
    assert read.adjustments == []
    assert any(expected in str(e) for e in read.errors), [str(e) for e in read.errors]
    assert all(str(e).startswith("interchange 000000001 (#1), group 1") for e in read.errors)


def test_a_line_whose_amount_is_not_quantity_times_price_is_kept_and_reported() -> None:
    text = _812([BCD.format(total="1000"), "CDD*22*D**1000***3*EA***3.50"])
    adj, read = _one(text, retailer="megamart")
    assert adj.record.lines[0].amount == Decimal("10.00")
    assert any("CDD04 10.00 is not CDD07 3 x CDD11 3.50" in str(n) for n in read.notices)


def test_the_same_claim_twice_is_read_once_or_refused_when_it_differs() -> None:
    one = _812([BCD.format(total="1000")])
    read = read_adjustments(one + one, retailer="megamart")
    assert len(read.adjustments) == 1
    assert read.errors == []
    assert any("repeats" in str(n) for n in read.notices)
    other = _812([BCD.format(total="2000")])
    read = read_adjustments(one + other, retailer="megamart")
    assert read.adjustments == []
    assert any("claim VM-1 is also at" in str(e) for e in read.errors)


def test_a_transaction_that_is_not_an_812_is_refused() -> None:
    text = render(
        interchange([transaction("810", "0001", ["BIG*20260101*1"])], functional_id="IN"),
    )
    read = read_adjustments(text)
    assert ["transaction set '810', not 812" in str(e) for e in read.errors] == [True]
