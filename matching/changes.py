"""What changed in the store since the last matching run, and which deductions
that can affect.

A verdict depends on its deduction (row, lines, amount history, linked
documents and their extracted fields), on shared records found through keys
(the ERP invoice by number, promotions by id or by customer and item, ERP
and carrier shipments by invoice, PRO or BOL, remittances by invoice and by
claim reference, analysts' category corrections by portal and code), on other
deductions with the same claim (duplicates), on the rules file, and on the day
(a dispute window closes). :func:`changes_since` reads, from timestamps the
write paths already keep, which of those moved after ``since``;
:func:`scope` turns that into deduction ids with a few indexed queries, so
the run then reads only those deductions and the invoices they name. Anything
it cannot pin to keys (a new carrier portal, the rules file, a day earlier
than the last run) asks for a full run instead.

A shared record's keys can change too (a promotion's items, an ERP
shipment's PRO, a remittance's lines), and the old keys are gone: so a changed
promotion, shipment or remittance also reaches every deduction whose stored
verdict cites it as evidence (``Changes.cited``).

Timestamps are written before their transaction commits, so ``since`` is the
last run's start minus a margin (``SAFETY_MARGIN``): a row committed while
the last run was reading is judged again, at the price of re-judging a few
unchanged ones (whose verdicts then write nothing: fingerprints).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, String, cast, func, or_, select
from sqlalchemy.orm import Session

from matching.classify import PROMO_FIELDS
from matching.model import Doc as DocView
from matching.snapshot import STREAM, chunks
from store.db import plain_rows
from store.models import (
    CategoryOverride,
    Deduction,
    DeductionLine,
    Document,
    DocumentLink,
    ErpInvoice,
    ErpPromotion,
    ErpShipment,
    Portal,
    Remittance,
    RemittanceAdjustment,
    RemittanceLine,
    Shipment,
    Verdict,
)

SAFETY_MARGIN = timedelta(minutes=5)


@dataclass
class Changes:
    """Keys that moved since the last run (see the module docstring)."""

    full_reason: str | None = None  # set: judge everything
    deductions: set[int] = field(default_factory=set)
    invoice_numbers: set[str] = field(default_factory=set)
    promo_ids: set[str] = field(default_factory=set)
    promo_skus: set[tuple[str, str]] = field(default_factory=set)  # (customer, sku)
    shipment_refs: set[str] = field(default_factory=set)  # PRO and BOL numbers
    claim_refs: set[str] = field(default_factory=set)  # remittance adjustment references
    override_keys: set[tuple[str, str]] = field(default_factory=set)  # (portal, reason code)
    cited: set[tuple[str, str]] = field(default_factory=set)  # evidence (kind, key), see _key
    without_verdict: bool = False

    def nothing(self) -> bool:
        return self.full_reason is None and not (
            self.deductions
            or self.invoice_numbers
            or self.promo_ids
            or self.promo_skus
            or self.shipment_refs
            or self.claim_refs
            or self.override_keys
            or self.cited
            or self.without_verdict
        )


def _set(session: Session, stmt: Select[Any]) -> set[Any]:
    return {v for (v,) in session.execute(stmt) if v}


def changes_since(session: Session, since: datetime) -> Changes:
    """What the write paths touched after ``since`` (a handful of indexed reads)."""
    c = Changes()
    if session.execute(select(Portal.name).where(Portal.created_at > since).limit(1)).first():
        c.full_reason = "a portal was added"
        return c
    D, L, Doc = Deduction, DocumentLink, Document
    c.deductions = _set(session, select(D.id).where(D.updated_at > since))
    c.deductions |= _set(
        session,
        select(L.deduction_id).where(L.deduction_id.is_not(None), L.created_at > since),
    )
    c.deductions |= _set(
        session,
        select(L.deduction_id)
        .join(Doc, Doc.id == L.document_id)
        .where(L.deduction_id.is_not(None), Doc.extracted_at > since),
    )
    c.without_verdict = (
        session.execute(
            select(D.id)
            .outerjoin(Verdict, Verdict.deduction_id == D.id)
            .where(Verdict.id.is_(None))
            .limit(1)
        ).first()
        is not None
    )
    c.invoice_numbers = _set(
        session, select(ErpInvoice.invoice_number).where(ErpInvoice.updated_at > since)
    )
    P = ErpPromotion
    for row_id, pid, customer, skus in plain_rows(
        session.execute(select(P.id, P.promo_id, P.customer, P.skus).where(P.updated_at > since))
    ):
        c.promo_ids.add(pid)
        c.promo_skus |= {(customer, str(sku)) for sku in skus or []}
        c.cited.add(("erp_promotion", str(row_id)))
    ES, S = ErpShipment, Shipment
    for row_id, inv, pro, bol in session.execute(
        select(ES.id, ES.invoice_number, ES.pro_number, ES.bol_number).where(ES.updated_at > since)
    ):
        c.invoice_numbers.add(inv)
        c.shipment_refs |= {r for r in (pro, bol) if r}
        c.cited.add(("erp_shipment", str(row_id)))
    for row_id, pro, bol in session.execute(
        select(S.id, S.pro_number, S.bol_number).where(S.updated_at > since)
    ):
        c.shipment_refs |= {r for r in (pro, bol) if r}
        c.cited.add(("shipment", str(row_id)))
    R, RL, RA = Remittance, RemittanceLine, RemittanceAdjustment
    for (rid,) in session.execute(select(R.remittance_id).where(R.updated_at > since)):
        c.cited |= {("remittance", rid), ("remittance_adjustment", rid)}
    changed_remittances = select(R.id).where(R.updated_at > since)
    c.invoice_numbers |= _set(
        session, select(RL.invoice_number).where(RL.remittance_id.in_(changed_remittances))
    )
    c.claim_refs = _set(
        session,
        select(RA.reference)
        .join(RL, RL.id == RA.line_id)
        .where(RL.remittance_id.in_(changed_remittances)),
    )
    CO = CategoryOverride
    c.override_keys = {
        (p, code)
        for p, code in session.execute(select(CO.portal, CO.reason_code).where(CO.set_at > since))
    }
    c.invoice_numbers.discard("")
    return c


def _key(item: dict[str, Any]) -> tuple[str, str]:
    """An evidence item as ``Changes.cited`` names it: remittances by their own
    id (``ref``), the other records by row id."""
    kind = str(item.get("kind", ""))
    key = item.get("ref") if kind in ("remittance", "remittance_adjustment") else item.get("id")
    return kind, str(key)


def _citing(session: Session, cited: set[tuple[str, str]]) -> set[int]:
    """Deductions whose stored verdict cites one of ``cited`` (one pass over the
    verdicts' evidence, only when a shared record changed)."""
    if not cited:
        return set()
    V = Verdict
    text = cast(V.evidence, String)  # only verdicts that cite such a kind at all are parsed
    kinds = sorted({kind for kind, _ in cited})
    stmt = select(V.deduction_id, V.evidence).where(or_(*(text.contains(f'"{k}"') for k in kinds)))
    return {
        did
        for did, evidence in plain_rows(session.execute(stmt.execution_options(yield_per=STREAM)))
        if any(_key(e) in cited for e in evidence or [] if isinstance(e, dict))
    }


_PLAIN = re.compile(r"[A-Za-z0-9 ._/#:-]+")
PREFILTER_MAX = 50  # refs; more than this and every backup is read


def _named_in_documents(session: Session, c: Changes) -> set[int]:
    """Deductions whose backup or deal sheet names a changed PRO, BOL or promotion
    (the rules read those when the portal record does not carry them).

    A few plain refs are first looked for in the documents' JSON text (a
    superset: a field holding the ref contains it as text), so only candidate
    documents are parsed; anything else reads every backup."""
    refs = c.shipment_refs | c.promo_ids
    if not refs:
        return set()
    L, Doc = DocumentLink, Document
    stmt = (
        select(L.deduction_id, L.role, Doc.extracted_fields)
        .join(Doc, Doc.id == L.document_id)
        .where(L.deduction_id.is_not(None), L.role.in_(("backup", "deal_sheet")))
    )
    if len(refs) <= PREFILTER_MAX and all(_PLAIN.fullmatch(r) for r in refs):
        text = cast(Doc.extracted_fields, String)
        stmt = stmt.where(or_(*(text.contains(r.strip(), autoescape=True) for r in refs)))
    out: set[int] = set()
    for did, role, fields in plain_rows(session.execute(stmt.execution_options(yield_per=STREAM))):
        doc = DocView(0, str(getattr(role, "value", role)), "", fields or {})
        named = {doc.field("pro_number"), doc.field("bol_number")} & c.shipment_refs
        if did is not None and (named or doc.field(*PROMO_FIELDS) in c.promo_ids):
            out.add(did)
    return out


def scope(session: Session, c: Changes, last_today: date, today: date) -> set[int]:
    """Ids of the deductions whose verdict may differ from the stored one: a
    superset is safe (an unchanged verdict writes nothing), a subset is a bug.
    Closed under "same portal, same invoice" (the duplicate rule compares those)."""
    D, V = Deduction, Verdict
    out = set(c.deductions)
    out |= _set(
        session,
        select(D.id).outerjoin(V, V.deduction_id == D.id).where(V.id.is_(None)),
    )
    for chunk in chunks(c.invoice_numbers):
        out |= _set(session, select(D.id).where(D.invoice_number.in_(chunk)))
    for chunk in chunks(c.claim_refs):
        out |= _set(session, select(D.id).where(D.external_id.in_(chunk)))
    for chunk in chunks(c.promo_ids):
        out |= _set(session, select(D.id).where(D.promo_id.in_(chunk)))
    for chunk in chunks(c.shipment_refs):
        out |= _set(
            session, select(D.id).where(or_(D.pro_number.in_(chunk), D.bol_number.in_(chunk)))
        )
    out |= _named_in_documents(session, c)
    out |= _citing(session, c.cited)
    for portal, code in c.override_keys:
        out |= _set(
            session,
            select(D.id).where(D.portal == portal, func.trim(D.reason_code) == code.strip()),
        )
    if c.promo_skus:
        L, I = DeductionLine, ErpInvoice  # noqa: E741
        for chunk in chunks({sku for _, sku in c.promo_skus}):
            for did, customer, sku in session.execute(
                select(L.deduction_id, I.customer, L.sku)
                .join(D, D.id == L.deduction_id)
                .join(I, I.invoice_number == D.invoice_number)
                .where(L.sku.in_(chunk))
            ):
                if (customer, sku) in c.promo_skus:
                    out.add(did)
    if today > last_today:  # dispute windows that closed since the last run's day
        out |= _set(
            session,
            select(V.deduction_id).where(V.window_closes >= last_today, V.window_closes < today),
        )
    claims = {(p, n) for p, n in _pairs(session, out)}
    for chunk in chunks({n for _, n in claims}):
        for did, p, n in session.execute(
            select(D.id, D.portal, D.invoice_number).where(D.invoice_number.in_(chunk))
        ):
            if (p, n) in claims:
                out.add(did)
    return out


def _pairs(session: Session, ids: set[int]) -> set[tuple[str, str]]:
    D = Deduction
    pairs: set[tuple[str, str]] = set()
    for chunk in chunks(ids):
        pairs |= {
            (p, n)
            for p, n in session.execute(select(D.portal, D.invoice_number).where(D.id.in_(chunk)))
        }
    return pairs


__all__ = ["SAFETY_MARGIN", "Changes", "changes_since", "scope"]
