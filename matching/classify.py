"""Which category a deduction belongs to, and how we know.

Order: an analyst's correction (for this deduction, or for the portal + code),
then the portal's reason-code table (``records.normalize.portal_rules``), then
the evidence the claim carries (a must-arrive-by date, "PO COST" lines, a
shipment, a promotion number), then its words (reason text, memo, lines,
backup). Keyword lists alone mislead ("Short received vs ASN" reads as a
compliance fine), so structure wins over words.
"""

from __future__ import annotations

import re

from matching.model import Ded
from records.normalize import Category, NormalizationError, category_from_text, portal_rules

MABD = re.compile(r"must[\s-]*arrive[\s-]*by\s*:?\s*(\d{4}-\d{2}-\d{2})", re.I)
PO_COST = re.compile(r"PO\s+COST\s+\$?([0-9][0-9,]*\.?[0-9]*)", re.I)
DAMAGE_WORDS = re.compile(r"\b(damage|damaged|crushed|broken|concealed damage)", re.I)
POST_AUDIT_WORDS = re.compile(r"\b(post[\s-]?audit|duplicate payment|paid twice|overpay)", re.I)
PROMO_FIELDS = ("promotion_number", "promo_id", "promo_number")


def promo_number(d: Ded) -> str | None:
    """The promotion the claim names: on the portal record, else in its backup."""
    if d.promo_id:
        return d.promo_id
    for doc in d.docs:
        if doc.role in ("backup", "deal_sheet"):
            value = doc.field(*PROMO_FIELDS)
            if value:
                return value
    return None


def shipment_refs(d: Ded) -> tuple[str | None, str | None]:
    """PRO and BOL the claim names: on the record, else read from its backup."""
    pro, bol = d.pro_number, d.bol_number
    for doc in d.docs:
        if doc.role == "backup":
            pro = pro or doc.field("pro_number")
            bol = bol or doc.field("bol_number")
    return pro, bol


def _text(d: Ded) -> str:
    parts = [d.reason_text, d.memo[:2000], *(ln.description for ln in d.lines)]
    for doc in d.docs:
        if doc.role == "backup":
            parts.append(doc.field("reason_text") or "")
    return " ".join(p for p in parts if p)


def classify(d: Ded, overrides: dict[tuple[str, str, str], str]) -> tuple[str, str]:
    """(category, source) where source is analyst | reason_code | evidence | text."""
    code = d.reason_code.strip()
    for key in ((d.portal, code, d.external_id), (d.portal, code, "")):
        if key in overrides and (code or key[2]):
            return overrides[key], "analyst"
    if code:
        try:
            rule = portal_rules(d.portal).reason_codes.get(code)
        except NormalizationError:
            rule = None
        if rule is not None:
            return rule.category.value, "reason_code"
    if any(PO_COST.search(ln.description) for ln in d.lines):
        return Category.pricing.value, "evidence"
    if MABD.search(d.memo):
        return Category.compliance_fine.value, "evidence"
    text = _text(d)
    pro, bol = shipment_refs(d)
    if pro or bol:
        kind = Category.damage if DAMAGE_WORDS.search(text) else Category.shortage
        return kind.value, "evidence"
    if promo_number(d):
        return Category.promotion.value, "evidence"
    if POST_AUDIT_WORDS.search(text):
        return Category.duplicate_post_audit.value, "text"
    guess = category_from_text(text)
    # Promotion words but neither a promotion number nor items, and a backup that
    # was read and names none: an agreed adjustment ("freight allowance per
    # agreement"). With no readable backup the promotion rule asks for it.
    read = any(doc.role == "backup" and doc.status in ("extracted", "partial") for doc in d.docs)
    if guess == Category.promotion and not d.lines and read:
        return Category.other.value, "text"
    if guess != Category.other:
        return guess.value, "text"
    if d.stored_category and d.stored_category != Category.other.value:
        return d.stored_category, "portal"
    return Category.other.value, "text"


__all__ = ["MABD", "PO_COST", "classify", "promo_number", "shipment_refs"]
