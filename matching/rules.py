"""The matching rules: one deduction plus the indexed records -> a verdict.

Each rule finds the supplier's own records for the claim (ERP invoice,
promotion, shipment and POD, remittances), computes the **valid amount** (what
the supplier owes), and says why in words a person can check, with references
to every record it used. Where the proof is not in the store yet the verdict is
``needs_review`` with the missing item named (and the service queues its
retrieval); a verdict is never guessed.

Amounts are relative to the claimed amount (the deduction as first seen):
validity is *valid* when the valid amount equals it, *invalid* at zero,
*partial* in between. Cases are the unit for quantities.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from matching.classify import (
    MABD,
    PO_COST,
    PROMO_FIELDS,
    classify,
    promo_number,
    shipment_refs,
)
from matching.config import MatchingConfig
from matching.model import (
    INVALID,
    NEEDS_REVIEW,
    PARTIAL,
    VALID,
    ZERO,
    CarrierShip,
    Ded,
    Invoice,
    Promo,
    Snapshot,
    Verdict,
)
from records.normalize import NormalizationError, portal_rules

CENT = Decimal("0.01")
SHORT = re.compile(r"\bSHORT\s+(\d+)\s*(?:CS|CASES?|CTNS?)\b", re.I)
DAMAGED = re.compile(r"\b(\d+)\s*(?:CS|CASES?|CTNS?)\s+DAMAGED\b", re.I)


def money(x: Decimal) -> Decimal:
    return x.quantize(CENT, ROUND_HALF_UP)


def _d(x: date | None) -> str:
    return x.isoformat() if x else "?"


@dataclass
class Finding:
    """What a rule found: a valid amount (None: cannot say) and why."""

    rule: str
    valid: Decimal | None = None
    reasons: list[str] = field(default_factory=list)
    evidence: list[dict[str, Any]] = field(default_factory=list)
    missing: list[dict[str, Any]] = field(default_factory=list)
    category: str | None = None  # a rule may refine the category (shortage vs damage)

    def cite(self, kind: str, ref: str, id: int | None = None, note: str = "") -> None:
        item: dict[str, Any] = {"kind": kind, "ref": ref}
        if id is not None:
            item["id"] = id
        if note:
            item["note"] = note
        self.evidence.append(item)

    def need(self, kind: str, ref: str, portal: str | None, why: str) -> Finding:
        self.missing.append({"kind": kind, "ref": ref, "portal": portal, "why": why})
        self.reasons.append(why)
        self.valid = None
        return self


# --------------------------------------------------------------------------- helpers


def find_invoice(snap: Snapshot, d: Ded) -> Invoice | None:
    found = snap.invoice_by_number.get(d.invoice_number) or []
    if len(found) == 1:
        return found[0]
    if len(found) > 1:  # same number at two customers: the one dated as the claim says
        same_day = [i for i in found if i.invoice_date == d.invoice_date]
        return same_day[0] if len(same_day) == 1 else None
    return None


def carrier_slug(snap: Snapshot, name: str | None) -> str | None:
    """The carrier portal a claim names ("HaulStar Freight" -> haulstar)."""
    if not name:
        return None
    squashed = re.sub(r"[^a-z0-9]", "", name.lower())
    for slug in snap.carrier_slugs:
        if slug in squashed:
            return slug
    return None


def carrier_shipment(snap: Snapshot, d: Ded) -> tuple[CarrierShip | None, str | None, str]:
    """(shipment, carrier slug, reference) for the claim's PRO, else its BOL."""
    pro, bol = shipment_refs(d)
    slug = carrier_slug(snap, d.carrier)
    if pro:
        if slug:
            return snap.carrier_by_pro.get((slug, pro)), slug, pro
        hits = snap.carriers_by_pro.get(pro, [])
        if len(hits) == 1:
            return hits[0], hits[0].carrier, pro
        erp = snap.erp_ship_by_pro.get(pro)
        return None, erp.carrier if erp else None, pro
    if bol:
        hit = snap.carrier_by_bol.get(bol)
        if hit is not None:
            return hit, hit.carrier, bol
        erp = snap.erp_ship_by_bol.get(bol)
        return None, slug or (erp.carrier if erp else None), bol
    return None, slug, ""


def need_lines(f: Finding, d: Ded, what: str) -> Finding:
    """The claim's lines are needed and not there: say why, naming the document
    (lines doubted, a line detail that could not be read), else ask for backup."""
    if d.lines_doubt:
        return f.need(
            "document", d.external_id, None, f"{what}: {d.lines_doubt}: a person must check it"
        )
    unread = d.unread_line_source()
    if unread is not None:
        why = unread.reason or f"extraction {unread.status or 'not done'}"
        return f.need(
            "document",
            d.external_id,
            None,
            f"{what}: {unread.label()} for claim {d.external_id} was not read ({why[:120]})",
        )
    return f.need(
        "backup",
        d.external_id,
        d.portal,
        f"needs line detail from {d.portal} for claim {d.external_id}: {what}",
    )


def _noted(exceptions: list[str], pattern: re.Pattern[str]) -> int:
    return sum(int(m.group(1)) for e in exceptions for m in [pattern.search(e)] if m)


# --------------------------------------------------------------------------- rules


def rule_duplicate(snap: Snapshot, d: Ded) -> Finding | None:
    if d.deduction_date is None or not d.invoice_number:
        return None
    earlier = [
        o
        for o in snap.by_claim.get((d.portal, d.invoice_number, d.claimed_amount), [])
        if o.id != d.id and o.deduction_date is not None and o.deduction_date < d.deduction_date
    ]
    if not earlier:
        return None
    first = min(earlier, key=lambda o: (o.deduction_date, o.external_id))
    f = Finding("duplicate", ZERO)
    f.reasons.append(
        f"Already deducted: {first.external_id} took {first.claimed_amount} for invoice "
        f"{d.invoice_number} on {_d(first.deduction_date)}; this claim repeats it"
    )
    f.cite("deduction", first.ref, first.id, "earlier deduction, same invoice and amount")
    return f


def rule_promotion(snap: Snapshot, d: Ded, inv: Invoice) -> Finding:
    f = Finding("promotion")
    named = promo_number(d)
    promo: Promo | None = None
    if named is None:
        for doc in d.docs:
            if doc.role in ("backup", "deal_sheet") and doc.doubted(*PROMO_FIELDS):
                return f.need(
                    "document",
                    d.external_id,
                    None,
                    f"{doc.label()} names a promotion, read with low confidence: a person "
                    "must confirm the promotion number",
                )
    if named:
        promo = snap.promo_by_id.get(named)
        if promo is None:
            f.reasons.append(f"Promotion {named} is not in the ERP's promotions")
    elif d.lines:
        skus = {ln.sku for ln in d.lines}
        found = {
            p.promo_id: p
            for sku in skus
            for p in snap.promos_by_sku.get((inv.customer, sku), [])
            if p.start_date <= inv.invoice_date <= p.end_date
        }
        if len(found) > 1:
            for p in sorted(found.values(), key=lambda p: p.promo_id):
                f.cite(
                    "erp_promotion", p.promo_id, p.id, "one of the promotions covering the items"
                )
            return f.need(
                "analyst",
                d.ref,
                None,
                f"{len(found)} promotions cover these items on {_d(inv.invoice_date)}: "
                "an analyst must say which one",
            )
        promo = next(iter(found.values()), None)
        if promo is None:
            f.reasons.append(
                f"No ERP promotion for {inv.customer} covers {', '.join(sorted(skus))} "
                f"on the invoice date {_d(inv.invoice_date)}"
            )
    else:
        backup = [doc for doc in d.docs if doc.role in ("backup", "deal_sheet")]
        readable = [doc for doc in backup if doc.status in ("extracted", "partial")]
        if not backup:
            return f.need(
                "backup",
                d.external_id,
                d.portal,
                f"needs backup from {d.portal} for claim {d.external_id}: the claim names "
                "neither a promotion nor items",
            )
        if not readable:
            return f.need(
                "backup_text",
                d.external_id,
                d.portal,
                f"backup for claim {d.external_id} cannot be read (image-only or damaged): "
                "a person must read the promotion number",
            )
        if d.lines_doubt or d.unread_line_source() is not None:
            return need_lines(f, d, "the claim names no promotion; its items are unknown")
        f.reasons.append("Neither the claim nor its backup names a promotion or items")
    if promo is None:
        f.valid = ZERO
        return f
    f.cite("erp_promotion", promo.promo_id, promo.id)
    if not promo.start_date <= inv.invoice_date <= promo.end_date:
        f.valid = ZERO
        f.reasons.append(
            f"Promotion {promo.promo_id} ran {_d(promo.start_date)} to {_d(promo.end_date)}; "
            f"invoice {inv.invoice_number} is dated {_d(inv.invoice_date)}, outside it"
        )
        return f
    qty_by_sku = inv.qty_by_sku()
    cases = sum(qty_by_sku.get(s, 0) for s in promo.skus)
    earned = money(promo.rate_per_unit * cases)
    if promo.max_amount is not None:
        earned = min(earned, promo.max_amount)
    f.valid = min(d.claimed_amount, earned)
    f.reasons.append(
        f"Promotion {promo.promo_id}: {promo.rate_per_unit}/case x {cases} cases of its items "
        f"on invoice {inv.invoice_number} = {earned}; {d.claimed_amount} deducted"
    )
    return f


def rule_shortage_damage(
    snap: Snapshot, d: Ded, inv: Invoice, category: str, refine: bool = False
) -> Finding:
    """Shortage and damage. ``refine``: the category was inferred, not coded, so
    the POD's own note (SHORT vs DAMAGED) may correct it."""
    f = Finding(category)
    ship, slug, ref = carrier_shipment(snap, d)
    if not ref:
        return f.need(
            "backup",
            d.external_id,
            d.portal,
            f"needs backup from {d.portal} for claim {d.external_id}: no PRO or BOL named",
        )
    erp = snap.erp_ship_by_pro.get(ref) or snap.erp_ship_by_bol.get(ref)
    if erp is None:
        for s in snap.erp_ship_by_invoice.get(inv.invoice_number, []):
            erp = s
    if ship is None:
        return f.need(
            "pod",
            ref,
            slug,
            f"needs POD from {slug or 'the carrier'}, "
            f"{'PRO' if ref == shipment_refs(d)[0] else 'BOL'} {ref}",
        )
    f.cite("shipment", f"{ship.carrier}:{ship.pro_number}", ship.id)
    terms = ship.freight_terms or (erp.freight_terms if erp else None)
    if erp is not None:
        f.cite("erp_shipment", erp.shipment_id, erp.id)
    if terms is None:
        return f.need(
            "bol",
            ship.pro_number,
            ship.carrier,
            f"needs BOL from {ship.carrier}, PRO {ship.pro_number}: freight terms unknown",
        )
    invoiced = sum(q for _, q, _ in inv.lines)
    shipped = ship.pieces_shipped if ship.pieces_shipped is not None else invoiced
    not_shipped = max(0, invoiced - shipped)
    claimed = sum(ln.quantity for ln in d.lines)
    unit = d.lines[0].unit_cost if d.lines else None
    if not d.lines:
        return need_lines(f, d, "cases claimed unknown")
    if unit is None or claimed <= 0:
        return f.need(
            "backup",
            d.external_id,
            d.portal,
            f"needs line detail from {d.portal} for claim {d.external_id}: cases claimed unknown",
        )
    if terms == "collect":
        owed = not_shipped if category == "shortage" else 0
        f.reasons.append(
            f"Collect shipment: the BOL signed at pickup shows {shipped} of {invoiced} invoiced "
            f"cases tendered; loss in transit is the retailer's carrier's liability"
        )
    else:
        if ship.pod_status != "fetched":
            return f.need(
                "pod",
                ship.pro_number,
                ship.carrier,
                f"needs POD from {ship.carrier}, PRO {ship.pro_number} (not imaged yet)",
            )
        short = _noted(ship.exceptions, SHORT)
        damaged = _noted(ship.exceptions, DAMAGED)
        if refine and category == "shortage" and damaged and not short and not not_shipped:
            category = f.category = f.rule = "damage"
        elif refine and category == "damage" and short and not damaged:
            category = f.category = f.rule = "shortage"
        noted = short if category == "shortage" else damaged
        owed = (not_shipped if category == "shortage" else 0) + noted
        delivered = ship.pieces_delivered if ship.pieces_delivered is not None else shipped
        if noted == 0 and not_shipped == 0:
            f.reasons.append(
                f"POD signed clean for {delivered} of {shipped} cases on "
                f"{_d(ship.delivery_date)}: {category} claim of {claimed} cases is invalid"
            )
        else:
            f.reasons.append(
                f"Prepaid; POD for PRO {ship.pro_number} delivered {_d(ship.delivery_date)} "
                f"notes {', '.join(ship.exceptions) or 'no exceptions'}"
            )
    if not_shipped and category == "shortage":
        f.reasons.append(
            f"BOL shows {shipped} of {invoiced} invoiced cases tendered: {not_shipped} billed "
            "not shipped"
        )
    allowed = min(claimed, owed)
    f.valid = money(allowed * unit)
    f.reasons.append(f"{allowed} of {claimed} cases claimed are owed at {unit}/case = {f.valid}")
    return f


def rule_pricing(snap: Snapshot, d: Ded, inv: Invoice) -> Finding:
    f = Finding("pricing", ZERO)
    if not d.lines:
        return need_lines(f, d, "items and agreed costs unknown")
    prices = inv.price_by_sku()
    for ln in d.lines:
        m = PO_COST.search(ln.description)
        if m is None:
            return f.need(
                "backup",
                d.external_id,
                d.portal,
                f"needs backup from {d.portal} for claim {d.external_id}: agreed cost of "
                f"{ln.sku} not stated",
            )
        agreed = Decimal(m.group(1).replace(",", ""))
        billed = prices.get(ln.sku)
        if billed is None:
            f.reasons.append(f"{ln.sku} is not on invoice {inv.invoice_number}: nothing owed")
            continue
        per_case = max(ZERO, min(billed - agreed, ln.unit_cost or ZERO))
        owed = money(per_case * ln.quantity)
        f.valid = (f.valid or ZERO) + owed
        f.reasons.append(
            f"{ln.sku}: invoiced at {billed}, agreed cost {agreed}; overcharge {per_case}/case "
            f"x {ln.quantity} = {owed} (claimed {ln.unit_cost}/case)"
        )
    return f


def rule_returns(snap: Snapshot, d: Ded, inv: Invoice) -> Finding:
    f = Finding("return_unsaleable", ZERO)
    qty, prices = inv.qty_by_sku(), inv.price_by_sku()
    if not d.lines:
        return need_lines(f, d, "items returned unknown")
    for ln in d.lines:
        if ln.sku not in qty:
            f.reasons.append(f"{ln.sku} was never invoiced on {inv.invoice_number}: not owed")
            continue
        cases = min(ln.quantity, qty[ln.sku])
        unit = min(ln.unit_cost or ZERO, prices[ln.sku])
        owed = money(cases * unit)
        f.valid = (f.valid or ZERO) + owed
        f.reasons.append(
            f"{ln.sku}: {cases} of {ln.quantity} cases returned against {qty[ln.sku]} invoiced, "
            f"at {unit}/case (invoiced {prices[ln.sku]}, charged {ln.unit_cost}) = {owed}"
        )
    return f


def rule_compliance(snap: Snapshot, d: Ded, inv: Invoice, cfg: MatchingConfig) -> Finding:
    f = Finding("compliance_fine")
    m = MABD.search(d.memo)
    if m is None:
        return f.need(
            "backup",
            d.external_id,
            d.portal,
            f"needs backup from {d.portal} for claim {d.external_id}: no must-arrive-by date",
        )
    mabd = date.fromisoformat(m.group(1))
    erp_ships = snap.erp_ship_by_invoice.get(inv.invoice_number, [])
    if not erp_ships:
        return f.need(
            "erp_shipment",
            inv.invoice_number,
            None,
            f"no ERP shipment for invoice {inv.invoice_number}: import shipments",
        )
    erp = erp_ships[0]
    f.cite("erp_shipment", erp.shipment_id, erp.id)
    ship = snap.carrier_by_pro.get((erp.carrier, erp.pro_number))
    if ship is None or ship.delivery_date is None:
        return f.need(
            "pod",
            erp.pro_number,
            erp.carrier,
            f"needs POD from {erp.carrier}, PRO {erp.pro_number}: delivery date unknown",
        )
    f.cite("shipment", f"{ship.carrier}:{ship.pro_number}", ship.id)
    if ship.delivery_date <= mabd:
        f.valid = ZERO
        f.reasons.append(
            f"Carrier delivered {_d(ship.delivery_date)}, on or before the must-arrive-by date "
            f"{_d(mabd)}: the fine is invalid"
        )
        return f
    rate = cfg.fine_rate(d.portal)
    fine = money(inv.total * rate)
    f.valid = min(d.claimed_amount, fine)
    f.reasons.append(
        f"Delivered {_d(ship.delivery_date)}, after must-arrive-by {_d(mabd)}: fine is "
        f"{rate * 100:.0f}% of invoice total {inv.total} = {fine}; {d.claimed_amount} deducted"
    )
    return f


def rule_post_audit(snap: Snapshot, d: Ded, inv: Invoice) -> Finding:
    f = Finding("duplicate_post_audit")
    lines = snap.paid_by_invoice.get(inv.invoice_number, [])
    paid = sum((pl.paid_amount for pl in lines), ZERO)
    for pl in lines:
        f.cite("remittance", pl.remittance_id, note=f"paid {pl.paid_amount} on {pl.payment_date}")
    over = paid - inv.total
    f.valid = min(d.claimed_amount, max(ZERO, over))
    f.reasons.append(
        f"Remittances paid {paid} on invoice {inv.invoice_number} (total {inv.total}) in "
        f"{len(lines)} payment(s): overpayment {max(ZERO, over)}"
    )
    return f


def rule_other(d: Ded) -> Finding:
    f = Finding("other", d.claimed_amount)
    f.reasons.append("Miscellaneous adjustment: nothing in the supplier's records contradicts it")
    return f


# --------------------------------------------------------------------------- verdict


def window(d: Ded, today: date) -> tuple[date | None, bool | None]:
    if not d.reason_code or d.invoice_date is None or d.deduction_date is None:
        return None, None
    try:
        closes = portal_rules(d.portal).window_closes(
            d.reason_code, invoice_date=d.invoice_date, deduction_date=d.deduction_date
        )
    except NormalizationError:
        return None, None
    return closes, None if closes is None else today <= closes


def judge(snap: Snapshot, d: Ded, cfg: MatchingConfig, today: date) -> Verdict:
    """The verdict for one deduction. Pure: reads only the snapshot."""
    category, source = classify(d, snap.overrides)
    inv = find_invoice(snap, d)
    f = rule_duplicate(snap, d)
    if f is None:
        if category == "other":
            f = rule_other(d)
        elif inv is None:
            f = Finding(category).need(
                "erp_invoice",
                d.invoice_number,
                None,
                f"invoice {d.invoice_number or '(none given)'} is not in the ERP extract: "
                "import it or correct the claim",
            )
        else:
            if category == "promotion":
                f = rule_promotion(snap, d, inv)
            elif category in ("shortage", "damage"):
                f = rule_shortage_damage(
                    snap, d, inv, category, refine=source not in ("reason_code", "analyst")
                )
            elif category == "pricing":
                f = rule_pricing(snap, d, inv)
            elif category == "return_unsaleable":
                f = rule_returns(snap, d, inv)
            elif category == "compliance_fine":
                f = rule_compliance(snap, d, inv, cfg)
            elif category == "duplicate_post_audit":
                f = rule_post_audit(snap, d, inv)
            else:
                f = rule_other(d)
    if f.category:
        category = f.category
    if inv is not None:
        f.evidence.insert(0, {"kind": "erp_invoice", "ref": inv.invoice_number, "id": inv.id})
    for a in snap.adjustments_by_ref.get(d.external_id, []):
        f.evidence.append(
            {
                "kind": "remittance_adjustment",
                "ref": a.remittance_id,
                "note": f"{a.amount} taken on {a.payment_date.isoformat()}",
            }
        )
    for doc in d.docs:
        f.evidence.append({"kind": "document", "ref": doc.role, "id": doc.id})
    closes, open_ = window(d, today)
    claimed = d.claimed_amount
    if f.valid is None:
        validity, valid, disputable = NEEDS_REVIEW, None, None
    else:
        valid = min(claimed, money(f.valid)) if claimed >= 0 else claimed
        disputable = claimed - valid
        tol = cfg.amount_tolerance
        if disputable <= tol:
            validity, valid, disputable = VALID, claimed, ZERO
        elif valid <= tol:
            validity = INVALID
        else:
            validity = PARTIAL
    reasons = list(f.reasons)
    if validity in (INVALID, PARTIAL):
        reasons.append(f"Disputable: {disputable} of {claimed}")
    if d.amount != claimed:
        reasons.append(
            f"The retailer has since changed the deduction to {d.amount}"
            + (f" ({d.status})" if d.status else "")
        )
    if validity in (INVALID, PARTIAL) and open_ is False:
        reasons.append(f"The dispute window closed on {_d(closes)}: write off or escalate")
    return Verdict(
        deduction_id=d.id,
        ref=d.ref,
        portal=d.portal,
        external_id=d.external_id,
        category=category,
        category_source=source,
        validity=validity,
        claimed_amount=claimed,
        current_amount=d.amount,
        valid_amount=valid,
        disputable_amount=disputable,
        rule=f.rule,
        reasons=reasons,
        evidence=f.evidence,
        missing=f.missing,
        window_closes=closes,
        window_open=open_,
    )


def match_all(snap: Snapshot, cfg: MatchingConfig, today: date) -> list[Verdict]:
    """Verdicts for every deduction in the snapshot; linear in its size."""
    return [judge(snap, d, cfg, today) for d in snap.deductions]


__all__ = ["Finding", "judge", "match_all", "money"]
