"""Reading the store into a :class:`~matching.model.Snapshot`.

One query per table (deductions, lines, their history of amounts, linked
documents, ERP invoices and lines, promotions, ERP shipments, carrier
shipments, remittance lines and adjustments, category corrections), streamed,
then indexed in memory. No query per deduction: the cost grows with the data,
linearly. Only what a real deployment holds is read; the fixture world and its
truth are never imported.

An incremental run passes ``deduction_ids`` (a scope closed under "same claim
on the same invoice", see matching/changes.py): then only those deductions,
their lines, history and documents, and the ERP invoices they name are read,
in chunks of ids; the smaller shared tables are read whole.

A claim the portal shows without lines takes them from its documents (a CSV
line detail, else the backup's table) when they were read with confidence and
add up to the claim: :meth:`matching.model.Ded.take_document_lines`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterator
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import QueryableAttribute, Session

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
from records.schemas import PortalKind
from store.db import plain_rows
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

STREAM = 5000  # rows per fetch when streaming large tables


def _enum(v: object) -> str:
    return str(getattr(v, "value", v) or "")


AnySelect = Select[*tuple[Any, ...]]  # a SELECT of any columns
CHUNK = 500  # ids per IN (...) when reading a scope


def _rows(session: Session, stmt: AnySelect) -> Iterator[tuple[Any, ...]]:
    return plain_rows(session.execute(stmt.execution_options(yield_per=STREAM)))


def chunks(keys: Collection[Any]) -> Iterator[list[Any]]:
    """``keys`` sorted, ``CHUNK`` at a time (for ``IN (...)`` lists)."""
    ordered = sorted(keys)
    for i in range(0, len(ordered), CHUNK):
        yield ordered[i : i + CHUNK]


def _scoped(
    session: Session,
    stmt: AnySelect,
    column: QueryableAttribute[Any],
    keys: Collection[Any] | None,
) -> Iterator[Any]:
    """``stmt``'s rows, or, with ``keys``, only rows whose ``column`` is one of them
    (one query per chunk; each key's rows come from one chunk, in ``stmt``'s order)."""
    if keys is None:
        yield from _rows(session, stmt)
        return
    for chunk in chunks(keys):
        yield from _rows(session, stmt.where(column.in_(chunk)))


def load_snapshot(session: Session, deduction_ids: Collection[int] | None = None) -> Snapshot:
    """Everything the matcher reads, from the store, in a fixed number of queries
    (or, for a scope of deductions, what judging those needs)."""
    scope = None if deduction_ids is None else set(deduction_ids)
    lines: dict[int, list[Line]] = defaultdict(list)
    L = DeductionLine
    for did, sku, desc, qty, unit, amount in _scoped(
        session,
        select(L.deduction_id, L.sku, L.description, L.quantity, L.unit_cost, L.amount).order_by(
            L.deduction_id, L.line_no
        ),
        L.deduction_id,
        scope,
    ):
        lines[did].append(Line(sku, desc, qty, unit, amount))

    first_amount: dict[int, Decimal] = {}
    H = DeductionHistory
    for did, old in _scoped(
        session,
        select(H.deduction_id, H.old_value).where(H.field == "amount").order_by(H.id),
        H.deduction_id,
        scope,
    ):
        if did not in first_amount and old is not None:
            first_amount[did] = Decimal(old)

    docs: dict[int, list[Doc]] = defaultdict(list)
    for did, doc_id, role, status, fields, needs_ocr, name, reason in _scoped(
        session,
        select(
            DocumentLink.deduction_id,
            Document.id,
            DocumentLink.role,
            Document.extraction_status,
            Document.extracted_fields,
            Document.needs_ocr,
            Document.original_filename,
            Document.extraction_reason,
        )
        .join(Document, Document.id == DocumentLink.document_id)
        .where(DocumentLink.deduction_id.is_not(None))
        .order_by(DocumentLink.deduction_id, DocumentLink.id),
        DocumentLink.deduction_id,
        scope,
    ):
        docs[did].append(
            Doc(
                doc_id,
                _enum(role),
                _enum(status),
                fields or {},
                bool(needs_ocr),
                (name or "")[:200],
                reason or "",
            )
        )

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
        for r in _scoped(
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
            D.id,
            scope,
        )
    ]

    for d in deductions:
        d.take_document_lines()

    I = ErpInvoice  # noqa: E741
    numbers = None if scope is None else {d.invoice_number for d in deductions}
    heads = list(
        _scoped(
            session,
            select(I.id, I.invoice_number, I.customer, I.invoice_date, I.total, I.po_number),
            I.invoice_number,
            numbers,
        )
    )
    inv_lines: dict[int, list[tuple[str, int, Decimal]]] = defaultdict(list)
    IL = ErpInvoiceLine
    for iid, sku, qty, price in _scoped(
        session,
        select(IL.invoice_id, IL.sku, IL.quantity, IL.unit_price).order_by(
            IL.invoice_id, IL.line_no
        ),
        IL.invoice_id,
        None if scope is None else {h[0] for h in heads},
    ):
        inv_lines[iid].append((sku, qty, price))
    invoices = [
        Invoice(i, num, cust, day, total, inv_lines.get(i, []), po)
        for i, num, cust, day, total, po in heads
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


__all__ = ["chunks", "load_snapshot"]
