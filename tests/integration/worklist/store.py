"""A small store for the worklist tests, written through the product's own
write paths (repositories, the approval workflow): six claims on three portals
with verdicts, ERP invoices, documents, a shipment, a proposal, a comment and a
dispute. ``ids`` maps a short name to the deduction id.

=====  =========  ========  =========  ===========  ========  ============  ==========
name   portal     claim     amount     date         status    verdict       window
=====  =========  ========  =========  ===========  ========  ============  ==========
mm1    megamart   CB-1001   1234.56    2025-03-04   Open      invalid       2025-04-15
mm2    megamart   CB-1002     50.00    2025-01-10   Disputed  valid/damage  2025-06-01
mm3    megamart   CB-1003     50.00    2025-01-10   Open      valid         2025-06-01
sr1    shopright  SR-2001   9000.00    2025-02-20   open      needs_review  -
sr2    shopright  CB-1001    300.00    2025-03-01   Open      partial       2025-03-20
fc1    freshco    FC-3001    -20.00    -            Paid      (none)        -
=====  =========  ========  =========  ===========  ========  ============  ==========
"""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal
from typing import Any

from records.schemas import Category, ErpInvoiceRecord
from store.repositories import accounts, deductions, erp
from store.repositories import matching as matching_repo
from store.repositories.matching import VerdictRow
from tests.integration.store import factories
from tests.integration.store.conftest import Db

TODAY = date(2025, 3, 10)

CLAIMS: dict[str, dict[str, Any]] = {
    "mm1": {"portal": "megamart", "external_id": "CB-1001", "amount": "1234.56",
            "deduction_date": date(2025, 3, 4), "status": "Open", "category": "shortage",
            "invoice_number": "INV-5001", "po_number": "PO-777", "pro_number": "123456789",
            "bol_number": None},
    "mm2": {"portal": "megamart", "external_id": "CB-1002", "amount": "50.00",
            "deduction_date": date(2025, 1, 10), "status": "Disputed", "category": "pricing",
            "invoice_number": "INV-5002", "po_number": "PO-778", "pro_number": None,
            "bol_number": "BOL-9_1%"},
    "mm3": {"portal": "megamart", "external_id": "CB-1003", "amount": "50.00",
            "deduction_date": date(2025, 1, 10), "status": "Open", "category": "shortage",
            "invoice_number": "INV-5003", "po_number": "PO-779", "pro_number": None,
            "bol_number": None},
    "sr1": {"portal": "shopright", "external_id": "SR-2001", "amount": "9000.00",
            "deduction_date": date(2025, 2, 20), "status": "open", "category": "promotion",
            "invoice_number": "INV-6001", "po_number": "PO-888", "pro_number": None,
            "bol_number": None, "account": "sr@supplier.example"},
    "sr2": {"portal": "shopright", "external_id": "CB-1001", "amount": "300.00",
            "deduction_date": date(2025, 3, 1), "status": "Open", "category": "damage",
            "invoice_number": "INV-6002", "po_number": "PO-889", "pro_number": None,
            "bol_number": None, "account": "sr@supplier.example"},
    "fc1": {"portal": "freshco", "external_id": "FC-3001", "amount": "-20.00",
            "deduction_date": None, "status": "Paid", "category": "compliance_fine",
            "invoice_number": "INV-7001", "po_number": "", "pro_number": None,
            "bol_number": None, "account": "fc@supplier.example"},
}  # fmt: skip

VERDICTS: dict[str, tuple[str, str, date | None]] = {
    "mm1": ("invalid", "shortage", date(2025, 4, 15)),
    "mm2": ("valid", "damage", date(2025, 6, 1)),  # the matcher corrected the category
    "mm3": ("valid", "shortage", date(2025, 6, 1)),
    "sr1": ("needs_review", "promotion", None),
    "sr2": ("partial", "damage", date(2025, 3, 20)),
}

CUSTOMERS = {
    "INV-5001": "MegaMart Stores, Inc.",
    "INV-6001": "ShopRight Corporation",
    "INV-7001": "FreshCo Grocers",
}


def fill(db: Db) -> dict[str, int]:
    ids: dict[str, int] = {}
    with db.sessions() as s, s.begin():
        accounts.upsert_portal(s, "megamart", "retailer", "MegaMart Supplier Payables")
        for name, claim in CLAIMS.items():
            values = {**claim, "amount": Decimal(claim["amount"])}
            values["category"] = Category(values["category"])
            ids[name] = deductions.upsert(s, factories.deduction(**values)).id
        for number, customer in CUSTOMERS.items():
            erp.upsert_invoice(
                s,
                ErpInvoiceRecord(
                    invoice_number=number,
                    customer=customer,
                    invoice_date=date(2025, 1, 2),
                    total=Decimal("10000.00"),
                ),
            )
        matching_repo.save_verdicts(s, [verdict(ids[n], *v) for n, v in VERDICTS.items()])
    return ids


def verdict(deduction_id: int, validity: str, category: str, closes: date | None) -> VerdictRow:
    return VerdictRow(
        deduction_id=deduction_id,
        validity=validity,
        category=category,
        category_source="reason_code",
        rule="test",
        claimed_amount=Decimal("1.00"),
        current_amount=Decimal("1.00"),
        valid_amount=None,
        disputable_amount=None,
        window_closes=closes,
        reasons=[f"{validity} because the test says so"],
        evidence=[],
        missing=[],
        fingerprint=hashlib.sha256(f"{deduction_id}{validity}".encode()).hexdigest(),
    )
