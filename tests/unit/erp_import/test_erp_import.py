from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from store.db import init_db, session_factory
from store.erp_import import ImportRefused, import_file, read_file
from store.models import ErpInvoice, ErpInvoiceLine, ErpPromotion, ErpShipment, Remittance
from store.repositories import erp

INVOICES = """invoice_number,customer,po_number,invoice_date,due_date,ship_to,currency,total,sku,description,quantity,unit_price,amount
INV-1,MegaMart Stores Inc.,PO-1,2026-09-01,2026-10-01,DC 6094,USD,"1,200.00",SKU-1,Chips,100,6.00,600.00
INV-1,MegaMart Stores Inc.,PO-1,2026-09-01,2026-10-01,DC 6094,USD,"1,200.00",SKU-2,Pretzels,100,6.00,600.00
INV-2,FreshCo Grocers,PO-2,2026-09-03,2026-10-03,Store 0412,USD,95.10,SKU-9,"Nuts, salted",10,9.51,95.10
"""


@pytest.fixture
def db(tmp_path: Path) -> sessionmaker[Session]:
    return session_factory(init_db(f"sqlite:///{tmp_path / 'fleet.db'}"))


def _count(db: sessionmaker[Session], model: type) -> int:
    with db() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_invoice_csv_groups_lines_per_invoice(db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "invoices.csv"
    f.write_text(INVOICES)
    result = import_file(db, "invoices", f)
    assert (result.records, result.created) == (2, 2)
    assert _count(db, ErpInvoice) == 2
    assert _count(db, ErpInvoiceLine) == 3
    with db() as s:
        inv = s.scalar(select(ErpInvoice).where(ErpInvoice.invoice_number == "INV-1"))
        assert inv is not None
        assert inv.total == Decimal("1200.00")


def test_reimport_changes_nothing(db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "invoices.csv"
    f.write_text(INVOICES)
    import_file(db, "invoices", f)
    again = import_file(db, "invoices", f)
    assert (again.created, again.changed, again.unchanged) == (0, 0, 2)
    assert _count(db, ErpInvoiceLine) == 3


def test_bad_rows_refuse_the_whole_file_with_line_numbers(db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = INVOICES + (
        "INV-3,MegaMart Stores Inc.,PO-3,not a date,,,USD,10.00,SKU-1,x,1,10.00,10.00\n"
        "INV-4,MegaMart Stores Inc.,PO-4,2026-09-05,,,USD,twelve,SKU-1,x,1,10.00,10.00\n"
    )
    f = tmp_path / "invoices.csv"
    f.write_text(bad)
    with pytest.raises(ImportRefused) as err:
        import_file(db, "invoices", f)
    lines = [e.line for e in err.value.errors]
    assert lines == [5, 6]
    assert "not a date" in str(err.value)
    assert "line 6:" in str(err.value)
    assert _count(db, ErpInvoice) == 0  # nothing half-applied


def test_skip_bad_imports_the_rest_and_writes_rejects(db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "invoices.csv"
    f.write_text(INVOICES + "INV-3,MegaMart Stores Inc.,PO-3,2026-13-45,,,USD,1.00,S,x,1,1,1\n")
    result = import_file(db, "invoices", f, skip_bad=True)
    assert result.created == 2
    assert result.rejects_file is not None
    rows = list(csv.DictReader(result.rejects_file.open()))
    assert [r["line"] for r in rows] == ["5"]
    assert "INV-3" in rows[0]["raw"] or rows[0]["raw"] == ""


def test_conflicting_header_fields_in_one_invoice_are_caught(tmp_path: Path) -> None:
    f = tmp_path / "invoices.csv"
    f.write_text(
        INVOICES.replace(
            'PO-1,2026-09-01,2026-10-01,DC 6094,USD,"1,200.00",SKU-2',
            'PO-1,2026-09-01,2026-10-01,DC 6094,USD,"1,300.00",SKU-2',
        )
    )
    _, bad = read_file("invoices", f)
    assert [(e.line, "total differs from line 2" in e.message) for e in bad] == [(3, True)]


def test_missing_and_unknown_columns(tmp_path: Path) -> None:
    f = tmp_path / "p.csv"
    f.write_text("promo_id,customer\nP1,X\n")
    with pytest.raises(ImportRefused, match="missing column"):
        read_file("promotions", f)
    f.write_text("promo_id,customer,start_date,end_date,rate_per_unit,colour\n")
    with pytest.raises(ImportRefused, match="unknown column"):
        read_file("promotions", f)


def test_duplicate_keys_in_one_file(tmp_path: Path) -> None:
    f = tmp_path / "s.csv"
    f.write_text("shipment_id,pro_number\nS1,1234567\nS1,7654321\n")
    _, bad = read_file("shipments", f)
    assert [str(e) for e in bad] == ["line 3: duplicate of the record on line 2"]


def test_promotions_and_shipments_json(db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    promos = tmp_path / "promotions.json"
    promos.write_text(
        json.dumps(
            [
                {
                    "promo_id": "PR-1",
                    "customer": "FreshCo Grocers",
                    "skus": ["SKU-9"],
                    "start_date": "2026-07-01",
                    "end_date": "2026-07-31",
                    "rate_per_unit": "2.00",
                    "max_amount": "5000.00",
                },
            ],
            indent=1,
        )
    )
    ships = tmp_path / "shipments.json"
    ships.write_text(
        json.dumps(
            {
                "shipments": [
                    {
                        "shipment_id": "SH-1",
                        "invoice_number": "INV-1",
                        "carrier": "haulstar",
                        "pro_number": "1234567",
                        "bol_number": "BOL-1",
                        "ship_date": "2026-09-01",
                        "cases_shipped": 40,
                        "freight_terms": "prepaid",
                    },
                ]
            }
        )
    )
    assert import_file(db, "promotions", promos).created == 1
    assert import_file(db, "shipments", ships).created == 1
    assert _count(db, ErpPromotion) == 1
    assert _count(db, ErpShipment) == 1


def test_json_errors_name_the_line_of_the_item(tmp_path: Path) -> None:
    f = tmp_path / "promotions.json"
    f.write_text(
        '[\n {"promo_id": "P1", "customer": "C", "start_date": "2026-07-01",\n'
        '  "end_date": "2026-07-31", "rate_per_unit": "2.00"},\n'
        ' {"promo_id": "P2", "customer": "C", "start_date": "2026-08-01",\n'
        '  "end_date": "2026-07-01", "rate_per_unit": "2.00"}\n]\n'
    )
    good, bad = read_file("promotions", f)
    assert [ln for ln, _ in good] == [2]
    assert [e.line for e in bad] == [4]
    assert "ends" in bad[0].message


def test_remittance_csv_with_adjustments(db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "remittances.csv"
    f.write_text(
        "remittance_id,customer,payment_date,total_paid,currency,invoice_number,invoice_amount,"
        "paid_amount,adjustment_reference,adjustment_reason,adjustment_amount\n"
        "CHK-1,MegaMart Stores Inc.,2026-10-15,1034.56,USD,INV-1,1200.00,1034.56,4023344501,22,"
        "165.44\n"
        "CHK-1,MegaMart Stores Inc.,2026-10-15,1034.56,USD,,,,CB12345,,50.00\n"
    )
    good, bad = read_file("remittances", f)
    assert bad == []
    ((_, rem),) = good
    assert rem.lines[0].adjustments[0].reference == "4023344501"
    floating = next(ln for ln in rem.lines if ln.invoice_number == "")
    assert [a.reference for a in floating.adjustments] == ["CB12345"]
    import_file(db, "remittances", f)
    with db() as s:
        assert [a.amount for a in erp.adjustments_referencing(s, "4023344501")] == [
            Decimal("165.44")
        ]


EDI_820 = (
    "ISA*00*          *00*          *ZZ*MEGAMART       *ZZ*ACMESNACKS     *261101*1200*U*00401*"
    "000000001*0*P*>~GS*RA*MEGAMART*ACMESNACKS*20261101*1200*1*X*004010~"
    "ST*820*0001~BPR*C*1034.56*C*ACH*CTX*01*999999999*DA*123456*1234567890**01*888888888*DA*"
    "654321*20261015~TRN*1*EFT0001*1234567890~N1*PR*MEGAMART STORES INC~N1*PE*ACME SNACKS CO~"
    "ENT*1~ADX*50.00*CB*CB*CB12345~RMR*IV*INV-1**1034.56*1200.00~ADX*165.44*22*CB*4023344501~"
    "SE*10*0001~GE*1*1~IEA*1*000000001~"
)


def test_x12_820_remittance(db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "remit.820"
    f.write_text(EDI_820)
    good, bad = read_file("remittances", f)
    assert bad == []
    ((_, rem),) = good
    assert rem.remittance_id == "EFT0001"
    assert rem.customer == "MEGAMART STORES INC"
    assert str(rem.payment_date) == "2026-10-15"
    assert rem.total_paid == Decimal("1034.56")
    inv_line = next(ln for ln in rem.lines if ln.invoice_number == "INV-1")
    assert inv_line.adjustments[0].reference == "4023344501"
    floating = next(ln for ln in rem.lines if ln.invoice_number == "")
    assert floating.adjustments[0].reference == "CB12345"
    assert import_file(db, "remittances", f).created == 1
    assert _count(db, Remittance) == 1


def test_x12_not_820_or_broken_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "x.edi"
    f.write_text(EDI_820.replace("ST*820*0001", "ST*810*0001"))
    _, bad = read_file("remittances", f)
    assert any("not 820" in e.message for e in bad)
    f.write_text(EDI_820.replace("BPR*C*1034.56", "BPR*C*lots"))
    _, bad = read_file("remittances", f)
    assert [e.message for e in bad] == [
        "interchange 000000001 (#1), group 1, transaction 0001, segment 4 (BPR, line 1), "
        "element BPR02: 'lots' is not a decimal number"
    ]
    assert bad[0].raw.startswith("BPR*C*lots*C*ACH")
    with pytest.raises(ImportRefused, match="X12 files here are remittances"):
        read_file("invoices", f)


def test_not_utf8_is_a_clear_refusal(tmp_path: Path) -> None:
    f = tmp_path / "i.csv"
    f.write_bytes(b"invoice_number,customer,invoice_date,total\nINV-\xff,C,2026-01-01,1\n")
    with pytest.raises(ImportRefused, match="not UTF-8"):
        read_file("invoices", f)
