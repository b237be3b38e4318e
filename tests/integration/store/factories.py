"""Small builders for store records (typed, as records.normalize would hand them)."""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal
from typing import Any

from records.schemas import (
    Category,
    DeductionLineRecord,
    DeductionRecord,
    DocumentRecord,
    ShipmentRecord,
)


def deduction(external_id: str = "CB-1001", **overrides: Any) -> DeductionRecord:
    values: dict[str, Any] = {
        "portal": "megamart",
        "external_id": external_id,
        "account": "ap@supplier.example",
        "invoice_number": "INV-5001",
        "po_number": "PO-777",
        "location": "DC 6094",
        "amount": Decimal("1234.56"),
        "currency": "USD",
        "reason_code": "24",
        "reason_text": "Carton shortage / freight bill signed short",
        "category": Category.shortage,
        "deduction_date": date(2025, 3, 4),
        "invoice_date": date(2025, 2, 1),
        "status": "Open",
        "carrier": "haulstar",
        "pro_number": "123456789",
        "memo": "short 3 cs",
        "lines": [
            DeductionLineRecord(
                sku="SKU-1", quantity=3, unit_cost=Decimal("10.00"), amount=Decimal("30.00")
            ),
        ],
        "raw": {"Claim #": external_id, "Amount": "$1,234.56"},
    }
    values.update(overrides)
    return DeductionRecord(**values)


def shipment(pro: str = "123456789", **overrides: Any) -> ShipmentRecord:
    values: dict[str, Any] = {
        "carrier": "haulstar",
        "pro_number": pro,
        "bol_number": "BOL-1",
        "po_numbers": ["PO-777"],
        "consignee": "MegaMart DC 6094",
        "ship_date": date(2025, 1, 28),
        "delivery_date": date(2025, 1, 30),
        "pieces_shipped": 40,
        "pieces_delivered": 37,
        "exceptions": ["SHORT 3 CS"],
        "signer": "J. DOE",
    }
    values.update(overrides)
    return ShipmentRecord(**values)


def document(content: bytes = b"%PDF-1.4 backup", **overrides: Any) -> DocumentRecord:
    sha = hashlib.sha256(content).hexdigest()
    values: dict[str, Any] = {
        "sha256": sha,
        "size_bytes": len(content),
        "media_type": "application/pdf",
        "original_filename": "claim CB-1001.pdf",
        "vault_path": f"{sha[:2]}/{sha}",
    }
    values.update(overrides)
    return DocumentRecord(**values)
