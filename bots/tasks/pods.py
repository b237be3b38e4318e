"""``pods``: proof of delivery and bill of lading for every shipment a
deduction about delivery points at, from one carrier account.

"About delivery": shortage and damage claims, compliance fines (on-time
proof), and claims that arrived without a usable reason code (about 10% do)
but name a PRO or BOL: for those the POD is the cheapest way to find out.

A deduction points at a shipment through the PRO or BOL number the portal
shows, or the one extracted from its backup document. Only shipments whose
POD is not stored yet are looked up; a POD not yet imaged is looked up again
business day (not on every run of the same day). A CAPTCHA is handed to a
person in the web app while the job waits (``JobContext.ask_human``): answered
in time, the lookup goes on; otherwise that one lookup becomes a needs-human
item and the next goes on.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from bots.context import JobContext
from bots.tasks.documents import quarantine, store_fetched
from portal_adapters.base import CarrierAdapter, ShipmentDocuments
from portal_adapters.errors import CaptchaRequired, RecordInvalid
from records.schemas import Category, PodStatus
from store.db import plain_rows, transaction
from store.models import Deduction, Document, DocumentLink, ErpShipment, Shipment, table_of
from store.repositories import shipments as shipments_repo

POD_CATEGORIES = (Category.shortage, Category.damage, Category.compliance_fine, Category.other)


@dataclass
class PodTarget:
    pro: str | None
    bol: str | None
    deduction_ids: list[int] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return self.pro or f"BOL {self.bol}"


def carrier_of(text: str | None) -> str | None:
    """The carrier portal a deduction names ("HaulStar Freight" -> haulstar)."""
    if not text:
        return None
    t = text.lower().replace(" ", "")
    for slug in ("haulstar", "parcelnet"):
        if slug in t:
            return slug
    return None


def pod_targets(db: sessionmaker[Session], carrier: str, today: date) -> list[PodTarget]:
    """Shipments to look up on ``carrier``: named for it, or for no known carrier.
    A POD the carrier had not imaged yet is looked up again on a later business
    day than ``today``'s check.

    Reads the store only, so the pipeline can ask it before starting a job."""
    with db() as s:
        pointing = _pointing(s, carrier, without_pod=True)
        recent = set(
            s.execute(
                select(Shipment.pro_number).where(
                    Shipment.carrier == carrier,
                    Shipment.pod_status == PodStatus.not_available,
                    Shipment.pod_checked_on >= today,
                )
            ).scalars()
        )
    targets: dict[tuple[str | None, str | None], PodTarget] = {}
    for d_id, pro, bol in pointing:
        if pro and pro in recent:
            continue
        key = (pro or None, None if pro else bol)
        targets.setdefault(key, PodTarget(pro or None, bol or None)).deduction_ids.append(d_id)
    return list(targets.values())


def deductions_on_shipment(db: sessionmaker[Session], carrier: str, pro: str) -> list[int]:
    """The deductions that point at ``carrier``'s shipment ``pro`` by any of
    the ways ``pod_targets`` follows (the PRO shown, one read from the backup,
    the ERP shipment of a fine's invoice), with a POD linked already or not: an
    analyst's (or the matcher's) lookup of that PRO links what it fetches to
    each of them, as the ``pods`` pass would have. Linked to the shipment only,
    a fine's bill of lading stayed off its claim: the shipment was checked for
    the day, so the pass that links it skipped it."""
    with db() as s:
        return [d_id for d_id, p, _ in _pointing(s, carrier, without_pod=False) if p == pro]


def _pointing(
    s: Session, carrier: str, *, without_pod: bool
) -> list[tuple[int, str | None, str | None]]:
    """(deduction, PRO, BOL) for each deduction about delivery that points at a
    shipment ``carrier`` may hold (it names that carrier or none), by id."""
    query = (
        select(
            Deduction.id,
            Deduction.carrier,
            Deduction.pro_number,
            Deduction.bol_number,
            Deduction.category,
            Deduction.invoice_number,
        )
        .where(or_(Deduction.category.in_(POD_CATEGORIES), Deduction.category.is_(None)))
        .order_by(Deduction.id)
    )
    if without_pod:
        pod_linked = select(DocumentLink.deduction_id).where(
            DocumentLink.role == "pod", DocumentLink.deduction_id.is_not(None)
        )
        query = query.where(Deduction.id.not_in(pod_linked))
    rows = s.execute(query).all()
    extracted = _extracted_numbers(s, [r.id for r in rows if not (r.pro_number or r.bol_number)])
    shipped = _erp_numbers(
        s,
        {
            r.invoice_number
            for r in rows
            if r.category in (Category.compliance_fine, None)
            and r.invoice_number
            and not (r.pro_number or r.bol_number or r.id in extracted)
        },
    )
    out: list[tuple[int, str | None, str | None]] = []
    for d_id, named, pro, bol, category, invoice in rows:
        if not (pro or bol):
            pro, bol = extracted.get(d_id, (None, None))
        if not (pro or bol) and category in (Category.compliance_fine, None) and invoice in shipped:
            # an on-time fine names no shipment: the ERP's shipment of its invoice
            # does. So for a claim whose portal gives no category: the matcher may
            # find it a fine from its backup, and needs the POD in the same pass.
            pro, bol, named = shipped[invoice]
        if not (pro or bol) or carrier_of(named) not in (None, carrier):
            continue
        out.append((d_id, pro or None, bol or None))
    return out


def _erp_numbers(s: Session, invoices: set[str]) -> dict[str, tuple[str | None, str | None, str]]:
    """invoice number -> (PRO, BOL, carrier) of the ERP shipment that carried it."""
    if not invoices:
        return {}
    found: dict[str, tuple[str | None, str | None, str]] = {}
    for invoice, pro, bol, carrier in s.execute(
        select(
            ErpShipment.invoice_number,
            ErpShipment.pro_number,
            ErpShipment.bol_number,
            ErpShipment.carrier,
        ).where(ErpShipment.invoice_number.in_(sorted(invoices)))
    ):
        if pro or bol:
            found.setdefault(invoice, (pro or None, bol or None, carrier or ""))
    return found


def _extracted_numbers(
    s: Session, deduction_ids: list[int]
) -> dict[int, tuple[str | None, str | None]]:
    """PRO/BOL numbers read from backup documents (store extraction fields)."""
    if not deduction_ids:
        return {}
    found: dict[int, tuple[str | None, str | None]] = defaultdict(lambda: (None, None))
    for d_id, fields in plain_rows(
        s.execute(
            select(DocumentLink.deduction_id, Document.extracted_fields)
            .join(Document, Document.id == DocumentLink.document_id)
            .where(DocumentLink.deduction_id.in_(deduction_ids), DocumentLink.role == "backup")
        )
    ):
        pro, bol = _field(fields, "pro_number"), _field(fields, "bol_number")
        if d_id is not None and (pro or bol):
            found[d_id] = (pro, bol)
    return dict(found)


def _field(fields: dict[str, Any] | None, name: str) -> str | None:
    value = (fields or {}).get(name)
    if isinstance(value, dict):
        value = value.get("value")
    return str(value).strip() or None if value else None


async def pods(jc: JobContext, targets: list[PodTarget] | None = None) -> None:
    """Look up each target on the carrier; one target's trouble (a CAPTCHA, a
    record the carrier shows that fails validation) is that target's alone:
    it becomes a needs-human item or a quarantine row, and the next goes on."""
    adapter = jc.adapter
    assert isinstance(adapter, CarrierAdapter)
    today = jc.services.today()
    if targets is None:
        targets = await asyncio.to_thread(pod_targets, jc.db, jc.job.portal, today)
    for t in targets:
        await jc.renew_worn_pages()
        lookup = partial(
            adapter.fetch_shipment_documents,
            jc.session,
            pro_number=t.pro,
            bol_number=None if t.pro else t.bol,
        )
        try:
            found = await jc.call(lookup, what="fetch_shipment_documents")
        except CaptchaRequired as exc:
            if not await jc.ask_human(t.ref, exc):  # a person may answer it in the app
                jc.human(t.ref, exc)
                continue
            try:
                found = await jc.call(lookup, what="fetch_shipment_documents")
            except CaptchaRequired as again:
                jc.human(t.ref, again)
                continue
            await asyncio.to_thread(jc.passed_human_check, t.ref)
        if isinstance(found, RecordInvalid):  # this shipment's record alone
            await asyncio.to_thread(quarantine, jc, found)
            continue
        if found is None:
            jc.counts["pods.unknown_shipment"] += 1
            continue
        await asyncio.to_thread(_keep, jc, t, found, today)


def _keep(jc: JobContext, t: PodTarget, found: ShipmentDocuments, today: date) -> None:
    """The shipment, its documents and its POD status, in the store (off the loop)."""
    with transaction(jc.db) as s:
        shipment_id = shipments_repo.upsert(s, found.shipment, run_id=jc.run_id).id
    for doc in found.documents:
        store_fetched(
            jc,
            doc,
            source_ref=f"{jc.job.portal}:{doc.role}:{found.shipment.pro_number}",
            deduction_ids=t.deduction_ids,
            shipment_id=shipment_id,
        )
    if found.pod_available and any(d.role == "pod" for d in found.documents):
        jc.counts["pods.fetched"] += 1
        status = PodStatus.fetched
    else:
        jc.counts["pods.not_yet_available"] += 1
        status = PodStatus.not_available
    with transaction(jc.db) as s:
        s.execute(
            table_of(Shipment)
            .update()
            .where(Shipment.id == shipment_id)
            .values(pod_status=status, pod_checked_on=today)
        )
