"""Field extraction: the real invoices' numbers, dates and totals; the fixture world's
backup and POD labels (rendered to PDF with fpdf2 as the world does); odd formats."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from records.parse import find_amount, find_date
from store.extraction import (
    PdfExtractor,
    extract_backup_fields,
    extract_invoice_fields,
    extract_pod_fields,
)

from .conftest import REAL_PDFS

COMPARE = REAL_PDFS / "invoice2data" / "compare"
INVOICES = sorted(COMPARE.glob("*.json")) if COMPARE.is_dir() else []


@pytest.mark.parametrize("expected_json", INVOICES, ids=[p.stem for p in INVOICES])
def test_real_invoices_number_date_total_currency(
    extractor: PdfExtractor, expected_json: Path
) -> None:
    expected = json.loads(expected_json.read_text())[0]
    pdf = expected_json.with_suffix(".pdf")
    if pdf.exists():
        result = extractor.extract(pdf.read_bytes(), layout=True)
        assert result.ok
        text = result.layout_text
    else:  # Orlen is text only
        text = expected_json.with_suffix(".txt").read_text()
    fields = extract_invoice_fields(text)

    assert fields.invoice_date is not None
    assert fields.invoice_date.value.isoformat() == expected["date"]
    if "amount" in expected:
        assert fields.total is not None
        assert fields.total.value == Decimal(str(expected["amount"])).quantize(Decimal("0.01"))
    assert fields.currency is not None
    assert fields.currency.value == expected["currency"]
    if expected_json.stem == "Orlen":
        # invoice2data's template keeps only "F" of "F 1234K20/1234/12"; we do not guess.
        return
    assert fields.invoice_number is not None
    # '#BLR_...' in the JSON is '# BLR_...' on the page; the '#' is not part of the number.
    assert fields.invoice_number.value == expected["invoice_number"].lstrip("#")
    for f in (fields.invoice_number, fields.invoice_date, fields.currency):
        assert 0 < f.confidence <= 1


# --------------------------------------------------------------------------- fixture-like

BACKUP_TEXT = """MegaMart Stores Inc.                 DEBIT MEMO
Claim Number: MM-CLM-004417
Claim Date: 03/14/2026
Invoice Number: INV-2026-0192
Invoice Date: 02/27/2026
PO Number: 4500123987
Store/DC: DC 6012
Reason Code: 426 - Shortage
Amount: $1,234.56

SKU         Description               Qty   Unit Cost     Amount
SKU-1001    Crunchy Oats 12oz          10      12.00        120.00
SKU-1002    Honey Puffs 18oz            3      371.52      1,114.56
Total                                                     1,234.56
"""

POD_TEXT = """FASTFREIGHT LTL - DELIVERY RECEIPT
PRO Number: 40012345
BOL Number: BOL-778812
PO Number: 4500123987
Shipper: Acme Foods Co.
Consignee: MegaMart DC 6012
Ship Date: 2026-02-25
Delivery Date: 2026-02-27
Pieces Shipped: 40
Pieces Delivered: 37
Weight: 1,220 lb
Freight Terms: Prepaid
Exceptions: SHORT 3 CS; 2 CS DAMAGED
Signed: J. RAMIREZ
"""


def _fpdf(text: str) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    for line in text.splitlines():
        pdf.cell(0, 5, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


@pytest.fixture(params=["plain-text", "pdf-plain", "pdf-layout"])
def as_seen(request: pytest.FixtureRequest, extractor: PdfExtractor):  # type: ignore[no-untyped-def]
    """The same document as text, or as a PDF read back in plain or layout mode."""

    def render(text: str) -> str:
        if request.param == "plain-text":
            return text
        result = extractor.extract(_fpdf(text), layout=request.param == "pdf-layout")
        assert result.ok
        return result.layout_text if request.param == "pdf-layout" else result.text

    return render


def test_backup_fields(as_seen) -> None:  # type: ignore[no-untyped-def]
    f = extract_backup_fields(as_seen(BACKUP_TEXT))
    values = f.values()
    assert values["claim_number"] == "MM-CLM-004417"
    assert values["invoice_number"] == "INV-2026-0192"
    assert values["po_number"] == "4500123987"
    assert values["amount"] == Decimal("1234.56")
    assert values["reason_code"] == "426"
    assert values["reason_text"] == "Shortage"
    assert values["claim_date"] == date(2026, 3, 14)
    assert values["invoice_date"] == date(2026, 2, 27)
    assert values["location"] == "DC 6012"
    assert values["currency"] == "USD"
    assert [(li.sku, li.quantity, li.unit_cost, li.amount) for li in f.lines] == [
        ("SKU-1001", 10, Decimal("12.00"), Decimal("120.00")),
        ("SKU-1002", 3, Decimal("371.52"), Decimal("1114.56")),
    ]
    assert f.lines[0].description == "Crunchy Oats 12oz"
    assert f.claim_number is not None
    assert f.claim_number.confidence >= 0.9


def test_pod_fields(as_seen) -> None:  # type: ignore[no-untyped-def]
    f = extract_pod_fields(as_seen(POD_TEXT))
    values = f.values()
    assert values["pro_number"] == "40012345"
    assert values["bol_number"] == "BOL-778812"
    assert values["po_numbers"] == ["4500123987"]
    assert values["shipper"] == "Acme Foods Co."
    assert values["consignee"] == "MegaMart DC 6012"
    assert values["pieces_shipped"] == 40
    assert values["pieces_delivered"] == 37
    assert values["weight_lb"] == 1220
    assert values["exceptions"] == ["SHORT 3 CS", "2 CS DAMAGED"]
    assert values["signer"] == "J. RAMIREZ"
    assert values["delivery_date"] == date(2026, 2, 27)
    assert values["ship_date"] == date(2026, 2, 25)
    assert values["freight_terms"] == "prepaid"
    assert f.pieces_short == 3
    assert not f.slc


def test_pod_without_exceptions_and_with_slc() -> None:
    text = (
        "PRO #: 9988776\nBOL Number: 55123\nShipper Load and Count\nPieces Shipped: 12\n"
        "Pieces Delivered: 12\nExceptions: NONE\nSigned: \nCollect"
    )
    f = extract_pod_fields(text)
    assert f.pro_number is not None
    assert f.pro_number.value == "9988776"
    assert f.exceptions == []
    assert f.signer is None
    assert f.slc
    assert f.freight_terms is not None
    assert f.freight_terms.value == "collect"
    assert f.pieces_short == 0


def test_nothing_to_read_gives_empty_fields() -> None:
    for text in ("", "\x00\x00", "lorem ipsum " * 1000, "Claim Number:\nAmount:"):
        b = extract_backup_fields(text)
        assert b.claim_number is None
        assert b.amount is None
        assert b.lines == []
        p = extract_pod_fields(text)
        assert p.pro_number is None
        assert p.exceptions == []


def test_labels_in_running_text_do_not_count() -> None:
    f = extract_invoice_fields("Order Date: 15-10-2015\nInvoice Date: 20-10-2015\n")
    assert f.invoice_date is not None
    assert f.invoice_date.value == date(2015, 10, 20)


# --------------------------------------------------------------------------- normalisers


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("$1,234.56", "1234.56"),
        ("1.234,56 €", "1234.56"),
        ("€ 4.904,94", "4904.94"),
        ("Rs 1939", "1939.00"),
        ("(1,234.56)", "-1234.56"),
        ("1234.56-", "-1234.56"),
        ("-9,32", "-9.32"),
        ("56,02 €", "56.02"),
        ("USD 12", "12.00"),
        ("1'234.50", "1234.50"),
        ("3.441.812", "3441812.00"),
        ("0,75 €", "0.75"),
        ("  29.99  € TTC", "29.99"),
    ],
)
def test_find_amount(raw: str, expected: str) -> None:
    assert find_amount(raw) == Decimal(expected)


def test_find_amount_nothing() -> None:
    assert find_amount("") is None
    assert find_amount("n/a") is None
    assert find_amount("9" * 30) is None  # not money: out of range


@pytest.mark.parametrize(
    ("raw", "kwargs", "expected"),
    [
        ("2026-09-03", {}, date(2026, 9, 3)),
        ("03/20/2023", {}, date(2023, 3, 20)),
        ("28/11/2022", {}, date(2022, 11, 28)),
        ("03/04/25", {}, date(2025, 3, 4)),
        ("03/04/25", {"dayfirst": True}, date(2025, 4, 3)),
        ("8-9-2022", {}, date(2022, 8, 9)),
        ("8-9-2022", {"dayfirst": True}, date(2022, 9, 8)),
        ("21.05.14", {}, date(2014, 5, 21)),
        ("7. Mai 2014", {}, date(2014, 5, 7)),
        ("August 3 , 2014", {}, date(2014, 8, 3)),
        ("Jan 1, 2022", {}, date(2022, 1, 1)),
        ("02 Juillet 2015", {}, date(2015, 7, 2)),
        ("29 maart 2014", {}, date(2014, 3, 29)),
        ("03-SEP-2026", {}, date(2026, 9, 3)),
        ("1er janvier 2024", {}, date(2024, 1, 1)),
    ],
)
def test_find_date(raw: str, kwargs: dict[str, bool], expected: date) -> None:
    found = find_date(raw, **kwargs)
    assert found is not None
    assert found.value == expected


def test_find_date_rejects_impossible_dates() -> None:
    assert find_date("31/02/2024") is None
    assert find_date("no date here") is None
