"""Line detail served as CSV: every row a deduction line, exact amounts, rows kept as
printed, bounded, and any doubt about the list doubts every line."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store.extraction import LineDetailError, read_line_detail
from store.extraction.labels import CONF_DOUBTFUL, REVIEW_BELOW
from store.extraction.line_detail import MAX_BYTES, MAX_ROWS

FRESHCO = (
    b"sku,description,quantity,unit_cost,amount\r\n"
    b'AC-10206,"Animal Crackers 12x11oz | INV COST 83.07 / PO COST 82.96",290,0.11,31.90\r\n'
    b'AC-10010,"=HYPERLINK(""http://x""), ""quoted"" text",760,4.00,3040.00\r\n'
)


def test_freshco_detail_becomes_exact_lines_with_the_rows_kept() -> None:
    detail = read_line_detail(FRESHCO)
    assert detail.rows == 2
    assert detail.problems == []
    first, second = detail.lines
    assert (first.sku, first.quantity, first.unit_cost, first.amount) == (
        "AC-10206",
        290,
        Decimal("0.11"),
        Decimal("31.90"),
    )
    assert first.description == "Animal Crackers 12x11oz | INV COST 83.07 / PO COST 82.96"
    assert second.description == '=HYPERLINK("http://x"), "quoted" text'  # text, as served
    assert "AC-10010" in second.raw
    assert all(ln.confidence >= REVIEW_BELOW for ln in detail.lines)


def test_columns_by_name_in_any_order_with_a_european_export() -> None:
    data = "Menge;Item;Amount;Unit Price\n".replace("Menge", "Qty").encode() + (
        b"3;SKU-1;37,50;12,50\n"
    )
    detail = read_line_detail(data, decimal_comma=True)
    assert detail.problems == []
    (line,) = detail.lines
    assert (line.sku, line.quantity, line.unit_cost, line.amount) == (
        "SKU-1",
        3,
        Decimal("12.50"),
        Decimal("37.50"),
    )


def test_a_row_that_cannot_be_read_doubts_every_line() -> None:
    data = FRESHCO + b"AC-1,Bad row,two,1.00,2.00\r\n"
    detail = read_line_detail(data)
    assert len(detail.lines) == 2
    assert detail.problems == ["row 3: not a quantity: 'two'"]
    assert all(ln.confidence <= CONF_DOUBTFUL for ln in detail.lines)


def test_a_row_whose_arithmetic_disagrees_is_named() -> None:
    data = b"sku,quantity,unit_cost,amount\nA-1,10,1.00,12.00\n"
    detail = read_line_detail(data)
    assert detail.problems == ["row 1: 10 x 1.00 is not 12.00"]
    assert detail.lines[0].confidence <= CONF_DOUBTFUL


def test_amounts_are_never_rounded() -> None:
    detail = read_line_detail(b"sku,quantity,amount\nA-1,1,12.345\n")
    assert detail.lines == []
    assert detail.problems == ["row 1: more than 2 decimal places: '12.345'"]


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"", "empty"), (b"name,colour\nx,red\n", "no sku, quantity, amount column")],
)
def test_not_a_line_detail_is_refused_with_the_reason(data: bytes, reason: str) -> None:
    with pytest.raises(LineDetailError, match=reason):
        read_line_detail(data)


def test_rows_and_bytes_are_bounded() -> None:
    many = b"sku,quantity,amount\n" + b"A-1,1,1.00\n" * (MAX_ROWS + 5)
    detail = read_line_detail(many)
    assert len(detail.lines) == MAX_ROWS
    assert detail.problems == [f"more than {MAX_ROWS} rows: only the first {MAX_ROWS} read"]
    huge = b"sku,quantity,amount\n" + b"A-1,1,1.00\n" * (MAX_BYTES // 11 + 10)
    detail = read_line_detail(huge)
    assert any("larger than" in p for p in detail.problems)
    assert all(ln.confidence <= CONF_DOUBTFUL for ln in detail.lines)


@settings(max_examples=200)
@given(st.binary(max_size=400))
def test_any_bytes_are_read_or_refused_never_crash(data: bytes) -> None:
    try:
        detail = read_line_detail(b"sku,quantity,amount\n" + data)
    except LineDetailError:
        return
    assert len(detail.lines) <= detail.rows
