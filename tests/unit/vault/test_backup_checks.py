"""Issue 15's extraction rules: reads a consistency check doubts go to a person
(confidence at most CONF_DOUBTFUL, the problem named), never decide at 0.95."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from store.extraction import extract_backup_fields
from store.extraction.labels import CONF_DOUBTFUL, CONF_SAME_LINE_COLON

HEAD = """MEGAMART STORES - SUPPLIER DEBIT MEMO
Claim Number: MM-77
Claim Date: 03/14/2026
Invoice Number: INV-1
Invoice Date: 02/27/2026
"""
TABLE = """
SKU         Description               Qty   Unit Cost     Amount
SKU-1001    Crunchy Oats 12oz          10      12.00        120.00
SKU-1002    Honey Puffs 18oz            3      20.00         60.00
"""


def test_a_clean_memo_is_trusted() -> None:
    f = extract_backup_fields(HEAD + "Amount: $180.00\n" + TABLE)
    assert f.problems == []
    assert f.amount is not None
    assert f.amount.value == Decimal("180.00")
    assert f.amount.confidence == CONF_SAME_LINE_COLON
    assert all(ln.confidence >= 0.9 for ln in f.lines)


def test_an_amount_without_decimals_among_figures_with_cents_is_doubted() -> None:
    f = extract_backup_fields(HEAD + "Amount: 18000\n" + TABLE)
    assert f.amount is not None
    assert f.amount.value == Decimal("18000.00")  # read as printed, not guessed
    assert f.amount.confidence <= CONF_DOUBTFUL
    assert any("without decimals" in p for p in f.problems)


def test_a_header_total_that_disagrees_with_its_lines_doubts_both() -> None:
    f = extract_backup_fields(HEAD + "Amount: $190.00\n" + TABLE)
    assert f.amount is not None
    assert f.amount.confidence <= CONF_DOUBTFUL
    assert all(ln.confidence <= CONF_DOUBTFUL for ln in f.lines)
    assert f.problems == ["amount 190.00 disagrees with its 2 lines (they add up to 180.00)"]


def test_an_invoice_date_that_is_the_claim_date_by_layout_is_doubted() -> None:
    text = """SHOPRIGHT CHARGEBACK
Claim Number: CB-9
Date: 03/14/2026
Invoice Number: INV-1
Amount: $180.00
"""
    f = extract_backup_fields(text)
    assert f.claim_date is not None
    assert f.invoice_date is not None
    assert f.invoice_date.value == f.claim_date.value == date(2026, 3, 14)
    assert f.invoice_date.confidence <= CONF_DOUBTFUL
    assert any("layout accident" in p for p in f.problems)


def test_equal_dates_under_their_own_labels_are_facts() -> None:
    text = HEAD.replace("02/27/2026", "03/14/2026") + "Amount: $180.00\n"
    f = extract_backup_fields(text)
    assert f.invoice_date is not None
    assert f.invoice_date.confidence == CONF_SAME_LINE_COLON
    assert f.problems == []


def test_an_ambiguous_numeric_date_is_not_trusted() -> None:
    f = extract_backup_fields("Claim Number: C-1\nInvoice Date: 03/04/2026\n")
    assert f.invoice_date is not None
    assert f.invoice_date.value == date(2026, 3, 4)
    assert f.invoice_date.confidence <= CONF_DOUBTFUL
