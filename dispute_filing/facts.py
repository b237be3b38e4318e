"""The facts a dispute stands on, as the matching core found them.

The matcher's verdict cites what it used (``Verdict.evidence``: the ERP
invoice, promotion and shipment, the carrier's shipment with its POD, the
remittance, an earlier deduction). This module reads those rows back into one
plain, bounded mapping: the narrative template and the cover letter are filled
from it, so the text a portal receives says only what the store can show.

Portal and carrier text (a reason, a POD signer) is untrusted: every string is
cleaned of control characters and cut to a sane length here, once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispute_filing.appeals import appealed_dispute
from store.models import (
    Deduction,
    Dispute,
    ErpInvoice,
    ErpPromotion,
    ErpShipment,
    Remittance,
    RemittanceLine,
    Shipment,
    Verdict,
)

MAX_FACT = 200
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]+")


def clean(value: object, limit: int = MAX_FACT) -> str:
    """Portal text made safe for a form field or a PDF line: no control
    characters, single-spaced, at most ``limit`` characters."""
    text = _CONTROL.sub(" ", str(value or ""))
    return " ".join(text.split())[:limit]


@dataclass(frozen=True)
class Facts:
    """One dispute's facts; every optional part is None when the store lacks it."""

    claim: dict[str, Any]
    category: str
    invoice: dict[str, Any] | None = None
    promotion: dict[str, Any] | None = None
    shipment: dict[str, Any] | None = None
    remittance: dict[str, Any] | None = None
    duplicate_of: str | None = None
    findings: tuple[str, ...] = ()
    appeal: dict[str, Any] | None = None
    """For an appeal: the denied dispute (its number, amount, day of denial)."""
    shipment_ids: tuple[int, ...] = field(default=(), repr=False)

    def as_template_vars(self) -> dict[str, Any]:
        return {
            "claim": self.claim,
            "category": self.category,
            "invoice": self.invoice,
            "promotion": self.promotion,
            "shipment": self.shipment,
            "remittance": self.remittance,
            "duplicate_of": self.duplicate_of,
            "findings": list(self.findings),
            "appeal": self.appeal,
        }

    def lines(self) -> list[tuple[str, str]]:
        """The facts as (label, value) pairs, for the cover letter."""
        c = self.claim
        out = []
        if self.appeal:
            a = self.appeal
            out.append(("Appeal of dispute", f"{a['dispute_number']}, denied {a['denied_on']}"))
        out += [
            ("Claim", c["number"]),
            ("Reason on the claim", c["reason"] or "-"),
            ("Claim amount", f"{c['amount']} {c['currency']}"),
            ("Amount disputed", f"{c['disputed']} {c['currency']}"),
            ("Invoice", c["invoice_number"] or "-"),
        ]
        if c["po_number"]:
            out.append(("PO", c["po_number"]))
        if self.invoice:
            inv = self.invoice
            out.append(("Invoice date / total", f"{inv['date']} / {inv['total']}"))
        if self.promotion:
            p = self.promotion
            out.append(
                ("Promotion", f"{p['id']} ({p['start']} to {p['end']}, {p['rate']} per unit)")
            )
        if self.shipment:
            s = self.shipment
            out.append(("Shipment", f"{s['carrier']} PRO {s['pro_number']} BOL {s['bol_number']}"))
            if s["delivered_on"]:
                out.append(("Delivered", s["delivered_on"]))
            if s["pieces_delivered"] is not None:
                pieces = f"{s['pieces_shipped']} / {s['pieces_delivered']}"
                out.append(("Pieces shipped / delivered", pieces))
            if s["signer"]:
                out.append(("POD signed by", s["signer"]))
            if s["exceptions"]:
                out.append(("Exceptions on the POD", "; ".join(s["exceptions"])))
        if self.remittance:
            r = self.remittance
            out.append(("Remittance", f"{r['id']} of {r['date']}: paid {r['paid']}"))
        if self.duplicate_of:
            out.append(("Duplicate of", self.duplicate_of))
        return out


def _d(x: date | None) -> str:
    return x.isoformat() if x else ""


def gather(session: Session, dispute: Dispute) -> Facts:
    """The facts of the dispute's deduction, from its verdict's citations."""
    d = session.get(Deduction, dispute.deduction_id)
    assert d is not None
    verdict = session.scalar(select(Verdict).where(Verdict.deduction_id == d.id))
    category = (
        (verdict.category if verdict else None)
        or str(getattr(d.category, "value", d.category) or "")
        or "other"
    )
    claim = {
        "number": clean(d.external_id),
        "portal": d.portal,
        "amount": Decimal(d.amount),
        "disputed": Decimal(dispute.amount),
        "partial": Decimal(dispute.amount) < Decimal(d.amount),
        "currency": d.currency,
        "reason_code": clean(d.reason_code, 40),
        "reason": clean(d.reason_text),
        "date": _d(d.deduction_date),
        "invoice_number": clean(d.invoice_number, 60),
        "invoice_date": _d(d.invoice_date),
        "po_number": clean(d.po_number, 60),
    }
    cited: dict[str, list[dict[str, Any]]] = {}
    for item in (verdict.evidence if verdict else None) or []:
        if isinstance(item, dict) and isinstance(item.get("kind"), str):
            cited.setdefault(item["kind"], []).append(item)

    def first_id(kind: str) -> int | None:
        for item in cited.get(kind, []):
            if isinstance(item.get("id"), int):
                return int(item["id"])
        return None

    invoice = None
    inv_id = first_id("erp_invoice")
    inv = session.get(ErpInvoice, inv_id) if inv_id else None
    if inv is not None:
        invoice = {
            "number": clean(inv.invoice_number, 60),
            "date": _d(inv.invoice_date),
            "total": Decimal(inv.total),
            "po_number": clean(inv.po_number, 60),
        }
        if not claim["po_number"]:
            claim["po_number"] = invoice["po_number"]

    promotion = None
    promo_id = first_id("erp_promotion")
    promo = session.get(ErpPromotion, promo_id) if promo_id else None
    if promo is not None:
        promotion = {
            "id": clean(promo.promo_id, 60),
            "description": clean(promo.description),
            "start": _d(promo.start_date),
            "end": _d(promo.end_date),
            "rate": Decimal(promo.rate_per_unit),
            "max_amount": promo.max_amount,
        }

    shipment = None
    ship_id = first_id("shipment")
    ship = session.get(Shipment, ship_id) if ship_id else None
    if ship is None and d.pro_number:
        ship = session.scalar(
            select(Shipment).where(Shipment.pro_number == d.pro_number).order_by(Shipment.id)
        )
    erp_id = first_id("erp_shipment")
    erp = session.get(ErpShipment, erp_id) if erp_id else None
    seen: Shipment | ErpShipment | None = ship if ship is not None else erp
    if seen is not None:
        shipment = {
            "carrier": clean(seen.carrier, 60),
            "pro_number": clean(seen.pro_number, 40),
            "bol_number": clean(seen.bol_number, 40),
            "shipped_on": _d(seen.ship_date),
            "delivered_on": _d(ship.delivery_date) if ship else "",
            "pieces_shipped": (ship.pieces_shipped if ship else None)
            or (erp.cases_shipped if erp else None),
            "pieces_delivered": ship.pieces_delivered if ship else None,
            "signer": clean(ship.signer, 80) if ship else "",
            "exceptions": [clean(x, 80) for x in (ship.exceptions or [])][:5] if ship else [],
            "freight_terms": clean(
                (ship.freight_terms if ship else None) or (erp.freight_terms if erp else ""), 16
            ),
            "erp_shipment": clean(erp.shipment_id, 60) if erp else "",
        }

    remittance = None
    for item in cited.get("remittance", []):
        row = session.execute(
            select(Remittance.remittance_id, Remittance.payment_date, RemittanceLine)
            .join(RemittanceLine, RemittanceLine.remittance_id == Remittance.id)
            .where(
                Remittance.remittance_id == str(item.get("ref", "")),
                RemittanceLine.invoice_number == d.invoice_number,
            )
            .limit(1)
        ).first()
        if row is not None:
            rid, paid_on, line = row
            remittance = {
                "id": clean(rid, 60),
                "date": _d(paid_on),
                "paid": Decimal(line.paid_amount),
                "invoiced": Decimal(line.invoice_amount),
            }
            break

    duplicate_of = None
    dup_id = first_id("deduction")
    if dup_id:
        other = session.get(Deduction, dup_id)
        duplicate_of = clean(other.external_id, 60) if other else None

    findings = tuple(clean(r, 300) for r in ((verdict.reasons if verdict else None) or [])[:8])
    appeal = None
    denied = appealed_dispute(session, dispute)
    if denied is not None:
        appeal = {
            "dispute_number": clean(denied.dispute_number, 60),
            "denied_on": _d(denied.decided_on),
            "amount": Decimal(denied.amount),
        }
    return Facts(
        claim=claim,
        category=category,
        invoice=invoice,
        promotion=promotion,
        shipment=shipment,
        remittance=remittance,
        duplicate_of=duplicate_of,
        findings=findings,
        appeal=appeal,
        shipment_ids=(ship.id,) if ship is not None else (),
    )


__all__ = ["Facts", "clean", "gather"]
