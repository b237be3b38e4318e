"""Filling a store from a generated scenario through the store's own write paths,
as the robots and the ERP import would, so the matcher can be judged against
the scenario's truth without ever seeing it.

* deductions: ``deductions.upsert_many`` with what the portal shows; the first
  observation as posted, then each revision the world applied by ``as_of`` (so
  ``deduction_history`` holds the retailer's changes, as a daily sync sees them);
  megamart's list shows no promotion number (it is on the backup and deal sheet);
  freshco's shows no lines (they are in its CSV line detail, loaded with them);
* documents: registered with the fields extraction reads from them (backup:
  claim, invoice, amount, PRO/BOL, promotion number; line detail: its lines;
  image-only and damaged PDFs give no fields), linked by role; only those the
  portal serves by the evidence date;
* shipments: what the carrier adapter stores (``shipments.upsert``); a POD not
  imaged by the evidence date leaves ``pod_status`` not_available and no
  delivered count or exceptions;
* ERP: ``fixtures.erp_export.export_erp`` then ``store.erp_import.import_file``.

``evidence="as_of"`` is the store on the world's day; ``"complete"`` is the
store once the robots have fetched every document and POD that will ever exist.
"""

from __future__ import annotations

import hashlib
import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

from sqlalchemy.orm import Session, sessionmaker

from fixtures.erp_export import export_erp
from fixtures.scenario import Deduction, Scenario
from records.normalize import portal_rules
from records.schemas import (
    DeductionLineRecord,
    DeductionRecord,
    DocumentRecord,
    ExtractionStatus,
    PodStatus,
    ShipmentRecord,
)
from store.erp_import import import_file
from store.repositories import deductions as deductions_repo
from store.repositories import documents as documents_repo
from store.repositories import shipments as shipments_repo

Evidence = Literal["as_of", "complete"]
FAR = timedelta(days=3650)
LINES_ONLY_IN_DOCUMENTS = ("freshco",)
"""Portals whose claim pages show no lines (FreshCo serves them as a CSV line
detail): their claims get lines only from that document, as in a robot's store."""
ROLE = {
    "backup": "backup",
    "deal_sheet": "deal_sheet",
    "line_detail": "line_detail",
    "remittance": "remittance",
    "pod": "pod",
    "bol": "bol",
}


def _record(sc: Scenario, d: Deduction, amount, status: str) -> DeductionRecord:  # type: ignore[no-untyped-def]
    rules = portal_rules(d.portal)
    carrier = d.carrier
    if carrier and d.portal == "megamart":
        carrier = sc.portals[carrier].display_name  # megamart prints the carrier's name
    return DeductionRecord(
        portal=d.portal,
        external_id=d.deduction_id,
        account=d.account,
        invoice_number=d.invoice_number,
        po_number=d.po_number,
        location=d.location,
        amount=amount,
        currency=d.currency,
        reason_code=d.reason_code,
        reason_text=d.reason_text,
        category=rules.category(d.reason_code, d.reason_text),
        deduction_date=d.deduction_date,
        invoice_date=d.invoice_date,
        posted_date=d.posted_date,
        status=status,
        promo_id=None if d.portal == "megamart" else d.promo_id,
        carrier=carrier,
        pro_number=d.pro_number,
        bol_number=d.bol_number,
        memo=d.memo,
        lines=[]
        if d.portal in LINES_ONLY_IN_DOCUMENTS
        else [
            DeductionLineRecord(
                sku=ln.sku,
                description=ln.description,
                quantity=ln.quantity,
                unit_cost=ln.unit_cost,
                amount=ln.amount,
            )
            for ln in d.lines
        ],
    )


def _doc_fields(d: Deduction, kind: str) -> dict:  # type: ignore[type-arg]
    def f(v: object) -> dict:  # type: ignore[type-arg]
        return {"value": str(v), "confidence": 0.98}

    out: dict = {}  # type: ignore[type-arg]
    if kind == "backup":
        out = {
            "claim_number": f(d.deduction_id),
            "invoice_number": f(d.invoice_number),
            "amount": f(d.amount),
        }
        if d.reason_code:
            out["reason_code"] = f(d.reason_code)
        if d.pro_number:
            out["pro_number"] = f(d.pro_number)
        if d.bol_number:
            out["bol_number"] = f(d.bol_number)
    if kind in ("backup", "deal_sheet") and d.promo_id:
        out["promotion_number"] = f(d.promo_id)
    if kind == "line_detail":
        out["lines"] = [
            {
                "sku": ln.sku,
                "description": ln.description,
                "quantity": ln.quantity,
                "unit_cost": str(ln.unit_cost),
                "amount": str(ln.amount),
                "confidence": 0.98,
            }
            for ln in d.lines
        ]
    return out


def load_scenario(
    factory: sessionmaker[Session],
    sc: Scenario,
    *,
    evidence: Evidence = "complete",
    as_of: date | None = None,
) -> dict[str, int]:
    """Load ``sc`` as the store would hold it; returns counts by kind."""
    day = as_of or sc.as_of
    seen_until = day + FAR if evidence == "complete" else day
    visible = [d for d in sc.deductions if d.posted_date <= day]
    counts = {"deductions": len(visible)}
    with factory() as s, s.begin():
        results = deductions_repo.upsert_many(
            s, [_record(sc, d, d.amount, d.status) for d in visible], run_id="load-1"
        )
        ids = {d.key: r.id for d, r in zip(visible, results, strict=True)}
        amount_status = {d.key: (d.amount, d.status) for d in visible}
        for d in visible:
            for ch in sorted(d.changes, key=lambda c: c.effective):
                if ch.effective > day:
                    continue
                amount, status = amount_status[d.key]
                amount_status[d.key] = (
                    ch.amount if ch.amount is not None else amount,
                    ch.status or status,
                )
                deductions_repo.upsert(s, _record(sc, d, *amount_status[d.key]), run_id="load-2")
        docs = 0
        for d in visible:
            for spec in d.documents:
                if spec.available_from is not None and spec.available_from > seen_until:
                    continue
                sha = hashlib.sha256(spec.doc_id.encode()).hexdigest()
                readable = spec.form in ("pdf", "csv")
                rec = DocumentRecord(
                    sha256=sha,
                    size_bytes=1000,
                    media_type="text/csv" if spec.form == "csv" else "application/pdf",
                    original_filename=spec.filename[:1000],
                    vault_path=f"{sha[:2]}/{sha[2:4]}/{sha}",
                    extraction_status=(
                        ExtractionStatus.extracted if readable else ExtractionStatus.failed
                    ),
                    needs_ocr=spec.form == "image_pdf",
                    extracted_fields=_doc_fields(d, spec.kind) if readable else {},
                )
                doc_id = documents_repo.register(s, rec).id
                documents_repo.link(s, doc_id, ROLE[spec.kind], deduction_id=ids[d.key])
                docs += 1
        counts["documents"] = docs
        for sh in sc.shipments:
            imaged = sh.pod_available_from is not None and sh.pod_available_from <= seen_until
            shipments_repo.upsert(
                s,
                ShipmentRecord(
                    carrier=sh.carrier,
                    pro_number=sh.pro_number,
                    bol_number=sh.bol_number,
                    tracking_number=sh.tracking_number,
                    po_numbers=sh.po_numbers,
                    shipper=sh.shipper.name,
                    consignee=sh.consignee.name,
                    ship_date=sh.ship_date,
                    delivery_date=sh.delivery_date,
                    pieces_shipped=sh.pieces_shipped,
                    pieces_delivered=sh.pieces_delivered if imaged else None,
                    weight_lb=sh.weight_lb,
                    exceptions=list(sh.exceptions) if imaged else [],
                    signer=sh.signer if imaged else "",
                    freight_terms=sh.freight_terms,
                    pod_status=PodStatus.fetched if imaged else PodStatus.not_available,
                ),
            )
        counts["shipments"] = len(sc.shipments)
    with tempfile.TemporaryDirectory() as tmp:
        paths = export_erp(sc.erp, Path(tmp))
        for kind in ("invoices", "promotions", "shipments", "remittances"):
            counts[f"erp_{kind}"] = import_file(factory, kind, paths[kind]).records  # type: ignore[arg-type]
    return counts


__all__ = ["load_scenario"]
