"""EDI 820 read loop by loop: adjustments stay in their own ENT loop, each
sender's sign convention gives the documented sign, BPR02 is checked, and what
explains the money (qualifiers, references, reason codes) is kept."""

from __future__ import annotations

from decimal import Decimal

import pytest

from store.x12.remittances import read_remittances
from tests.unit.x12 import samples
from tests.unit.x12.build import ONE_LINE, PER_LINE, interchange, render, transaction


def _one(text: str):  # type: ignore[no-untyped-def]
    read = read_remittances(text)
    assert [str(e) for e in read.errors] == []
    (rem,) = read.remittances
    return rem, read


def test_an_adx_in_an_ent_loop_without_rmr_is_that_loops_not_the_previous_invoices() -> None:
    rem, _ = _one(samples.MEGAMART_820)
    by_ref = {a.reference: ln for ln in rem.record.lines for a in ln.adjustments}
    invoice, floating = by_ref["4023344501"], by_ref["CB12346"]
    assert invoice.invoice_number == "INV-1"
    assert floating.invoice_number == ""
    assert floating.qualifier == ""
    assert floating is not invoice
    loops = rem.record.raw["loops"]
    assert [lp["ent"] for lp in loops] == ["1", "2"]
    assert [a["reference"] for a in loops[1]["adjustments"]] == ["CB12346"]
    assert loops[1]["items"] == []


def test_an_ik_item_is_not_an_invoice_and_references_are_kept() -> None:
    rem, _ = _one(samples.MEGAMART_820)
    ik = next(ln for ln in rem.record.lines if ln.qualifier == "IK")
    assert (ik.invoice_number, ik.reference, ik.paid_amount) == ("", "ADJ-5", Decimal("-5.00"))
    item = rem.record.raw["loops"][0]["items"][0]
    assert item["references"] == [
        {"segment": "REF", "qualifier": "PO", "value": "4747948779", "description": ""}
    ]
    (adx,) = item["adjustments"]
    assert adx["references"] == [
        {"segment": "REF", "qualifier": "CR", "value": "CLM-77", "description": ""}
    ]
    assert (adx["reason_code"], adx["qualifier"], adx["adx01"]) == ("22", "CB", "165.44")
    assert rem.record.raw["bpr"]["credit_debit"] == "C"
    assert rem.record.raw["segments"][0] == "ST*820*0001"


def test_both_sign_conventions_store_a_deduction_as_positive() -> None:
    mm, _ = _one(samples.MEGAMART_820)  # writes +165.44
    sr, _ = _one(samples.SHOPRIGHT_820)  # writes -100.00
    assert [a.amount for ln in mm.record.lines for a in ln.adjustments] == [
        Decimal("165.44"),
        Decimal("25.00"),
    ]
    assert [a.amount for ln in sr.record.lines for a in ln.adjustments] == [
        Decimal("50.00"),
        Decimal("100.00"),
    ]
    assert (mm.balance.convention, sr.balance.convention) == (
        "positive_reduces",
        "negative_reduces",
    )
    assert mm.balance.balanced
    assert sr.balance.balanced
    assert sr.balance.computed == sr.balance.bpr02 == Decimal("850.00")
    assert str(sr.record.payment_date) == "2026-11-01"  # from DTM*097


def test_bpr02_that_does_not_balance_is_flagged_with_both_figures_and_a_hint() -> None:
    # ShopRight's file read as if ShopRight wrote deductions as positive numbers.
    text = samples.SHOPRIGHT_820.replace("SHOPRIGHT CORPORATION", "SOMEONE ELSE").replace(
        "SHOPRIGHTEDI", "SOMEONEEDI  "
    )
    rem, read = _one(text)
    b = rem.balance
    assert (b.bpr02, b.computed, b.balanced) == (Decimal("850.00"), Decimal("950.00"), False)
    assert any("it balances if a deduction is a negative ADX01" in h for h in b.hints)
    assert rem.record.raw["balance"]["balanced"] is False
    assert any(
        "payer 'SOMEONE ELSE' has no file in records/data/edi" in str(n) for n in read.notices
    )


def _820(body: list[str], layout=ONE_LINE) -> str:  # type: ignore[no-untyped-def]
    return render(
        interchange(
            [transaction("820", "0001", body)],
            functional_id="RA",
            sender="MEGAMART",
            version="00401",
        ),
        layout,
    )


HEAD = ["BPR*C*90.00*C*ACH*CTX", "TRN*1*T-1", "N1*PR*MEGAMART STORES INC", "DTM*097*261015"]


def test_rmr_without_ent_and_a_4010_date_are_read() -> None:
    rem, _ = _one(_820([*HEAD, "RMR*IV*INV-9**90.00*100.00", "ADX*10.00*01*CB*D-9"]))
    assert str(rem.record.payment_date) == "2026-10-15"
    (line,) = rem.record.lines
    assert line.invoice_number == "INV-9"
    assert line.adjustments[0].amount == Decimal("10.00")
    assert rem.balance.balanced


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ([*HEAD, "RMR*IV*INV-9**90.125"], "element RMR04: '90.125' has 3 decimals"),
        ([*HEAD, "RMR*IV*INV-9"], "element RMR04: RMR04 (the amount paid) is empty"),
        ([*HEAD, "RMR*IV*INV-9**90.00", "ADX*ten*01"], "element ADX01: 'ten' is not a decimal"),
        (HEAD[1:], "no BPR segment"),
        ([HEAD[0], *HEAD[2:]], "no TRN02 trace number"),
        ([*HEAD[:3], "RMR*IV*INV-9**90.00"], "no payment date"),
    ],
)
def test_820_refusals_name_the_segment_and_element(body: list[str], expected: str) -> None:
    read = read_remittances(_820(body, PER_LINE))
    assert read.remittances == []
    assert any(expected in str(e) for e in read.errors), [str(e) for e in read.errors]
    assert all("interchange 000000001 (#1)" in str(e) for e in read.errors)
