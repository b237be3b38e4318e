"""Reading the store into a :class:`~matching.model.Snapshot`.

One query per table (deductions, lines, their history of amounts, linked
documents, ERP invoices and lines, promotions, ERP shipments, carrier
shipments, remittance lines and adjustments, category corrections), streamed,
then indexed in memory. No query per deduction: the cost grows with the data,
linearly. Only what a real deployment holds is read; the fixture world and its
truth are never imported.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

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
)
from store.models import (
    CategoryOverride,
    Deduction,
    DeductionHistory,
    DeductionLine,
    Document,
    DocumentLink,
    ErpInvoice,
    ErpInvoiceLine,
    ErpPromotion,
    ErpShipment,
    Portal,
    Remittance,
    RemittanceAdjustment,
    RemittanceLine,
    Shipment,
)
from store.schemas import PortalKind

STREAM = 5000  # rows per fetch when streaming large tables


def _enum(v: object) -> str:
    return str(getattr(v, "value", v) or "")


def _rows(session: Session, stmt):  # type: ignore[no-untyped-def]
    return session.execute(stmt.execution_options(yield_per=STREAM))


def load_snapshot(session: Session) -> Snapshot:
    """Everything the matcher reads, from the store, in a fixed number of queries."""
    lines: dict[int, list[Line]] = defaultdict(list)
    L = DeductionLine
    for did, sku, desc, qty, unit, amount in _rows(
        session,
        select(L.deduction_id, L.sku, L.description, L.quantity, L.unit_cost, L.amount).order_by(
            L.deduction_id, L.line_no
        ),
    ):
        lines[did].append(Line(sku, desc, qty, unit, amount))

    first_amount: dict[int, Decimal] = {}
    H = DeductionHistory
    for did, old in _rows(
        session,
        select(H.deduction_id, H.old_value).where(H.field == "amount").order_by(H.id),
    ):
        if did not in first_amount and old is not None:
            first_amount[did] = Decimal(old)

    docs: dict[int, list[Doc]] = defaultdict(list)
    for did, doc_id, role, status, fields, needs_ocr in _rows(
        session,
        select(
            DocumentLink.deduction_id,
            Document.id,
            DocumentLink.role,
            Document.extraction_status,
            Document.extracted_fields,
            Document.needs_ocr,
        )
        .join(Document, Document.id == DocumentLink.document_id)
        .where(DocumentLink.deduction_id.is_not(None))
        .order_by(DocumentLink.deduction_id, DocumentLink.id),
    ):
        docs[did].append(Doc(doc_id, _enum(role), _enum(status), fields or {}, bool(needs_ocr)))

    D = Deduction
    deductions = [
        Ded(
            id=r[0],
            portal=r[1],
            external_id=r[2],
            invoice_number=r[3] or "",
            amount=r[4],
            claimed_amount=first_amount.get(r[0], r[4]),
            reason_code=r[5] or "",
            reason_text=r[6] or "",
            stored_category=_enum(r[7]) or None,
            deduction_date=r[8],
            invoice_date=r[9],
            status=r[10] or "",
            promo_id=r[11],
            carrier=r[12],
            pro_number=r[13],
            bol_number=r[14],
            memo=r[15] or "",
            po_number=r[16] or "",
            lines=lines.get(r[0], []),
            docs=docs.get(r[0], []),
        )
        for r in _rows(
            session,
            select(
                D.id,
                D.portal,
                D.external_id,
                D.invoice_number,
                D.amount,
                D.reason_code,
                D.reason_text,
                D.category,
                D.deduction_date,
                D.invoice_date,
                D.status,
                D.promo_id,
                D.carrier,
                D.pro_number,
                D.bol_number,
                D.memo,
                D.po_number,
            ).order_by(D.id),
        )
    ]

    inv_lines: dict[int, list[tuple[str, int, Decimal]]] = defaultdict(list)
    IL = ErpInvoiceLine
    for iid, sku, qty, price in _rows(
        session,
        select(IL.invoice_id, IL.sku, IL.quantity, IL.unit_price).order_by(
            IL.invoice_id, IL.line_no
        ),
    ):
        inv_lines[iid].append((sku, qty, price))
    I = ErpInvoice  # noqa: E741
    invoices = [
        Invoice(i, num, cust, day, total, inv_lines.get(i, []), po)
        for i, num, cust, day, total, po in _rows(
            session,
            select(I.id, I.invoice_number, I.customer, I.invoice_date, I.total, I.po_number),
        )
    ]
    P = ErpPromotion
    promotions = [
        Promo(i, pid, cust, list(skus or []), start, end, rate, cap)
        for i, pid, cust, skus, start, end, rate, cap in _rows(
            session,
            select(
                P.id,
                P.promo_id,
                P.customer,
                P.skus,
                P.start_date,
                P.end_date,
                P.rate_per_unit,
                P.max_amount,
            ),
        )
    ]
    ES = ErpShipment
    erp_shipments = [
        ErpShip(*r)
        for r in _rows(
            session,
            select(
                ES.id,
                ES.shipment_id,
                ES.invoice_number,
                ES.carrier,
                ES.pro_number,
                ES.bol_number,
                ES.cases_shipped,
                ES.freight_terms,
            ),
        )
    ]
    S = Shipment
    carrier_shipments = [
        CarrierShip(
            id=r[0],
            carrier=r[1],
            pro_number=r[2],
            bol_number=r[3] or "",
            delivery_date=r[4],
            pieces_shipped=r[5],
            pieces_delivered=r[6],
            exceptions=[str(e) for e in (r[7] or [])],
            freight_terms=r[8],
            pod_status=_enum(r[9]),
            signer=r[10] or "",
        )
        for r in _rows(
            session,
            select(
                S.id,
                S.carrier,
                S.pro_number,
                S.bol_number,
                S.delivery_date,
                S.pieces_shipped,
                S.pieces_delivered,
                S.exceptions,
                S.freight_terms,
                S.pod_status,
                S.signer,
            ),
        )
    ]
    R, RL, RA = Remittance, RemittanceLine, RemittanceAdjustment
    paid_lines = [
        PaidLine(*r)
        for r in _rows(
            session,
            select(
                R.remittance_id,
                R.payment_date,
                RL.invoice_number,
                RL.invoice_amount,
                RL.paid_amount,
            ).join(RL, RL.remittance_id == R.id),
        )
    ]
    adjustments = [
        Adjustment(*r)
        for r in _rows(
            session,
            select(R.remittance_id, R.payment_date, RA.reference, RA.amount)
            .join(RL, RL.remittance_id == R.id)
            .join(RA, RA.line_id == RL.id),
        )
    ]
    CO = CategoryOverride
    overrides = {
        (portal, code, ext): cat
        for portal, code, ext, cat in _rows(
            session, select(CO.portal, CO.reason_code, CO.external_id, CO.category)
        )
    }
    carrier_portals = [
        name
        for (name,) in _rows(session, select(Portal.name).where(Portal.kind == PortalKind.carrier))
    ]
    return Snapshot(
        carrier_portals=carrier_portals,
        deductions=deductions,
        invoices=invoices,
        promotions=promotions,
        erp_shipments=erp_shipments,
        carrier_shipments=carrier_shipments,
        paid_lines=paid_lines,
        adjustments=adjustments,
        overrides=overrides,
    )


__all__ = ["load_snapshot"]
