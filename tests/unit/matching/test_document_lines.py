"""Claims whose lines are only in a document (FreshCo's CSV line detail, a backup's
table): judged from those lines when they were read with confidence and add up to
the claim; otherwise needs_review naming the document, never a zero."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

from matching.model import Ded, Doc
from tests.unit.matching.test_rules import PROMO, inv, run

CSV_LINE = {
    "sku": "SKU-A",
    "description": "Snacks | INV COST 10.50 / PO COST 10.00",
    "quantity": 40,
    "unit_cost": "0.50",
    "amount": "20.00",
    "confidence": 0.98,
    "raw": "SKU-A,Snacks | INV COST 10.50 / PO COST 10.00,40,0.50,20.00",
}


def detail(status: str = "extracted", reason: str = "", **line: Any) -> Doc:
    fields = {"lines": [{**CSV_LINE, **line}]} if status in ("extracted", "partial") else {}
    return Doc(7, "line_detail", status, fields, name="FC1_detail.csv", reason=reason)


def pricing(*docs: Doc, amount: str = "20.00") -> Ded:
    d = Ded(
        id=10,
        portal="freshco",
        external_id="FC1",
        invoice_number="INV1",
        amount=D(amount),
        claimed_amount=D(amount),
        reason_code="8",
        docs=list(docs),
    )
    d.take_document_lines()
    return d


OVERCHARGED = [inv(lines=[("SKU-A", 40, D("10.50"))])]


def test_the_line_detail_gives_the_claim_its_lines() -> None:
    d = pricing(detail())
    assert d.lines_from is not None
    assert d.lines_from.name == "FC1_detail.csv"
    v = run(d, invoices=OVERCHARGED)
    assert (v.validity, v.valid_amount) == ("valid", D("20.00"))


def test_an_unread_line_detail_is_needs_review_naming_it_never_invalid() -> None:
    d = pricing(detail("unsupported", reason="text/csv is not read"))
    v = run(d, invoices=OVERCHARGED)
    assert v.validity == "needs_review"
    assert v.missing[0]["kind"] == "document"
    assert "FC1_detail.csv" in v.reasons[0]
    assert "text/csv is not read" in v.reasons[0]


def test_lines_that_do_not_add_up_to_the_claim_are_not_used() -> None:
    v = run(pricing(detail(), amount="25.00"), invoices=OVERCHARGED)
    assert v.validity == "needs_review"
    assert "add up to 20.00, the claim is 25.00" in v.reasons[0]


def test_doubted_lines_are_not_used() -> None:
    v = run(pricing(detail("partial", confidence=0.5)), invoices=OVERCHARGED)
    assert v.validity == "needs_review"
    assert "low confidence" in v.reasons[0]


def test_no_lines_and_no_document_asks_the_portal_for_them() -> None:
    v = run(pricing(), invoices=OVERCHARGED)
    assert v.validity == "needs_review"
    assert (v.missing[0]["kind"], v.missing[0]["portal"]) == ("backup", "freshco")


def test_a_promotion_named_only_by_items_in_an_unread_detail_waits_for_it() -> None:
    backup = Doc(3, "backup", "extracted", {"claim_number": {"value": "FC1", "confidence": 0.95}})
    d = Ded(
        id=11,
        portal="freshco",
        external_id="FC2",
        invoice_number="INV1",
        amount=D("20.00"),
        claimed_amount=D("20.00"),
        reason_code="2",
        docs=[backup, detail("failed", reason="not a line detail: empty file")],
    )
    d.take_document_lines()
    v = run(d, promotions=[PROMO])
    assert v.validity == "needs_review"
    assert "not a line detail: empty file" in v.reasons[0]


def test_a_promotion_number_read_with_low_confidence_decides_nothing() -> None:
    doc = Doc(3, "backup", "extracted", {"promotion_number": {"value": "DL-1", "confidence": 0.5}})
    d = Ded(
        id=12,
        portal="megamart",
        external_id="4000000009",
        invoice_number="INV1",
        amount=D("20.00"),
        claimed_amount=D("20.00"),
        reason_code="56",
        docs=[doc],
    )
    v = run(d, promotions=[PROMO])
    assert v.validity == "needs_review"
    assert "low confidence" in v.reasons[0]
