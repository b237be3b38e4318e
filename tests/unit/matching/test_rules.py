"""Each matching rule and each verdict kind on small hand-built snapshots."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal as D

import pytest

from matching.config import load_config
from matching.model import (
    Adjustment,
    CarrierShip,
    Ded,
    Doc,
    ErpShip,
    Invoice,
    Line,
    PaidLine,
    Promo,
    Snapshot,
    Verdict,
)
from matching.rules import judge

TODAY = date(2026, 11, 1)
CFG = load_config()


def inv(number: str = "INV1", lines=None, total: D | None = None, day=date(2026, 3, 1)) -> Invoice:  # type: ignore[no-untyped-def]
    lines = lines or [("SKU-A", 40, D("10.00"))]
    tot = total if total is not None else sum((q * p for _, q, p in lines), D("0.00"))
    return Invoice(1, number, "MegaMart Stores, Inc.", day, tot, lines)


def ded(**kw) -> Ded:  # type: ignore[no-untyped-def]
    values = {
        "id": 10,
        "portal": "megamart",
        "external_id": "4000000001",
        "invoice_number": "INV1",
        "amount": D("30.00"),
        "claimed_amount": D("30.00"),
        "reason_code": "24",
        "deduction_date": date(2026, 4, 1),
        "invoice_date": date(2026, 3, 1),
        "carrier": "HaulStar Freight",
        "pro_number": "1234567",
        "lines": [Line("SKU-A", "Snacks", 3, D("10.00"), D("30.00"))],
    }
    values.update(kw)
    return Ded(**values)


def ship(**kw) -> CarrierShip:  # type: ignore[no-untyped-def]
    values = {
        "id": 5,
        "carrier": "haulstar",
        "pro_number": "1234567",
        "bol_number": "BOL1",
        "delivery_date": date(2026, 3, 2),
        "pieces_shipped": 40,
        "pieces_delivered": 40,
        "exceptions": [],
        "freight_terms": "prepaid",
        "pod_status": "fetched",
    }
    values.update(kw)
    return CarrierShip(**values)


def run(d: Ded, **snap) -> Verdict:  # type: ignore[no-untyped-def]
    snap.setdefault("invoices", [inv()])
    snap.setdefault("carrier_portals", ["haulstar", "parcelnet"])
    others = snap.pop("others", [])
    return judge(Snapshot(deductions=[d, *others], **snap), d, CFG, TODAY)


# --------------------------------------------------------------------------- shortage / damage


def test_clean_pod_makes_a_shortage_invalid_with_a_readable_reason() -> None:
    v = run(ded(), carrier_shipments=[ship()])
    assert (v.validity, v.valid_amount, v.disputable_amount) == ("invalid", D("0.00"), D("30.00"))
    assert v.category == "shortage"
    assert v.category_source == "reason_code"
    assert (
        "POD signed clean for 40 of 40 cases on 2026-03-02: shortage claim of 3 cases is invalid"
        in v.reasons
    )
    assert {"kind": "shipment", "ref": "haulstar:1234567", "id": 5} in v.evidence
    assert v.evidence[0]["kind"] == "erp_invoice"


def test_pod_exception_makes_it_partial_or_valid() -> None:
    partial = run(ded(), carrier_shipments=[ship(pieces_delivered=39, exceptions=["SHORT 1 CS"])])
    assert (partial.validity, partial.valid_amount, partial.disputable_amount) == (
        "partial",
        D("10.00"),
        D("20.00"),
    )
    valid = run(ded(), carrier_shipments=[ship(pieces_delivered=37, exceptions=["SHORT 3 CS"])])
    assert (valid.validity, valid.valid_amount) == ("valid", D("30.00"))


def test_collect_shipment_puts_transit_loss_on_the_retailers_carrier() -> None:
    v = run(ded(), carrier_shipments=[ship(freight_terms="collect", exceptions=["SHORT 3 CS"])])
    assert v.validity == "invalid"
    assert any("Collect shipment" in r for r in v.reasons)


def test_billed_not_shipped_is_owed_even_on_collect() -> None:
    v = run(ded(), carrier_shipments=[ship(freight_terms="collect", pieces_shipped=37)])
    assert (v.validity, v.valid_amount) == ("valid", D("30.00"))
    assert any("billed not shipped" in r for r in v.reasons)


def test_damage_counts_only_damaged_cases() -> None:
    d = ded(reason_code="25")
    v = run(d, carrier_shipments=[ship(exceptions=["2 CS DAMAGED"])])
    assert (v.category, v.validity, v.valid_amount) == ("damage", "partial", D("20.00"))


def test_missing_pod_is_its_own_verdict() -> None:
    v = run(ded())
    assert v.validity == "needs_review"
    assert v.valid_amount is None
    assert v.missing == [
        {
            "kind": "pod",
            "ref": "1234567",
            "portal": "haulstar",
            "why": "needs POD from haulstar, PRO 1234567",
        }
    ]
    not_imaged = run(ded(), carrier_shipments=[ship(pod_status="not_available")])
    assert not_imaged.validity == "needs_review"
    assert not_imaged.missing[0]["kind"] == "pod"


def test_shipment_found_by_bol_when_the_claim_has_no_pro() -> None:
    v = run(ded(pro_number=None, bol_number="BOL1"), carrier_shipments=[ship()])
    assert v.validity == "invalid"


# --------------------------------------------------------------------------- promotion


PROMO = Promo(
    7, "DL-1", "MegaMart Stores, Inc.", ["SKU-A"], date(2026, 2, 1), date(2026, 3, 31), D("0.50")
)


def promo_ded(**kw) -> Ded:  # type: ignore[no-untyped-def]
    base = {
        "reason_code": "50",
        "carrier": None,
        "pro_number": None,
        "promo_id": "DL-1",
        "lines": [],
        "amount": D("20.00"),
        "claimed_amount": D("20.00"),
        "portal": "shopright",
        "external_id": "CB1234567",
    }
    base.update(kw)
    return ded(**base)


def test_promotion_allowance_from_the_agreed_rate() -> None:
    v = run(promo_ded(), promotions=[PROMO])
    assert (v.category, v.validity, v.valid_amount) == ("promotion", "valid", D("20.00"))
    over = run(promo_ded(amount=D("30.00"), claimed_amount=D("30.00")), promotions=[PROMO])
    assert (over.validity, over.valid_amount, over.disputable_amount) == (
        "partial",
        D("20.00"),
        D("10.00"),
    )


def test_promotion_outside_its_dates_or_unknown_is_invalid() -> None:
    expired = replace(PROMO, end_date=date(2026, 2, 20))
    v = run(promo_ded(), promotions=[expired])
    assert v.validity == "invalid"
    assert "outside it" in v.reasons[0]
    unknown = run(promo_ded(promo_id="DL-404"), promotions=[PROMO])
    assert unknown.validity == "invalid"


def test_promotion_found_by_items_when_no_number_is_given() -> None:
    d = promo_ded(promo_id=None, lines=[Line("SKU-A", "x", 40, D("0.50"), D("20.00"))])
    assert run(d, promotions=[PROMO]).validity == "valid"


def test_promotion_number_read_from_the_backup() -> None:
    doc = Doc(3, "backup", "extracted", {"promotion_number": {"value": "DL-1", "confidence": 0.9}})
    d = promo_ded(promo_id=None, portal="megamart", docs=[doc])
    v = run(d, promotions=[PROMO])
    assert v.validity == "valid"
    assert {"kind": "document", "ref": "backup", "id": 3} in v.evidence


def test_promotion_without_backup_needs_it() -> None:
    v = run(promo_ded(promo_id=None, portal="megamart"), promotions=[PROMO])
    assert v.validity == "needs_review"
    assert v.missing[0]["kind"] == "backup"
    assert v.missing[0]["portal"] == "megamart"


# --------------------------------------------------------------------------- others


def test_pricing_overcharge_against_the_agreed_cost() -> None:
    line = Line("SKU-A", "Snacks | INV COST 10.50 / PO COST 10.00", 40, D("0.50"), D("20.00"))
    d = ded(reason_code="11", lines=[line], amount=D("20.00"), claimed_amount=D("20.00"))
    assert run(d, invoices=[inv(lines=[("SKU-A", 40, D("10.50"))])]).validity == "valid"
    part = run(d, invoices=[inv(lines=[("SKU-A", 40, D("10.20"))])])
    assert (part.validity, part.valid_amount) == ("partial", D("8.00"))
    assert run(d).validity == "invalid"  # invoiced at the agreed 10.00


def test_returns_at_invoice_cost_and_only_invoiced_items() -> None:
    lines = [Line("SKU-A", "x", 5, D("12.00"), D("60.00"))]
    d = ded(reason_code="92", lines=lines, amount=D("60.00"), claimed_amount=D("60.00"))
    v = run(d)
    assert (v.category, v.validity, v.valid_amount) == ("return_unsaleable", "partial", D("50.00"))
    other = run(d, invoices=[inv(lines=[("SKU-B", 5, D("10.00"))])])
    assert other.validity == "invalid"


def test_compliance_fine_against_the_delivery_date() -> None:
    memo = "Must arrive by: 2026-03-03. Received: 2026-03-05. Fine basis: 3.00% of 400.00."
    d = ded(reason_code="99", memo=memo, lines=[], amount=D("12.00"), claimed_amount=D("12.00"))
    erp = ErpShip(9, "S1", "INV1", "haulstar", "1234567", "BOL1", 40, "prepaid")
    late = run(d, erp_shipments=[erp], carrier_shipments=[ship(delivery_date=date(2026, 3, 5))])
    assert (late.category, late.validity, late.valid_amount) == (
        "compliance_fine",
        "valid",
        D("12.00"),
    )
    on_time = run(d, erp_shipments=[erp], carrier_shipments=[ship()])
    assert on_time.validity == "invalid"
    d5 = replace(d, amount=D("20.00"), claimed_amount=D("20.00"))
    fined_at_5 = run(
        d5, erp_shipments=[erp], carrier_shipments=[ship(delivery_date=date(2026, 3, 5))]
    )
    assert (fined_at_5.validity, fined_at_5.valid_amount) == ("partial", D("12.00"))


def test_post_audit_needs_an_overpayment() -> None:
    d = ded(reason_code="73", lines=[], amount=D("400.00"), claimed_amount=D("400.00"))
    once = [PaidLine("R1", date(2026, 4, 1), "INV1", D("400.00"), D("400.00"))]
    assert run(d, paid_lines=once).validity == "invalid"
    twice = [*once, PaidLine("R2", date(2026, 4, 9), "INV1", D("400.00"), D("400.00"))]
    v = run(d, paid_lines=twice)
    assert (v.category, v.validity) == ("duplicate_post_audit", "valid")


def test_duplicate_of_an_earlier_deduction_is_invalid() -> None:
    first = ded(id=1, external_id="4000000000", deduction_date=date(2026, 3, 20))
    again = ded(id=2, external_id="4000000002", deduction_date=date(2026, 5, 1))
    pod = [ship(exceptions=["SHORT 3 CS"])]
    v = run(again, others=[first], carrier_shipments=pod)
    assert (v.rule, v.validity) == ("duplicate", "invalid")
    assert "Already deducted: 4000000000" in v.reasons[0]
    assert run(first, others=[again], carrier_shipments=pod).validity == "valid"


def test_missing_invoice_needs_review_and_other_is_valid() -> None:
    v = run(ded(invoice_number="INV404"), carrier_shipments=[ship()])
    assert v.validity == "needs_review"
    assert v.missing[0]["kind"] == "erp_invoice"
    misc = ded(
        reason_code="", memo="Misc adjustment per buyer", lines=[], carrier=None, pro_number=None
    )
    assert run(misc).validity == "valid"


def test_dispute_window_is_reported() -> None:
    late = ded(invoice_date=date(2024, 1, 2))  # megamart 24: 730 days from the invoice
    v = run(late, carrier_shipments=[ship()])
    assert v.window_open is False
    assert v.window_closes == date(2026, 1, 1)
    assert any("window closed on 2026-01-01" in r for r in v.reasons)


def test_revised_amount_is_shown_but_truth_is_about_the_claim() -> None:
    d = ded(amount=D("0.00"), status="Reversed")
    v = run(d, carrier_shipments=[ship()])
    assert (v.validity, v.claimed_amount, v.current_amount) == ("invalid", D("30.00"), D("0.00"))
    assert v.outstanding_disputable == D("0.00")
    assert any("changed the deduction to 0.00 (Reversed)" in r for r in v.reasons)


def test_remittance_adjustment_is_cited() -> None:
    adj = Adjustment("CHK1", date(2026, 4, 2), "4000000001", D("30.00"))
    v = run(ded(), carrier_shipments=[ship()], adjustments=[adj])
    assert any(e["kind"] == "remittance_adjustment" for e in v.evidence)


# --------------------------------------------------------------------------- categories


@pytest.mark.parametrize(
    ("kw", "category", "source"),
    [
        ({"memo": "Short received vs ASN"}, "shortage", "evidence"),  # a PRO, not a fine
        ({"memo": "Product crushed in transit"}, "damage", "evidence"),
        (
            {"carrier": None, "pro_number": None, "memo": "Must arrive by: 2026-03-03. Fine"},
            "compliance_fine",
            "evidence",
        ),
        (
            {"carrier": None, "pro_number": None, "memo": "Invoice paid twice per audit"},
            "duplicate_post_audit",
            "text",
        ),
        (
            {"carrier": None, "pro_number": None, "memo": "Customer returns - damaged"},
            "return_unsaleable",
            "text",
        ),
    ],
)
def test_category_without_a_reason_code(kw, category: str, source: str) -> None:  # type: ignore[no-untyped-def]
    from matching.classify import classify

    assert classify(ded(reason_code="", **kw), {}) == (category, source)


def test_analyst_correction_applies_to_the_same_portal_and_code() -> None:
    from matching.classify import classify

    overrides = {("megamart", "24", ""): "damage"}
    assert classify(ded(), overrides) == ("damage", "analyst")
    assert classify(ded(portal="shopright", reason_code="A030"), overrides)[1] == "reason_code"
