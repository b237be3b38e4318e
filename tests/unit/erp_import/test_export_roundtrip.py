"""The fixture world's ERP export goes through the real import unchanged."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from fixtures.erp_export import export_erp
from fixtures.scenario import (
    ErpExtract,
    ErpInvoice,
    ErpInvoiceLine,
    ErpPromotion,
    ErpRemittance,
    ErpShipment,
    RemittanceAdjustment,
    RemittanceLine,
)
from store.erp_import import read_file

ERP = ErpExtract(
    invoices=[
        ErpInvoice(
            invoice_number="INV-1",
            customer="MegaMart Stores, Inc.",
            po_number="PO-1",
            invoice_date=date(2026, 9, 1),
            due_date=date(2026, 10, 1),
            ship_to="DC 6094",
            lines=[
                ErpInvoiceLine(
                    sku="S1",
                    description='Chips, "big"',
                    quantity=10,
                    unit_price=Decimal("6.00"),
                    amount=Decimal("60.00"),
                ),
                ErpInvoiceLine(
                    sku="S2", quantity=1, unit_price=Decimal("5.00"), amount=Decimal("5.00")
                ),
            ],
            total=Decimal("65.00"),
        ),
        ErpInvoice(
            invoice_number="INV-2",
            customer="FreshCo Grocers",
            invoice_date=date(2026, 9, 2),
            due_date=date(2026, 10, 2),
            total=Decimal("10.00"),
        ),
    ],
    promotions=[
        ErpPromotion(
            promo_id="PR-1",
            customer="FreshCo Grocers",
            skus=["S1", "S2"],
            start_date=date(2026, 7, 1),
            end_date=date(2026, 7, 31),
            rate_per_unit=Decimal("2.00"),
            max_amount=Decimal("500.00"),
        )
    ],
    shipments=[
        ErpShipment(
            shipment_id="SH-1",
            invoice_number="INV-1",
            customer="MegaMart",
            carrier="haulstar",
            pro_number="1234567",
            bol_number="BOL-1",
            ship_date=date(2026, 9, 1),
            cases_shipped=40,
        )
    ],
    remittances=[
        ErpRemittance(
            remittance_id="EFT-9",
            customer="MegaMart Stores, Inc.",
            payment_date=date(2026, 10, 15),
            total_paid=Decimal("40.00"),
            lines=[
                RemittanceLine(
                    invoice_number="INV-1",
                    invoice_amount=Decimal("65.00"),
                    paid_amount=Decimal("40.00"),
                    adjustments=[
                        RemittanceAdjustment(
                            reference="4023344501", reason_code="22", amount=Decimal("25.00")
                        )
                    ],
                ),
                RemittanceLine(
                    invoice_number="",
                    invoice_amount=Decimal("0"),
                    paid_amount=Decimal("0"),
                    adjustments=[RemittanceAdjustment(reference="CB12345", amount=Decimal("5.00"))],
                ),
            ],
        )
    ],
)


def test_every_exported_file_imports_clean(tmp_path: Path) -> None:
    paths = export_erp(ERP, tmp_path)
    counts = {}
    for kind, key in [
        ("invoices", "invoices"),
        ("promotions", "promotions"),
        ("shipments", "shipments"),
        ("remittances", "remittances"),
        ("remittances", "remittances_820"),
    ]:
        good, bad = read_file(kind, paths[key])  # type: ignore[arg-type]
        assert bad == [], (key, bad)
        counts[key] = len(good)
    assert counts == {
        "invoices": 2,
        "promotions": 1,
        "shipments": 1,
        "remittances": 1,
        "remittances_820": 1,
    }


def test_values_survive_the_trip(tmp_path: Path) -> None:
    paths = export_erp(ERP, tmp_path)
    (_, inv1), _ = read_file("invoices", paths["invoices"])[0]
    assert inv1.invoice_number == "INV-1"
    assert [ln.description for ln in inv1.lines] == ['Chips, "big"', ""]
    for key in ("remittances", "remittances_820"):
        ((_, rem),), _ = read_file("remittances", paths[key])
        assert rem.total_paid == Decimal("40.00")
        refs = sorted(a.reference for ln in rem.lines for a in ln.adjustments)
        assert refs == ["4023344501", "CB12345"]
