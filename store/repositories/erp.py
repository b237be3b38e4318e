"""ERP extracts: invoices, promotions, shipments, remittances.

Keys: invoice (customer, invoice_number), promotion promo_id, shipment
shipment_id, remittance remittance_id. Re-importing the same extract changes
nothing; a changed record replaces the row (and its lines) and the result lists
what changed. Idempotent, safe to retry and under concurrency; none commits.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from records.schemas import (
    ErpInvoiceRecord,
    ErpPromotionRecord,
    ErpShipmentRecord,
    RemittanceRecord,
)
from store.db import json_dumps
from store.models import (
    ErpInvoice,
    ErpInvoiceLine,
    ErpPromotion,
    ErpShipment,
    Remittance,
    RemittanceAdjustment,
    RemittanceLine,
    table_of,
    utcnow,
)
from store.repositories._common import UpsertResult
from store.repositories._keyed import keyed_upsert, stored_columns

INV = table_of(ErpInvoice)
INV_L = table_of(ErpInvoiceLine)
PROMO = table_of(ErpPromotion)
SHIP = table_of(ErpShipment)
REM = table_of(Remittance)
REM_L = table_of(RemittanceLine)
REM_A = table_of(RemittanceAdjustment)


def _raw(raw: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json_dumps(raw))


def _money(v: Any) -> str | None:
    return None if v is None else str(v)


def _times(now: Any) -> dict[str, Any]:
    return {"extra": {"updated_at": now}, "on_create": {"imported_at": now}}


# --------------------------------------------------------------------------- invoices

_INV_FIELDS = ["po_number", "invoice_date", "due_date", "ship_to", "currency", "total", "raw"]


def upsert_invoice(session: Session, record: ErpInvoiceRecord) -> UpsertResult:
    tracked: dict[str, Any] = {f: getattr(record, f) for f in _INV_FIELDS}
    tracked["raw"] = _raw(record.raw)
    tracked["lines"] = [
        [x.sku, x.description, x.quantity, _money(x.unit_price), _money(x.amount)]
        for x in record.lines
    ]

    def stored(i: int) -> dict[str, Any]:
        values = stored_columns(session, INV, i, _INV_FIELDS)
        values["lines"] = [
            [r.sku, r.description, r.quantity, _money(r.unit_price), _money(r.amount)]
            for r in session.execute(
                select(INV_L).where(INV_L.c.invoice_id == i).order_by(INV_L.c.line_no)
            )
        ]
        return values

    def write(i: int) -> None:
        if record.lines:
            session.execute(
                INV_L.insert(),
                [
                    {"invoice_id": i, "line_no": n, **x.model_dump()}
                    for n, x in enumerate(record.lines, start=1)
                ],
            )

    return keyed_upsert(
        session,
        INV,
        {"customer": record.customer, "invoice_number": record.invoice_number},
        tracked,
        stored=stored,
        children=("lines", INV_L, "invoice_id", write),
        **_times(utcnow()),
    )


# --------------------------------------------------------------------------- promotions

_PROMO_FIELDS = [
    "customer",
    "description",
    "skus",
    "start_date",
    "end_date",
    "rate_per_unit",
    "max_amount",
    "raw",
]


def upsert_promotion(session: Session, record: ErpPromotionRecord) -> UpsertResult:
    tracked: dict[str, Any] = {f: getattr(record, f) for f in _PROMO_FIELDS}
    tracked["skus"] = list(record.skus)
    tracked["raw"] = _raw(record.raw)
    return keyed_upsert(
        session,
        PROMO,
        {"promo_id": record.promo_id},
        tracked,
        stored=lambda i: stored_columns(session, PROMO, i, _PROMO_FIELDS),
        **_times(utcnow()),
    )


# --------------------------------------------------------------------------- shipments

_SHIP_FIELDS = [
    "invoice_number",
    "po_number",
    "customer",
    "carrier",
    "pro_number",
    "bol_number",
    "ship_date",
    "cases_shipped",
    "freight_terms",
    "raw",
]


def upsert_shipment(session: Session, record: ErpShipmentRecord) -> UpsertResult:
    tracked: dict[str, Any] = {f: getattr(record, f) for f in _SHIP_FIELDS}
    tracked["raw"] = _raw(record.raw)
    return keyed_upsert(
        session,
        SHIP,
        {"shipment_id": record.shipment_id},
        tracked,
        stored=lambda i: stored_columns(session, SHIP, i, _SHIP_FIELDS),
        **_times(utcnow()),
    )


# --------------------------------------------------------------------------- remittances

_REM_FIELDS = ["customer", "payment_date", "total_paid", "currency", "raw"]


def _rem_adj(reference: str, reason: str, amount: Any, qualifier: str) -> list[Any]:
    return [reference, reason, _money(amount), qualifier]


def _rem_line(
    invoice: str, billed: Any, paid: Any, qualifier: str, reference: str, adjustments: list
) -> list[Any]:
    """A remittance line as content: what a re-import compares."""
    return [invoice, _money(billed), _money(paid), qualifier, reference, adjustments]


def upsert_remittance(session: Session, record: RemittanceRecord) -> UpsertResult:
    """A remittance with its lines and adjustments (X12 820 RMR / ADX)."""
    tracked: dict[str, Any] = {f: getattr(record, f) for f in _REM_FIELDS}
    tracked["raw"] = _raw(record.raw)
    tracked["lines"] = [
        _rem_line(
            x.invoice_number,
            x.invoice_amount,
            x.paid_amount,
            x.qualifier,
            x.reference,
            [
                _rem_adj(a.reference, a.reason_code, a.amount, a.reference_qualifier)
                for a in x.adjustments
            ],
        )
        for x in record.lines
    ]

    def stored(i: int) -> dict[str, Any]:
        values = stored_columns(session, REM, i, _REM_FIELDS)
        lines = session.execute(
            select(REM_L).where(REM_L.c.remittance_id == i).order_by(REM_L.c.line_no)
        ).all()
        adjustments: dict[int, list[list[Any]]] = {}
        if lines:
            for a in session.execute(
                select(REM_A)
                .where(REM_A.c.line_id.in_([r.id for r in lines]))
                .order_by(REM_A.c.line_id, REM_A.c.adj_no)
            ):
                adjustments.setdefault(a.line_id, []).append(
                    _rem_adj(a.reference, a.reason_code, a.amount, a.reference_qualifier)
                )
        values["lines"] = [
            _rem_line(
                r.invoice_number,
                r.invoice_amount,
                r.paid_amount,
                r.qualifier,
                r.reference,
                adjustments.get(r.id, []),
            )
            for r in lines
        ]
        return values

    def write(i: int) -> None:
        for n, x in enumerate(record.lines, start=1):
            line_id: int = session.execute(
                REM_L.insert()
                .values(
                    remittance_id=i,
                    line_no=n,
                    invoice_number=x.invoice_number,
                    invoice_amount=x.invoice_amount,
                    paid_amount=x.paid_amount,
                    qualifier=x.qualifier,
                    reference=x.reference,
                )
                .returning(REM_L.c.id)
            ).scalar_one()
            if x.adjustments:
                session.execute(
                    REM_A.insert(),
                    [
                        {"line_id": line_id, "adj_no": k, **a.model_dump()}
                        for k, a in enumerate(x.adjustments, start=1)
                    ],
                )

    return keyed_upsert(
        session,
        REM,
        {"remittance_id": record.remittance_id},
        tracked,
        stored=stored,
        children=("lines", REM_L, "remittance_id", write),
        **_times(utcnow()),
    )


def adjustments_referencing(session: Session, reference: str) -> list[RemittanceAdjustment]:
    """Remittance adjustments that name ``reference`` (e.g. a deduction id):
    how a free-floating 820 adjustment is tied to a portal deduction."""
    return list(
        session.execute(
            select(RemittanceAdjustment).where(RemittanceAdjustment.reference == reference)
        ).scalars()
    )


__all__ = [
    "adjustments_referencing",
    "upsert_invoice",
    "upsert_promotion",
    "upsert_remittance",
    "upsert_shipment",
]
